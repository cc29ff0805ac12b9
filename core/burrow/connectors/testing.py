"""The test connector: inject messages as any user, read back what the robot sent.

Users and channels come from its protocol configuration (`ProtocolConfig: {test: {Users: [...],
Channels: [...]}}`); with no users configured it takes the robot's `UserRoster`, and with no
channels configured it accepts any channel name. A user is a name or a mapping with
`UserName` (or Gopherbot's `Name`) and optional attributes (`Email`, `InternalID`, `FullName`,
`FirstName`, `LastName`, `Phone`) that `GetUserAttribute` falls back on.

It records the events of the messages it carried (burrow.engine.events), and it has two sets of
conventions (`Conventions` in its configuration, or the `conventions` argument):

- `burrow` (the default): a message's id is a counter (`0001`, `0002`, ... in hex) unless
  given; a threaded message belongs to the thread it names, else to a thread of its own; what
  the robot sends is recorded as it was sent.
- `gopherbot`, the conventions of Gopherbot's own test connector
  (https://github.com/lnxjedi/gopherbot/blob/main/connectors/test/connector.go), so that its
  suites run as written: every message is in the one thread `0xDEADBEEF` (threaded or not), a
  user's id is their `InternalID`, a channel's id is `#<name>`, and what the robot sends is
  shown as that connector shows it: `Fixed` text in upper case, `Variable` in lower case, and a
  reply to a hidden command in parentheses.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from burrow.connectors.base import Connector, ConnectorHost, IncomingMessage, OutgoingMessage
from burrow.constants import MessageFormat, RetVal
from burrow.engine.events import EventRecord

Conventions = Literal["burrow", "gopherbot"]
CONVENTIONS: tuple[Conventions, ...] = ("burrow", "gopherbot")
GOPHERBOT_THREAD_ID = "0xDEADBEEF"  # Gopherbot's test connector puts every message in it

# GetUserAttribute keys (lower case) → the keys of a configured user that answer them.
_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "email": ("Email",),
    "mail": ("Email",),
    "internalid": ("InternalID", "UserID"),
    "id": ("InternalID", "UserID"),
    "protocolid": ("InternalID", "UserID"),
    "fullname": ("FullName",),
    "realname": ("FullName",),
    "firstname": ("FirstName",),
    "givenname": ("FirstName",),
    "lastname": ("LastName",),
    "surname": ("LastName",),
    "phone": ("Phone",),
}


@dataclass(frozen=True)
class SentMessage:
    """What the robot sent, as the test connector shows it."""

    user: str  # "" = to the channel as a whole
    channel: str  # "" = a direct message
    threaded: bool
    thread_id: str
    text: str  # as shown: under `gopherbot` conventions, cased by format and hidden in (...)
    format: int
    hidden: bool


class TestConnector(Connector):
    """An in-process transport for tests and transcripts."""

    protocol = "test"
    __test__ = False  # not a pytest test class

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        conventions: Conventions | None = None,
        hidden_commands: bool | None = None,
    ) -> None:
        super().__init__(config)
        chosen = conventions or config.get("Conventions") or "burrow"
        if chosen not in CONVENTIONS:
            raise ValueError(
                f"test connector: Conventions must be one of {', '.join(CONVENTIONS)}, "
                f"not {chosen!r}"
            )
        self.conventions: Conventions = chosen
        hidden = config.get("HiddenCommands", True) if hidden_commands is None else hidden_commands
        self.supports_hidden = bool(hidden)
        self._host: ConnectorHost | None = None
        self._ids = itertools.count(1)
        self._sent: asyncio.Queue[SentMessage] = asyncio.Queue()
        self.sent: list[SentMessage] = []
        self.events: list[EventRecord] = []  # every event recorded, in order
        self._unread_events: list[EventRecord] = []
        self._stopped = asyncio.Event()
        self._ready = asyncio.Event()

    # -- who is here ----------------------------------------------------------------------

    def _configured_users(self) -> list[Mapping[str, Any]]:
        configured = self.config.get("Users") or []
        return [u if isinstance(u, Mapping) else {"UserName": str(u)} for u in configured]

    @staticmethod
    def _name_of(user: Mapping[str, Any]) -> str:
        return str(user.get("UserName") or user.get("Name") or "")

    def _users(self) -> list[str]:
        configured = self._configured_users()
        if configured:
            return [self._name_of(u) for u in configured]
        if self._host is None:
            return []
        return [u.name for u in self._host.identity.users]

    def _channels(self) -> list[str] | None:
        channels = self.config.get("Channels")
        return [str(c) for c in channels] if channels else None

    def _user_id(self, user: str) -> str:
        for entry in self._configured_users():
            if self._name_of(entry) == user:
                found = entry.get("InternalID") or entry.get("UserID")
                if found:
                    return str(found)
        if self._host is not None:
            for info in self._host.identity.users:
                if info.name == user and info.user_id:
                    return info.user_id
        return f"u-{user}"

    def user_attribute(self, user: str, attribute: str) -> str | None:
        """A configured user's attribute (`Email`, `FirstName`, ...), like Gopherbot's."""
        keys = _ATTRIBUTES.get(attribute.lower().replace(" ", ""), ())
        for entry in self._configured_users():
            if self._name_of(entry).lower() == user.lower():
                for key in keys:
                    if entry.get(key):
                        return str(entry[key])
        return None

    # -- running --------------------------------------------------------------------------

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
        message_id: str = "",
        hidden: bool = False,
    ) -> IncomingMessage:
        """Deliver `text` from `user` in `channel` ("" = DM); return the message as heard.

        Under `burrow` conventions a `thread_id` puts the message in that thread (it implies
        `threaded`); a threaded message without one starts a thread of its own.
        """
        await self._ready.wait()
        assert self._host is not None
        users = self._users()
        if users and user not in users:
            raise ValueError(f"test connector: unknown user {user!r}; known: {users}")
        channels = self._channels()
        if channel and channels is not None and channel not in channels:
            raise ValueError(f"test connector: unknown channel {channel!r}; known: {channels}")
        message_id = message_id or f"{next(self._ids):04x}"
        if self.conventions == "gopherbot":
            thread = GOPHERBOT_THREAD_ID
            user_id, channel_id = self._user_id(user), f"#{channel}" if channel else ""
        else:
            threaded = threaded or bool(thread_id)
            thread = (thread_id or message_id) if threaded else message_id
            user_id, channel_id = f"u-{user}", f"c-{channel}" if channel else ""
        message = IncomingMessage(
            protocol=self.protocol,
            user=user,
            user_id=user_id,
            text=text,
            channel=channel,
            channel_id=channel_id,
            message_id=message_id,
            thread_id=thread,
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
            text=self._shown(message),
            format=int(message.format),
            hidden=message.hidden,
        )
        self.sent.append(sent)
        self._sent.put_nowait(sent)
        return RetVal.Ok

    def _shown(self, message: OutgoingMessage) -> str:
        if self.conventions != "gopherbot":
            return message.text
        text = message.text
        if message.format == MessageFormat.Fixed:
            text = text.upper()
        elif message.format == MessageFormat.Variable:
            text = text.lower()
        return f"({text})" if message.hidden else text

    def record_event(self, record: EventRecord) -> None:
        """Keep an event of a message this connector carried (burrow.engine.events)."""
        self.events.append(record)
        self._unread_events.append(record)

    # -- reading back ---------------------------------------------------------------------

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

    def drain_events(self) -> list[EventRecord]:
        """The events recorded since the last call."""
        out, self._unread_events = self._unread_events, []
        return out
