"""Conversations with a real robot through a real Synapse: rooms, threads, DMs, prompts."""

from __future__ import annotations

import time
import urllib.parse

from matrix_client import Homeserver, Person, Seen
from matrix_robot import DISPLAY_NAME, Robot


def _from(robot: Robot, room_id: str, text: str = "") -> object:
    def match(seen: Seen) -> bool:
        return (
            seen.sender == robot.account.user_id and seen.room_id == room_id and text in seen.body
        )

    return match


def test_a_command_in_a_room_is_answered_there(homeserver: Homeserver, shared_robot: Robot) -> None:
    alice = homeserver.alice
    alice.sync()
    alice.send(homeserver.general, ";ping")
    [reply] = alice.wait_for(_from(shared_robot, homeserver.general, "PONG"))
    # Reply mentions the user: a pill in formatted_body and m.mentions.
    assert reply.body == "alice: PONG"
    assert reply.content["m.mentions"] == {"user_ids": [alice.user_id]}
    assert 'href="https://matrix.to/#/@alice:localhost"' in reply.content["formatted_body"]
    assert reply.thread == ""  # an unthreaded command is answered unthreaded


def test_the_robot_is_addressed_by_display_name_localpart_and_pill(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    bob = homeserver.bob
    bob.sync()
    localpart = shared_robot.account.user_id[1:].split(":")[0]
    bob.send(homeserver.general, f"{DISPLAY_NAME}: echo by display name")
    bob.send(homeserver.general, f"{localpart} echo by localpart")
    pill = f'<a href="https://matrix.to/#/{shared_robot.account.user_id}">{DISPLAY_NAME}</a>'
    bob.send(
        homeserver.general,
        f"{DISPLAY_NAME}: echo by pill",
        formatted=f"{pill}: echo by pill",
        mentions=(shared_robot.account.user_id,),
    )
    replies = bob.wait_for(_from(shared_robot, homeserver.general, "bob: by "), count=3)
    assert sorted(r.body for r in replies) == [
        "bob: by display name",
        "bob: by localpart",
        "bob: by pill",
    ]


def test_a_threaded_command_is_answered_in_its_thread(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    alice = homeserver.alice
    alice.sync()
    root = alice.send(homeserver.general, "a thread about the robot")
    alice.send(homeserver.general, ";echo in the thread", thread=root)
    [reply] = alice.wait_for(_from(shared_robot, homeserver.general, "in the thread"))
    assert reply.thread == root
    assert reply.body == "alice: in the thread"


def test_a_direct_message_needs_no_alias_and_is_answered_in_the_direct_room(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    carol = homeserver.person("carol")
    quoted = carol.user_id.replace("@", "%40").replace(":", "%3A")
    carol.call(
        "PUT", f"/_matrix/client/v3/profile/{quoted}/displayname", {"displayname": "Carol Example"}
    )
    room = carol.create_room(invite=(shared_robot.account.user_id,), direct=True, public=False)
    carol.wait_membership(room, shared_robot.account.user_id, "join")
    carol.sync()
    carol.send(room, "ping")
    [reply] = carol.wait_for(_from(shared_robot, room, "PONG"))
    assert reply.body == "PONG"  # a DM is not prefixed with a mention
    # carol is not in the roster: her name is her localpart
    carol.send(room, "echo hello")
    assert carol.wait_for(_from(shared_robot, room, "hello"))[0].body == "hello"
    # Not in the roster: her full and first names come from her Matrix profile.
    carol.send(room, "who am i")
    [who] = carol.wait_for(_from(shared_robot, room, "|"))
    assert who.body == "carol|Carol Example|Carol|@carol:localhost"


def test_a_prompt_is_answered_by_the_user(homeserver: Homeserver, shared_robot: Robot) -> None:
    alice = homeserver.alice
    alice.sync()
    alice.send(homeserver.general, ";ask")
    alice.wait_for(_from(shared_robot, homeserver.general, "Really?"))
    alice.send(homeserver.general, "yes")
    [answer] = alice.wait_for(_from(shared_robot, homeserver.general, "answer"))
    assert answer.body == "answer 'yes' Ok"


def test_two_users_in_parallel_each_get_their_answers_once(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    alice, bob = homeserver.alice, homeserver.bob
    alice.sync()
    bob.sync()
    for i in range(5):
        alice.send(homeserver.general, f";echo par-a{i}")
        bob.send(homeserver.general, f";echo par-b{i}")
    mine = alice.wait_for(_from(shared_robot, homeserver.general, "alice: par-a"), count=5)
    theirs = bob.wait_for(_from(shared_robot, homeserver.general, "bob: par-b"), count=5)
    assert sorted(s.body for s in mine) == [f"alice: par-a{i}" for i in range(5)]
    assert sorted(s.body for s in theirs) == [f"bob: par-b{i}" for i in range(5)]
    # nothing more comes
    late = alice.quiet_for(_from(shared_robot, homeserver.general, ": par-"), 1.0)
    assert len(late) == 10


def test_markdown_becomes_formatted_body_and_long_messages_are_split(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    alice = homeserver.alice
    alice.sync()
    alice.send(homeserver.general, ";md")
    [md] = alice.wait_for(_from(shared_robot, homeserver.general, "bold"))
    assert md.body == "**bold** and `code`"
    assert md.content["formatted_body"] == "<p><strong>bold</strong> and <code>code</code></p>"
    alice.send(homeserver.general, ";long 40000")
    alice.wait_for(_from(shared_robot, homeserver.general, "xxxx"), count=3)
    parts = alice.quiet_for(_from(shared_robot, homeserver.general, "xxxx"), 0.5)
    assert len(parts) == 3  # 40,000 bytes in parts of at most 16,000 (MessageLimit)
    assert all(len(p.body.encode()) <= 16000 for p in parts)
    lines = "\n".join(p.body for p in parts).rstrip("\n").split("\n")
    assert lines == ["x" * 99] * 400  # cut at line ends, nothing lost


def test_a_room_the_robot_is_not_in(homeserver: Homeserver, shared_robot: Robot) -> None:
    bob: Person = homeserver.bob
    # A room the robot was never invited to: it hears nothing there.
    elsewhere = bob.create_room("elsewhere")
    bob.sync()
    bob.send(elsewhere, ";ping")
    # Invited to a room that is not configured, it refuses.
    bob.call(
        "POST",
        f"/_matrix/client/v3/rooms/{elsewhere}/invite",
        {"user_id": shared_robot.account.user_id},
    )
    bob.wait_membership(elsewhere, shared_robot.account.user_id, "leave")
    bob.send(elsewhere, ";ping")
    assert (
        bob.quiet_for(
            lambda s: s.sender == shared_robot.account.user_id and s.room_id == elsewhere, 2.0
        )
        == []
    )
    assert "refusing" in (shared_robot.state / "robot.log").read_text()


def test_the_robot_opens_a_direct_room_to_message_a_user_privately(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    bob = homeserver.bob
    bob.sync()
    bob.send(homeserver.general, ";dm me")
    bob.wait_for(_from(shared_robot, homeserver.general, "sent Ok"))
    deadline = time.monotonic() + 20
    while not bob.invited and time.monotonic() < deadline:
        bob.sync()
    [room] = bob.invited  # one direct room, re-used for the second message
    bob.join(room)
    privately = bob.wait_for(lambda s: s.room_id == room, count=2)
    assert [s.body for s in privately] == ["privately", "again"]
    # The robot hears bob there as in a DM: no alias needed.
    bob.send(room, "ping")
    assert bob.wait_for(_from(shared_robot, room, "PONG"))[0].body == "PONG"


def test_the_robot_ignores_its_own_echoes(homeserver: Homeserver, shared_robot: Robot) -> None:
    alice = homeserver.alice
    alice.sync()
    alice.send(homeserver.general, ";say ;echo to myself")
    alice.wait_for(_from(shared_robot, homeserver.general, ";echo to myself"))
    # Were it to hear itself, it would answer its own command.
    said = alice.quiet_for(_from(shared_robot, homeserver.general, "to myself"), 1.5)
    assert [s.body for s in said] == [";echo to myself"]


def test_malformed_messages_neither_crash_the_robot_nor_lose_what_follows(
    homeserver: Homeserver, shared_robot: Robot
) -> None:
    bob = homeserver.bob
    bob.sync()
    bob.seen.clear()  # only this test's messages
    room = urllib.parse.quote(homeserver.general, safe="")
    odd = [
        {"msgtype": "m.text", "body": ";echo odd relation", "m.relates_to": "garbage"},
        {
            "msgtype": "m.text",
            "body": ";echo odd thread",
            "m.relates_to": {"rel_type": "m.thread", "event_id": 7},
        },
        {
            "msgtype": "m.text",
            "body": "> <@x:y> quoted\n\n;echo odd reply",
            "m.relates_to": {"m.in_reply_to": {"event_id": 5}},
        },
    ]
    for n, content in enumerate(odd):
        bob.call(
            "PUT",
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/odd{time.time_ns()}{n}",
            content,
        )
    bob.send(homeserver.general, ";echo still here")
    bob.wait_for(_from(shared_robot, homeserver.general, "still here"))
    answers = bob.quiet_for(_from(shared_robot, homeserver.general, "bob: "), 1.0)
    # (Synapse itself refuses a body or msgtype that is not text.) A malformed relation is read
    # as none, and a reply's quoted fallback is still removed.
    assert sorted(s.body for s in answers) == [
        "bob: odd relation",
        "bob: odd reply",
        "bob: odd thread",
        "bob: still here",
    ]
