"""The test connector: inject messages as any user, read back what the robot sent.

Users and channels come from its protocol configuration (`ProtocolConfig: {test: {Users: [...],
Channels: [...]}}`); with no users configured it takes the robot's `UserRoster`, and with no
channels configured it accepts any channel name.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from burrow.connectors.base import Connector, ConnectorHost, IncomingMessage, OutgoingMessage
from burrow.constants import RetVal


@dataclass(frozen=True)
class SentMessage:
    """What the robot sent, as the test connector saw it."""

    user: str  # "" = to the channel as a whole
    channel: str  # "" = a direct message
    threaded: bool
    thread_id: str
    text: str
    format: int
    hidden: bool


class TestConnector(Connector):
    """An in-process transport for tests and transcripts."""

    protocol = "test"
    supports_hidden = True
    __test__ = False  # not a pytest test class

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._host: ConnectorHost | None = None
        self._ids = itertools.count(1)
        self._sent: asyncio.Queue[SentMessage] = asyncio.Queue()
        self.sent: list[SentMessage] = []
        self._stopped = asyncio.Event()
        self._ready = asyncio.Event()

    def _users(self) -> list[str]:
        configured = self.config.get("Users")
        if configured:
            return [u["UserName"] if isinstance(u, dict) else str(u) for u in configured]
        if self._host is None:
            return []
        return [u.name for u in self._host.identity.users]

    def _channels(self) -> list[str] | None:
        channels = self.config.get("Channels")
        return [str(c) for c in channels] if channels else None

    async def run(self, host: ConnectorHost) -> None:
        """Wait until stopped; messages arrive through `inject`."""
        self._host = host
        self._ready.set()
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop the connector."""
        self._stopped.set()

    async def inject(
        self,
        user: str,
        text: str,
        channel: str = "",
        *,
        threaded: bool = False,
        thread_id: str = "",
        hidden: bool = False,
    ) -> IncomingMessage:
        """Deliver `text` from `user` in `channel` ("" = DM); return the message as heard."""
        await self._ready.wait()
        assert self._host is not None
        users = self._users()
        if users and user not in users:
            raise ValueError(f"test connector: unknown user {user!r}; known: {users}")
        channels = self._channels()
        if channel and channels is not None and channel not in channels:
            raise ValueError(f"test connector: unknown channel {channel!r}; known: {channels}")
        message_id = f"{next(self._ids):04x}"
        message = IncomingMessage(
            protocol=self.protocol,
            user=user,
            user_id=f"u-{user}",
            text=text,
            channel=channel,
            channel_id=f"c-{channel}" if channel else "",
            message_id=message_id,
            thread_id=thread_id or message_id if threaded else message_id,
            threaded=threaded and bool(channel),
            hidden=hidden,
        )
        await self._host.incoming(message)
        return message

    async def send(self, message: OutgoingMessage) -> RetVal:
        """Record what the robot sent."""
        users = self._users()
        if message.user and users and message.user not in users:
            return RetVal.UserNotFound
        channels = self._channels()
        if message.channel and channels is not None and message.channel not in channels:
            return RetVal.ChannelNotFound
        sent = SentMessage(
            user=message.user,
            channel=message.channel,
            threaded=message.threaded and bool(message.channel),
            thread_id=message.thread_id if message.threaded else "",
            text=message.text,
            format=int(message.format),
            hidden=message.hidden,
        )
        self.sent.append(sent)
        self._sent.put_nowait(sent)
        return RetVal.Ok

    async def next_sent(self, timeout: float = 5.0) -> SentMessage | None:
        """The next message the robot sent, or None if none came within `timeout`."""
        try:
            return await asyncio.wait_for(self._sent.get(), timeout)
        except TimeoutError:
            return None

    def drain(self) -> list[SentMessage]:
        """Everything sent and not yet read."""
        out = []
        while not self._sent.empty():
            out.append(self._sent.get_nowait())
        return out
