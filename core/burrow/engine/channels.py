"""`JoinChannels`: the channels the robot asks its connectors to join when it starts.

As upstream (https://github.com/lnxjedi/gopherbot/blob/main/bot/bot_process.go, `run`): the
robot.yaml's `JoinChannels`, then `DefaultChannels`, then `DefaultJobChannel`, each once, are
given to every connector that can join channels. Joining is a connector's own business: one
that implements `ChannelJoiner` gets each channel once it runs (and may wait for its own
connection first); the others (the terminal and test connectors, whose channels need no
joining) are left alone. A channel that cannot be joined is logged, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from burrow.constants import RetVal
from burrow.engine.config import RobotConfig

__all__ = ["ChannelJoiner", "channels_to_join", "join_channels"]

log = logging.getLogger(__name__)


@runtime_checkable
class ChannelJoiner(Protocol):
    """A connector that can join channels (upstream's Connector.JoinChannel)."""

    async def join_channel(self, channel: str) -> RetVal:
        """Join `channel`; Ok, or why not (FailedChannelJoin, ChannelNotFound...)."""


def channels_to_join(config: RobotConfig) -> list[str]:
    """`JoinChannels`, `DefaultChannels` and `DefaultJobChannel`, in that order, each once."""
    wanted = [*config.join_channels, *config.default_channels, config.default_job_channel]
    return [channel for channel in dict.fromkeys(wanted) if channel]


async def join_channels(connector: object, channels: Sequence[str]) -> None:
    """Ask `connector` to join each channel, if it can join channels."""
    if not isinstance(connector, ChannelJoiner):
        return
    for channel in channels:
        try:
            ret = await connector.join_channel(channel)
        except Exception:  # a connector's failure must not stop the robot
            log.exception("joining channel %r failed", channel)
            continue
        if ret != RetVal.Ok:
            why = RetVal(ret).name if ret in RetVal._value2member_map_ else str(ret)
            log.warning("could not join channel %r: %s", channel, why)
