"""The Matrix connector: a robot account on a homeserver, through mautrix's client API.

Gopherbot's concepts, mapped (docs/matrix.md):
- a channel is a room: its configured `Name`, else its alias's localpart (`#general:hs` →
  `general`), else its `m.room.name`, else its id; a direct message is a direct room (one the
  robot was invited to with `is_direct`, or listed in its `m.direct` account data);
- a user is a Matrix user: the roster's `UserName` whose `UserID` is the MXID, else the
  localpart for a user of the robot's own server, else the whole MXID;
- a thread is an `m.thread` relation, the root event's id being the thread id; an unthreaded
  message's thread id is its own event id (so a reply in a thread starts one under it).

The sync position (`next_batch`) is saved in the state folder after the messages of a batch
were handed to the robot, so after a lost connection or a restart the robot resumes where it
was: nothing sent meanwhile is lost and nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import ClientResponse, ClientSession
from mautrix.api import HTTPAPI, Method
from mautrix.api import Path as MatrixPath
from mautrix.client import ClientAPI
from mautrix.errors import MatrixConnectionError, MatrixRequestError, make_request_error
from mautrix.types import JSON, DeviceID, RoomAlias, RoomID, UserID
from yarl import URL

from burrow.connectors.base import (
    Connector,
    ConnectorError,
    ConnectorHost,
    IncomingMessage,
    OutgoingMessage,
)
from burrow.constants import RetVal
from burrow_matrix.formatting import contents
from burrow_matrix.settings import MatrixSettings, parse_settings

log = logging.getLogger("burrow_matrix")

SYNC_TIMEOUT_MS = 30000
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
RATE_LIMIT_MAX_WAITS = 20  # a send waits out at most this many 429s before it gives up
SEEN_EVENTS = 10000  # event ids remembered, so a batch seen twice is not answered twice
SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"types": ["m.direct"]},
    "room": {
        "timeline": {"limit": 100},
        "state": {"lazy_load_members": True},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}


class LoginRefused(Exception):
    """The credentials work but are not the configured robot's."""


class RateLimited(Exception):
    """The homeserver answered 429; `retry_after` is how many seconds it asked to wait."""

    def __init__(self, retry_after: float, url: str) -> None:
        super().__init__(f"rate limited by the homeserver ({url}); retry after {retry_after:.2f} s")
        self.retry_after = retry_after


def _retry_after(header: str | None, body: Any) -> float:
    if isinstance(body, dict) and isinstance(body.get("retry_after_ms"), (int, float)):
        return max(0.0, float(body["retry_after_ms"]) / 1000)
    if header:
        with contextlib.suppress(ValueError):
            return max(0.0, float(header))
    return 1.0


class _HTTPAPI(HTTPAPI):
    """mautrix's HTTP layer, keeping what a 429 says about when to retry (mautrix drops it)."""

    async def _send(
        self,
        method: Method,
        url: URL,
        content: Any,
        query_params: dict[str, str],
        headers: dict[str, str],
    ) -> tuple[JSON, ClientResponse]:
        request = self.session.request(
            str(method), url, data=content, params=query_params, headers=headers
        )
        async with request as response:
            if response.status == 429:
                body: Any = None
                with contextlib.suppress(ValueError, aiohttp.ContentTypeError):
                    body = await response.json()
                raise RateLimited(_retry_after(response.headers.get("Retry-After"), body), url.path)
            if response.status < 200 or response.status >= 300:
                errcode = message = None
                with contextlib.suppress(ValueError, aiohttp.ContentTypeError, KeyError):
                    data = await response.json()
                    errcode, message = data["errcode"], data["error"]
                raise make_request_error(
                    http_status=response.status,
                    text=await response.text(),
                    errcode=errcode,
                    message=message,
                )
            return await response.json(), response


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one (senders control event contents)."""
    return value if isinstance(value, Mapping) else {}


def _describe(error: BaseException) -> str:
    """A homeserver's refusal with its status and Matrix error code, as it said it."""
    if isinstance(error, MatrixRequestError):
        code = getattr(error, "errcode", None) or ""
        said = getattr(error, "message", None) or str(error)
        return f"HTTP {getattr(error, 'http_status', '?')} {code}: {said}".replace("  ", " ")
    return str(error)


def _transient(error: BaseException) -> bool:
    """Worth retrying: the server is away or overloaded, not refusing the request."""
    if isinstance(error, (MatrixConnectionError, aiohttp.ClientError, OSError, TimeoutError)):
        return True
    return isinstance(error, MatrixRequestError) and getattr(error, "http_status", 0) >= 500


class MatrixConnector(Connector):
    """`PrimaryProtocol: matrix`."""

    protocol = "matrix"
    supports_hidden = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.settings: MatrixSettings = parse_settings(config)
        self._host: ConnectorHost | None = None
        self._session: ClientSession | None = None
        self._client: ClientAPI | None = None
        self._stopping = asyncio.Event()
        self._ready = asyncio.Event()
        self._started_at = time.time()
        self._cutoff = self._started_at
        self._last_seen: dict[str, float] = {}  # room id → time of the newest message heard
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._configured: dict[str, str] = {}  # room id → configured channel name
        self._aliases: dict[str, str] = {}  # room id → canonical alias
        self._titles: dict[str, str] = {}  # room id → m.room.name
        self._joined: set[str] = set()
        self._members: dict[str, set[str]] = {}  # room id → joined MXIDs
        self._direct: dict[str, str] = {}  # room id → the other user's MXID
        self._display: dict[str, str] = {}  # MXID → display name
        self._names: dict[str, str] = {}  # username (lower) → MXID, for users heard
        self._own_names: tuple[str, ...] = ()
        self._txn = f"burrow{int(time.time() * 1000)}"
        self._txn_count = 0

    # -- state folder ----------------------------------------------------------------------

    @property
    def _state_path(self) -> Path | None:
        folder = self.settings.state_folder
        if not folder:
            return None
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.settings.user_id)
        return Path(folder) / "matrix" / f"{safe}.json"

    def _load_state(self) -> dict[str, Any]:
        path = self._state_path
        if path is None or not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error(
                "matrix: cannot read %s (%s); starting without a saved sync position", path, exc
            )
            return {}
        return data if isinstance(data, dict) else {}

    def _save_state(self, next_batch: str) -> None:
        path = self._state_path
        if path is None:
            return
        data = {
            "user_id": self.settings.user_id,
            "next_batch": next_batch,
            "device_id": self._client.device_id if self._client else "",
            "direct": self._direct,
            "last_seen": self._last_seen,
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            log.error("matrix: cannot save the sync position in %s: %s", path, exc)

    # -- requests --------------------------------------------------------------------------

    @property
    def client(self) -> ClientAPI:
        if self._client is None:
            raise RuntimeError("the Matrix connector is not running")
        return self._client

    async def _request(
        self,
        method: Method,
        path: Any,
        content: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        return await self.client.api.request(method, path, content, query_params=query)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def _patiently(self, what: str, call: Any) -> Any:
        """Retry `call()` while the server is away (backoff) or limiting (retry-after)."""
        delay = BACKOFF_FIRST
        while True:
            try:
                return await call()
            except RateLimited as exc:
                log.warning("matrix: %s: %s", what, exc)
                wait = exc.retry_after
            except Exception as exc:
                if not _transient(exc):
                    raise
                log.warning("matrix: %s failed (%s); retrying in %.1f s", what, exc, delay)
                wait = delay
                delay = min(BACKOFF_MAX, delay * 2)
            if await self._sleep(wait * (1 + random.random() * 0.1)):
                raise asyncio.CancelledError

    # -- start -----------------------------------------------------------------------------

    async def _login(self) -> None:
        settings = self.settings
        saved = self._load_state()
        device = settings.device_id or str(saved.get("device_id") or "")
        # A long-poll sync answers within SYNC_TIMEOUT_MS; a server that holds a request much
        # longer is gone: the request fails and is retried like any lost connection.
        self._session = ClientSession(
            timeout=aiohttp.ClientTimeout(total=SYNC_TIMEOUT_MS / 1000 + 30, connect=10)
        )
        api = _HTTPAPI(
            settings.homeserver,
            settings.access_token,
            client_session=self._session,
            default_retry_count=0,
            log=logging.getLogger("burrow_matrix.http"),  # type: ignore[arg-type]
        )
        self._client = ClientAPI(UserID(settings.user_id), api=api)
        if settings.access_token:
            whoami = await self._patiently("whoami", self.client.whoami)
            if whoami.user_id != settings.user_id:
                raise LoginRefused(
                    f"ProtocolConfig.matrix.UserID is {settings.user_id}, but the access token "
                    f"belongs to {whoami.user_id}"
                )
            self.client.device_id = DeviceID(whoami.device_id or device)
        else:
            response = await self._patiently(
                "login",
                lambda: self.client.login(
                    identifier=UserID(settings.user_id),
                    password=settings.password,
                    device_id=device or None,
                    device_name="burrow",
                ),
            )
            self.client.device_id = response.device_id
        for room, user in _mapping(saved.get("direct")).items():
            self._direct[str(room)] = str(user)
        for room, stamp in _mapping(saved.get("last_seen")).items():
            if isinstance(stamp, (int, float)):
                self._last_seen[str(room)] = float(stamp)

        shown = settings.display_name
        if shown:
            with contextlib.suppress(MatrixRequestError, RateLimited):
                await self.client.set_displayname(shown)
        else:
            with contextlib.suppress(MatrixRequestError, RateLimited):
                shown = await self.client.get_displayname(UserID(settings.user_id)) or ""
        names = {settings.localpart, settings.user_id, shown}
        self._own_names = tuple(sorted((n for n in names if n), key=len, reverse=True))

    async def _join_configured(self) -> None:
        for room in self.settings.rooms:
            try:
                room_id = await self._patiently(
                    f"joining {room.room}",
                    lambda r=room.room: self.client.join_room(r, max_retries=0),
                )
            except MatrixRequestError as exc:
                log.error(
                    "matrix: cannot join %s (ProtocolConfig.matrix.Rooms): %s — invite the "
                    "robot or check the alias",
                    room.room,
                    exc,
                )
                continue
            self._configured[str(room_id)] = room.name
            self._joined.add(str(room_id))

    # -- running ---------------------------------------------------------------------------

    async def run(self, host: ConnectorHost) -> None:
        self._host = host
        try:
            try:
                await self._login()
            except (MatrixRequestError, LoginRefused) as exc:
                # Not a passing failure: the robot cannot chat; it stops, saying why.
                raise ConnectorError(
                    f"{self.settings.user_id} cannot log in to {self.settings.homeserver}: "
                    f"{_describe(exc)} — check the access token or password "
                    "(docs/matrix.md, 'Setting up a robot account')"
                ) from None
            await self._join_configured()
            saved = self._load_state()
            token = (
                str(saved.get("next_batch") or "")
                if saved.get("user_id") == self.settings.user_id
                else ""
            )
            self._ready.set()
            await self._sync_forever(token)
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise
        finally:
            if self._session is not None:
                await self._session.close()
            self._client = None  # what is asked from now on fails at once
            self._ready.set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def _sync_forever(self, token: str) -> None:
        if token:
            # Resuming: what was said while the robot was away is answered, up to CatchUp old.
            self._cutoff = self._started_at - self.settings.catch_up
        else:
            log.info("matrix: no saved sync position; messages from before the start are ignored")
            self._cutoff = self._started_at
        sync_filter = json.loads(json.dumps(SYNC_FILTER))
        sync_filter["room"]["timeline"]["limit"] = self.settings.timeline_limit
        filter_json = json.dumps(sync_filter)
        first = True  # the first sync of a run returns at once: catch up, then listen
        while not self._stopping.is_set():
            query = {"timeout": "0" if first else str(SYNC_TIMEOUT_MS), "filter": filter_json}
            if token:
                query["since"] = token
            sync = asyncio.ensure_future(
                self._patiently(
                    "sync",
                    lambda q=dict(query): self._request(Method.GET, MatrixPath.v3.sync, query=q),
                )
            )
            stopping = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({sync, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if sync not in done:
                sync.cancel()
                with contextlib.suppress(BaseException):
                    await sync
                return
            stopping.cancel()
            try:
                response = sync.result()
            except asyncio.CancelledError:
                return
            except MatrixRequestError as exc:
                log.error(
                    "matrix: the homeserver refused to sync: %s; the connector stops",
                    _describe(exc),
                )
                return
            await self._handle_sync(response)
            token = str(response.get("next_batch") or token)
            self._save_state(token)
            if first:
                log.info(
                    "matrix: listening as %s on %s", self.settings.user_id, self.settings.homeserver
                )
                first = False

    async def stop(self) -> None:
        self._stopping.set()

    # -- one sync batch --------------------------------------------------------------------

    async def _handle_sync(self, response: Mapping[str, Any]) -> None:
        for event in (response.get("account_data") or {}).get("events") or []:
            if event.get("type") == "m.direct":
                for user, rooms in (event.get("content") or {}).items():
                    for room in rooms or []:
                        self._direct.setdefault(str(room), str(user))
        rooms = response.get("rooms") or {}
        for room_id, room in (rooms.get("invite") or {}).items():
            try:
                await self._invited(str(room_id), room)
            except Exception as exc:  # noqa: BLE001 - the inviter wrote that state: skip it
                log.warning("matrix: ignoring a malformed invitation to %s: %r", room_id, exc)
        for room_id in rooms.get("leave") or {}:
            self._joined.discard(str(room_id))
        for room_id, room in (rooms.get("join") or {}).items():
            room_id = str(room_id)
            self._joined.add(room_id)
            for event in (room.get("state") or {}).get("events") or []:
                await self._event(room_id, event)
            timeline = room.get("timeline") or {}
            if timeline.get("limited") and timeline.get("prev_batch"):
                # More happened than one batch holds (a burst, or the robot was away): page
                # back for it, as far as the newest message already heard.
                for event in await self._missed(room_id, str(timeline["prev_batch"])):
                    await self._event(room_id, event)
            for event in timeline.get("events") or []:
                await self._event(room_id, event)

    async def _event(self, room_id: str, event: Any) -> None:
        """One timeline event; a malformed one (anyone can send any JSON) is logged, skipped."""
        try:
            if not isinstance(event, Mapping):
                raise TypeError(f"an event is a {type(event).__name__}")
            if "state_key" in event:
                self._state_event(room_id, event)
            else:
                await self._timeline_event(room_id, event)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the robot
            what = event.get("event_id") if isinstance(event, Mapping) else None
            log.warning("matrix: ignoring a malformed event %s in %s: %r", what, room_id, exc)

    async def _missed(self, room_id: str, before: str) -> list[Mapping[str, Any]]:
        """The messages of a room between the last one handled and `before`, oldest first."""
        bound = max(self._last_seen.get(room_id, 0.0), self._cutoff)
        found: list[Mapping[str, Any]] = []
        token = before
        path = MatrixPath.v3.rooms[room_id].messages
        query = {"dir": "b", "limit": "100", "filter": json.dumps({"types": ["m.room.message"]})}
        for _ in range(50):  # at most 5,000 messages
            try:
                page = await self._patiently(
                    "paging back",
                    lambda t=token: self._request(Method.GET, path, query={**query, "from": t}),
                )
            except MatrixRequestError as exc:
                log.error("matrix: cannot page back in %s for missed messages: %s", room_id, exc)
                break
            chunk = page.get("chunk") or []
            older = [e for e in chunk if float(e.get("origin_server_ts") or 0) / 1000 > bound]
            found.extend(older)
            if len(older) < len(chunk) or not page.get("end") or not chunk:
                break
            token = str(page["end"])
        if found:
            log.info(
                "matrix: %d message(s) in %s came before this batch; handling them",
                len(found),
                room_id,
            )
        return list(reversed(found))

    def _state_event(self, room_id: str, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        content = event.get("content") or {}
        if kind == "m.room.canonical_alias":
            alias = content.get("alias")
            if isinstance(alias, str) and alias:
                self._aliases[room_id] = alias
        elif kind == "m.room.name":
            name = content.get("name")
            if isinstance(name, str):
                self._titles[room_id] = name
        elif kind == "m.room.member":
            user = str(event.get("state_key") or "")
            members = self._members.setdefault(room_id, set())
            if content.get("membership") == "join":
                members.add(user)
                shown = content.get("displayname")
                if isinstance(shown, str) and shown:
                    self._display[user] = shown
            else:
                members.discard(user)
            if user == self.settings.user_id and content.get("is_direct"):
                sender = str(event.get("sender") or "")
                if sender and sender != self.settings.user_id:
                    self._direct.setdefault(room_id, sender)

    async def _invited(self, room_id: str, room: Mapping[str, Any]) -> None:
        direct = False
        inviter = ""
        aliases: set[str] = set()
        for event in (room.get("invite_state") or {}).get("events") or []:
            kind, content = event.get("type"), event.get("content") or {}
            if kind == "m.room.member" and event.get("state_key") == self.settings.user_id:
                direct = bool(content.get("is_direct"))
                inviter = str(event.get("sender") or "")
            elif kind == "m.room.canonical_alias" and content.get("alias"):
                aliases.add(str(content["alias"]))
        configured = {r.room for r in self.settings.rooms}
        wanted = (
            room_id in configured
            or bool(aliases & configured)
            or (direct and self.settings.accept_direct)
            or self.settings.accept_any_room
        )
        if not wanted:
            log.warning(
                "matrix: refusing %s's invitation to %s (not in ProtocolConfig.matrix.Rooms; "
                "AcceptAnyRoom is false%s)",
                inviter or "someone",
                room_id,
                "" if not direct else ", AcceptDirect is false",
            )
            with contextlib.suppress(MatrixRequestError, RateLimited):
                await self.client.leave_room(RoomID(room_id))
            return
        try:
            await self.client.join_room(RoomID(room_id), max_retries=0)
        except (MatrixRequestError, RateLimited) as exc:
            log.error("matrix: cannot accept the invitation to %s: %s", room_id, exc)
            return
        self._joined.add(room_id)
        for alias in aliases & configured:
            self._configured[room_id] = next(r.name for r in self.settings.rooms if r.room == alias)
        if room_id in configured:
            self._configured[room_id] = next(
                r.name for r in self.settings.rooms if r.room == room_id
            )
        if direct and inviter:
            self._direct[room_id] = inviter

    def _remember(self, event_id: str) -> bool:
        """Note an event as seen; False if it already was."""
        if not event_id or event_id in self._seen:
            return False
        self._seen[event_id] = None
        while len(self._seen) > SEEN_EVENTS:
            self._seen.popitem(last=False)
        return True

    async def _timeline_event(self, room_id: str, event: Mapping[str, Any]) -> None:
        if event.get("type") != "m.room.message":
            return
        event_id = str(event.get("event_id") or "")
        if not self._remember(event_id):
            return
        sender = str(event.get("sender") or "")
        if sender == self.settings.user_id:
            return  # the robot's own echo
        stamp = float(event.get("origin_server_ts") or 0) / 1000
        self._last_seen[room_id] = max(self._last_seen.get(room_id, 0.0), stamp)
        if stamp < self._cutoff:
            log.info("matrix: ignoring %s from %s: from before the robot started", event_id, sender)
            return
        content = _mapping(event.get("content"))
        if content.get("msgtype") not in ("m.text", "m.notice", "m.emote"):
            return
        if not isinstance(content.get("body"), str):
            return
        relation = _mapping(content.get("m.relates_to"))  # a malformed relation is none
        if relation.get("rel_type") == "m.replace":
            return  # an edit: the robot answers messages once
        text = str(content["body"])
        replying = _mapping(relation.get("m.in_reply_to")).get("event_id")
        if replying and text.startswith("> "):
            # Strip a reply's quoted fallback (lines starting "> " then a blank line).
            lines = text.split("\n")
            while lines and lines[0].startswith(">"):
                lines.pop(0)
            text = "\n".join(lines).lstrip("\n")
        threaded = relation.get("rel_type") == "m.thread" and isinstance(
            relation.get("event_id"), str
        )
        thread_id = str(relation["event_id"]) if threaded else event_id
        direct = room_id in self._direct and room_id not in self._configured
        if not direct and room_id not in self._configured and not self.settings.accept_any_room:
            members = self._members.get(room_id, set())
            if len(members) == 2 and not self._aliases.get(room_id):
                direct = True
            else:
                log.debug("matrix: ignoring a message in %s, a room not configured", room_id)
                return
        message = IncomingMessage(
            protocol=self.protocol,
            user=self._username(sender),
            user_id=sender,
            text=self._addressed(text, content),
            channel="" if direct else self._channel_name(room_id),
            channel_id=room_id,
            message_id=event_id,
            thread_id=thread_id,
            threaded=threaded,
            bot_message=content.get("msgtype") == "m.notice",
            validated_user=True,  # the homeserver authenticated the sender
        )
        if self._host is not None:
            await self._host.incoming(message)

    def _addressed(self, text: str, content: Mapping[str, Any]) -> str:
        """Text addressed to the robot by display name, localpart, MXID or pill, as its name."""
        if self._host is None:
            return text
        identity = self._host.identity
        target = identity.name or identity.alias
        if not target:
            return text
        stripped = text.lstrip()
        for name in self._own_names:
            found = re.match(
                rf"@?{re.escape(name)}(?P<sep>[:,]?\s+|[:,]$|$)", stripped, re.IGNORECASE
            )
            if found:
                rest = stripped[found.end() :]
                return f"{target} {rest}" if identity.name else f"{target}{rest}"
        return text

    # -- names -----------------------------------------------------------------------------

    def _username(self, mxid: str) -> str:
        if self._host is not None:
            for user in self._host.identity.users:
                if user.user_id == mxid:
                    return user.name
        localpart, _, server = mxid[1:].partition(":")
        name = localpart if server == self.settings.server_name else mxid
        self._names[name.lower()] = mxid
        return name

    def _mxid(self, user: str) -> str:
        if self._host is not None:
            for info in self._host.identity.users:
                if info.name.lower() == user.lower() and info.user_id.startswith("@"):
                    return info.user_id
        if user.startswith("@") and ":" in user:
            return user
        return self._names.get(user.lower()) or f"@{user}:{self.settings.server_name}"

    def _channel_name(self, room_id: str) -> str:
        if room_id in self._configured:
            return self._configured[room_id]
        alias = self._aliases.get(room_id)
        if alias:
            return alias[1:].split(":", 1)[0]
        return self._titles.get(room_id) or room_id

    def _room_for(self, channel: str) -> str | None:
        for room_id, name in self._configured.items():
            if name.lower() == channel.lower():
                return room_id
        for room_id in self._joined:
            if channel in (room_id, self._aliases.get(room_id)):
                return room_id
            if self._channel_name(room_id).lower() == channel.lower():
                return room_id
        return None

    def user_attribute(self, user: str, attribute: str) -> str | None:
        """The MXID and the profile's display name (as FullName, FirstName, LastName)."""
        mxid = self._mxid(user)
        key = attribute.lower().replace(" ", "")
        if key in ("id", "internalid", "protocolid", "userid", "mxid"):
            return mxid
        shown = self._display.get(mxid, "")
        if not shown:
            return None
        if key in ("fullname", "realname", "displayname"):
            return shown
        if key in ("firstname", "givenname"):
            return shown.split()[0]
        if key in ("lastname", "surname"):
            parts = shown.split(maxsplit=1)
            return parts[1] if len(parts) == 2 else None
        return None

    # -- sending ---------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> RetVal:
        # In a task of its own: the robot may call this outside any task (it serves a child's
        # request in the call that fed it), and aiohttp's timeouts need one.
        return await asyncio.ensure_future(self._deliver(message))

    async def _deliver(self, message: OutgoingMessage) -> RetVal:
        if self._client is None:
            await self._ready.wait()
            if self._client is None:
                return RetVal.FailedMessageSend
        mention: tuple[str, str] | None = None
        if message.channel:
            room_id = self._room_for(message.channel)
            if room_id is None:
                log.warning(
                    "matrix: cannot send to %r: the robot is not in that room", message.channel
                )
                return RetVal.ChannelNotFound
            if message.user:
                mxid = self._mxid(message.user)
                mention = (mxid, self._display.get(mxid) or message.user)
        elif message.user:
            room_id = await self._direct_room(self._mxid(message.user))
            if room_id is None:
                return RetVal.UserNotFound
        else:
            return RetVal.ChannelNotFound
        for content in contents(message.text, message.format, self.settings.message_limit, mention):
            if message.threaded and message.thread_id:
                content["m.relates_to"] = {
                    "rel_type": "m.thread",
                    "event_id": message.thread_id,
                    "is_falling_back": True,
                    "m.in_reply_to": {"event_id": message.thread_id},
                }
            if not await self._send_event(room_id, content):
                return RetVal.FailedMessageSend
        return RetVal.Ok

    async def join_channel(self, channel: str) -> RetVal:
        """`JoinChannels`, `DefaultChannels`: join `#channel:<its server>`, or an alias or id."""
        await self._ready.wait()
        if self._client is None:
            return RetVal.FailedChannelJoin
        if self._room_for(channel) is not None:
            return RetVal.Ok
        target = channel if channel[:1] in "#!" else f"#{channel}:{self.settings.server_name}"
        try:
            room_id = str(await self.client.join_room(RoomAlias(target), max_retries=0))
        except MatrixRequestError as exc:
            log.warning("matrix: cannot join %s for channel %r: %s", target, channel, exc)
            return RetVal.ChannelNotFound
        except RateLimited:
            return RetVal.FailedChannelJoin
        self._joined.add(room_id)
        self._configured.setdefault(room_id, channel)
        return RetVal.Ok

    def _next_txn(self) -> str:
        self._txn_count += 1
        return f"{self._txn}.{self._txn_count}"

    async def _send_event(self, room_id: str, content: dict[str, Any]) -> bool:
        """Send one event, retrying with the same transaction id (the server deduplicates)."""
        txn = self._next_txn()
        path = MatrixPath.v3.rooms[room_id].send["m.room.message"][txn]
        failures = waits = 0
        delay = BACKOFF_FIRST
        while True:
            try:
                await self._request(Method.PUT, path, content)
                return True
            except RateLimited as exc:
                waits += 1
                if waits > RATE_LIMIT_MAX_WAITS:
                    error: BaseException = exc
                    break
                wait = exc.retry_after
                log.info("matrix: sending to %s: %s", room_id, exc)
            except Exception as exc:  # noqa: BLE001 - classified by _transient, logged
                failures += 1
                if not _transient(exc) or failures > self.settings.send_retries:
                    error = exc
                    break
                wait, delay = delay, min(BACKOFF_MAX, delay * 2)
                log.warning(
                    "matrix: sending to %s failed (%s); retry %d in %.1f s",
                    room_id,
                    exc,
                    failures,
                    wait,
                )
            await asyncio.sleep(wait)
        preview = str(content.get("body", ""))[:80]
        log.error(
            "matrix: a message to %s was not sent after %d attempt(s): %s (it began %r)",
            room_id,
            failures + waits,
            error,
            preview,
        )
        return False

    async def _direct_room(self, mxid: str) -> str | None:
        """The direct room with `mxid`, created (and recorded in m.direct) if there is none."""
        for room_id, user in self._direct.items():
            if user == mxid and room_id in self._joined:
                return room_id
        try:
            room_id = str(await self.client.create_room(is_direct=True, invitees=[UserID(mxid)]))
        except (MatrixRequestError, RateLimited) as exc:
            log.error("matrix: cannot open a direct room with %s: %s", mxid, exc)
            return None
        self._direct[room_id] = mxid
        self._joined.add(room_id)
        mapping: dict[str, list[str]] = {}
        for room, user in self._direct.items():
            mapping.setdefault(user, []).append(room)
        with contextlib.suppress(MatrixRequestError, RateLimited):
            await self._request(
                Method.PUT,
                MatrixPath.v3.user[self.settings.user_id].account_data["m.direct"],
                mapping,
            )
        return room_id
