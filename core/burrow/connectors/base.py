"""The connector contract: how a chat transport hands messages to the robot and sends replies.

Connectors translate transport only. They never decide policy: whether a message is a DM,
hidden or the robot's own is the connector's word (it alone can know), and everything else —
addressing, matching, authorization — is the engine's. A connector preserves the order of
the messages it receives.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from burrow.constants import MessageFormat, RetVal


@dataclass(frozen=True)
class IncomingMessage:
    """One message heard by a connector."""

    protocol: str
    user: str
    text: str
    channel: str = ""  # "" = a direct message
    user_id: str = ""
    channel_id: str = ""
    message_id: str = ""
    thread_id: str = ""  # the thread it belongs to; for an unthreaded message its own id
    threaded: bool = False
    hidden: bool = False
    self_message: bool = False  # sent by the robot itself
    bot_message: bool = False  # sent by another bot
    validated_user: bool = False  # the transport proved the user's identity

    @property
    def direct(self) -> bool:
        """True for a direct (private) message."""
        return self.channel == ""

    def answer(self, text: str, *, addressed: bool = True) -> OutgoingMessage:
        """A message back where this one came from: its channel and thread, or the DM.

        `addressed` directs it at the sender (Reply); otherwise it goes to the channel as a
        whole (Say). A direct message is always answered to its sender.
        """
        return OutgoingMessage(
            text=text,
            channel=self.channel,
            user=self.user if addressed or not self.channel else "",
            thread_id=self.thread_id,
            threaded=self.threaded,
            hidden=self.hidden,
        )


@dataclass(frozen=True)
class OutgoingMessage:
    """One message the robot sends."""

    text: str
    channel: str = ""  # "" = a direct message to `user`
    user: str = ""  # "" = to the channel as a whole; else addressed to this user
    thread_id: str = ""
    threaded: bool = False
    format: MessageFormat = MessageFormat.Raw
    hidden: bool = False  # a reply to a hidden command; shown only to `user` where possible


@dataclass(frozen=True)
class UserInfo:
    """A user as the robot knows it: the roster entry or the connector's own directory."""

    name: str
    user_id: str = ""
    email: str = ""
    full_name: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    bot_user: bool = False


@dataclass(frozen=True)
class BotIdentity:
    """Who the robot is, as connectors need to know it."""

    name: str
    alias: str
    full_name: str = ""
    email: str = ""
    users: Sequence[UserInfo] = field(default_factory=tuple)


class ConnectorHost(Protocol):
    """What the robot offers a connector."""

    async def incoming(self, message: IncomingMessage) -> None:
        """Hand one heard message to the robot; returns once it is queued, not handled."""

    @property
    def identity(self) -> BotIdentity:
        """The robot's name, alias and roster."""


class ConnectorError(Exception):
    """Raised by `Connector.run` when the connector cannot go on (refused credentials...).

    Its message says why and what to check, for the operator: the robot logs it without a
    traceback, stops, and `burrow run` exits 1.
    """


class Connector(abc.ABC):
    """A chat transport. Subclasses set `protocol` and implement the abstract methods."""

    protocol: str = ""
    supports_hidden: bool = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    @abc.abstractmethod
    async def run(self, host: ConnectorHost) -> None:
        """Deliver messages to `host.incoming` until stopped or the transport ends."""

    @abc.abstractmethod
    async def send(self, message: OutgoingMessage) -> RetVal:
        """Send one message; return Ok, or why it failed (UserNotFound, ChannelNotFound...)."""

    async def stop(self) -> None:  # noqa: B027 - optional: most connectors stop with `run`
        """Stop delivering messages; `run` should return soon after."""

    def user_attribute(self, user: str, attribute: str) -> str | None:
        """The transport's own value of a user attribute, when the roster lacks it."""
        return None


ConnectorFactory = Callable[[Mapping[str, Any]], Connector]
RegisterConnector = Callable[[str, ConnectorFactory], None]
IncomingHandler = Callable[[IncomingMessage], Awaitable[None]]
