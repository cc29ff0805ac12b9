"""A plain Matrix client for the people in the tests (and the benchmark): send, and read back.

Synchronous (urllib), so a test reads as a conversation. `Person.wait_for` long-polls /sync
and keeps every message event seen, so a test can check that nothing came twice.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synapse_server import Account, Synapse, http

_txn = itertools.count(1)


class MatrixError(RuntimeError):
    pass


@dataclass
class Seen:
    room_id: str
    event: dict[str, Any]

    @property
    def sender(self) -> str:
        return str(self.event.get("sender", ""))

    @property
    def content(self) -> dict[str, Any]:
        return dict(self.event.get("content") or {})

    @property
    def body(self) -> str:
        return str(self.content.get("body", ""))

    @property
    def thread(self) -> str:
        relation = self.content.get("m.relates_to") or {}
        return str(relation.get("event_id", "")) if relation.get("rel_type") == "m.thread" else ""


@dataclass
class Person:
    url: str
    account: Account
    since: str = ""
    seen: list[Seen] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    invited: list[str] = field(default_factory=list)  # rooms this person was invited to
    listening_since: int = 0  # ms; events older than the first sync are not "seen"

    @property
    def user_id(self) -> str:
        return self.account.user_id

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        for _ in range(50):
            status, got = http(method, self.url + path, body, self.account.access_token, timeout)
            if status == 429:
                time.sleep(float(got.get("retry_after_ms", 200)) / 1000)
                continue
            if status != 200:
                raise MatrixError(f"{self.user_id}: {method} {path}: {status} {got}")
            return got
        raise MatrixError(f"{self.user_id}: {method} {path}: still rate limited")

    # -- rooms ---------------------------------------------------------------------------

    def create_room(
        self,
        alias: str = "",
        invite: tuple[str, ...] = (),
        *,
        direct: bool = False,
        public: bool = True,
    ) -> str:
        body: dict[str, Any] = {
            "preset": "public_chat" if public else "trusted_private_chat",
            "invite": list(invite),
            "is_direct": direct,
        }
        if alias:
            body["room_alias_name"] = alias
        return str(self.call("POST", "/_matrix/client/v3/createRoom", body)["room_id"])

    def join(self, room: str) -> str:
        quoted = urllib.parse.quote(room, safe="")
        return str(self.call("POST", f"/_matrix/client/v3/join/{quoted}", {})["room_id"])

    def membership(self, room_id: str, user_id: str) -> str:
        quoted = urllib.parse.quote(room_id, safe="")
        who = urllib.parse.quote(user_id, safe="")
        status, got = http(
            "GET",
            f"{self.url}/_matrix/client/v3/rooms/{quoted}/state/m.room.member/{who}",
            token=self.account.access_token,
        )
        return str(got.get("membership", "")) if status == 200 else ""

    def wait_membership(self, room_id: str, user_id: str, wanted: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.membership(room_id, user_id) == wanted:
                return
            time.sleep(0.1)
        raise AssertionError(
            f"{user_id} is {self.membership(room_id, user_id)!r} in {room_id}, not {wanted!r}"
        )

    # -- messages ------------------------------------------------------------------------

    def send(
        self,
        room_id: str,
        text: str,
        *,
        thread: str = "",
        formatted: str = "",
        mentions: tuple[str, ...] = (),
    ) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if formatted:
            content.update(format="org.matrix.custom.html", formatted_body=formatted)
        if mentions:
            content["m.mentions"] = {"user_ids": list(mentions)}
        if thread:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread},
            }
        quoted = urllib.parse.quote(room_id, safe="")
        txn = f"t{time.time_ns()}.{next(_txn)}"
        path = f"/_matrix/client/v3/rooms/{quoted}/send/m.room.message/{txn}"
        return str(self.call("PUT", path, content)["event_id"])

    def sync(self, timeout_ms: int = 1000) -> list[Seen]:
        """The message events since the last sync (the first sync only sets the position)."""
        query: dict[str, str] = {
            "timeout": str(timeout_ms),
            "filter": json.dumps(
                {
                    "presence": {"not_types": ["*"]},
                    "room": {
                        "timeline": {"types": ["m.room.message"], "limit": 500},
                        "state": {"types": []},
                        "ephemeral": {"not_types": ["*"]},
                    },
                }
            ),
        }
        first = not self.since
        if first:
            self.listening_since = int(time.time() * 1000) - 1000
            query["timeout"] = "0"
        else:
            query["since"] = self.since
        got = self.call(
            "GET",
            "/_matrix/client/v3/sync?" + urllib.parse.urlencode(query),
            timeout=timeout_ms / 1000 + 30,
        )
        self.since = str(got["next_batch"])
        self.invited.extend(got.get("rooms", {}).get("invite") or {})
        if first:
            return []
        new: list[Seen] = []
        for room_id, room in (got.get("rooms", {}).get("join") or {}).items():
            timeline = room.get("timeline") or {}
            if timeline.get("limited") and timeline.get("prev_batch"):
                new.extend(self._page_back(room_id, str(timeline["prev_batch"])))
            for event in timeline.get("events") or []:
                if event.get("type") == "m.room.message" and event["event_id"] not in self.ids:
                    new.append(Seen(room_id, event))
                    self.ids.add(event["event_id"])
        self.seen.extend(new)
        return new

    def _page_back(self, room_id: str, token: str) -> list[Seen]:
        """A `limited` timeline skipped events: fetch them, back to the first one seen."""
        found: list[Seen] = []
        quoted = urllib.parse.quote(room_id, safe="")
        while True:
            query = urllib.parse.urlencode({"dir": "b", "from": token, "limit": "100"})
            page = self.call("GET", f"/_matrix/client/v3/rooms/{quoted}/messages?{query}")
            chunk = page.get("chunk") or []
            fresh = [
                e
                for e in chunk
                if e["event_id"] not in self.ids and e["origin_server_ts"] >= self.listening_since
            ]
            for event in fresh:
                if event.get("type") == "m.room.message":
                    found.append(Seen(room_id, event))
                    self.ids.add(event["event_id"])
            if len(fresh) < len(chunk) or not chunk or not page.get("end"):
                return list(reversed(found))
            token = str(page["end"])

    def wait_for(
        self,
        match: Callable[[Seen], bool],
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[Seen]:
        """Wait until `count` seen events match; returns them (all seen so far that match)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in self.seen if match(s)]
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                bodies = [(s.sender, s.body[:60]) for s in self.seen[-20:]]
                raise AssertionError(
                    f"{self.user_id}: {len(found)} of {count} expected messages after "
                    f"{timeout:.0f} s; last seen: {bodies}"
                )
            self.sync(timeout_ms=int(min(left, 2.0) * 1000))

    def quiet_for(self, match: Callable[[Seen], bool], seconds: float) -> list[Seen]:
        """Every matching event seen by the end of `seconds` of listening."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sync(timeout_ms=int(min(left, 1.0) * 1000))
        return [s for s in self.seen if match(s)]


@dataclass
class Homeserver:
    synapse: Synapse
    robot_account: Account
    admin: Account
    alice: Person
    bob: Person
    general: str  # room id of #general:localhost

    def person(self, localpart: str) -> Person:
        return Person(self.synapse.url, self.synapse.register(localpart))
