"""The connector when things go wrong: the homeserver restarts, the robot restarts, 429s,
sends that cannot get through. A real Synapse, real robots."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from burrow_matrix.connector import MatrixConnector
from matrix_client import Homeserver, Seen
from matrix_robot import Robot

from burrow.connectors.base import BotIdentity, IncomingMessage, OutgoingMessage
from burrow.constants import RetVal


def _from(robot: Robot, room_id: str, text: str) -> Callable[[Seen], bool]:
    return lambda s: s.sender == robot.account.user_id and s.room_id == room_id and text in s.body


def test_the_homeserver_restarts_mid_conversation_and_nothing_is_lost_or_repeated(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    robot = make_robot()
    alice, general = homeserver.alice, homeserver.general
    alice.sync()
    alice.send(general, ";echo before the restart")
    alice.wait_for(_from(robot, general, "before the restart"))
    alice.send(general, ";ask")  # a prompt left open across the restart
    alice.wait_for(_from(robot, general, "Really?"))

    homeserver.synapse.stop()
    time.sleep(1.0)  # the robot's sync fails and it backs off
    homeserver.synapse.start()
    # Sent while the robot is still away: it must catch up on them.
    alice.send(general, "yes")
    alice.send(general, ";echo after the restart")

    [answer] = alice.wait_for(_from(robot, general, "answer"))
    assert answer.body == "answer 'yes' Ok"
    alice.wait_for(_from(robot, general, "after the restart"))
    seen = alice.quiet_for(lambda s: s.sender == robot.account.user_id, 1.5)
    # Each once (the last two are answered by two pipelines at once, in either order).
    assert sorted(s.body for s in seen) == sorted(
        [
            "alice: before the restart",
            "alice: Really?",
            "answer 'yes' Ok",
            "alice: after the restart",
        ]
    )
    assert "sync failed" in (robot.state / "robot.log").read_text()


def test_a_restarted_robot_resumes_from_its_saved_position(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    robot = make_robot()
    alice, general = homeserver.alice, homeserver.general
    alice.sync()
    alice.send(general, ";echo first run")
    alice.wait_for(_from(robot, general, "first run"))
    assert robot.stop() == 0  # a clean shutdown on SIGTERM
    alice.send(general, ";echo while it was away")
    robot.start()
    alice.wait_for(_from(robot, general, "while it was away"))
    seen = alice.quiet_for(lambda s: s.sender == robot.account.user_id, 1.5)
    assert [s.body for s in seen] == ["alice: first run", "alice: while it was away"]


def test_rate_limits_are_waited_out(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    account = homeserver.synapse.register("slowbot")
    who = urllib.parse.quote(account.user_id, safe="")
    homeserver.synapse.admin(
        "POST",
        f"/_synapse/admin/v1/users/{who}/override_ratelimit",
        homeserver.admin.access_token,
        {"messages_per_second": 2, "burst_count": 1},
    )
    robot = make_robot(account)
    alice, general = homeserver.alice, homeserver.general
    alice.sync()
    for i in range(5):
        alice.send(general, f";echo limited {i}")
    replies = alice.wait_for(_from(robot, general, "limited"), count=5)
    assert sorted(s.body for s in replies) == [f"alice: limited {i}" for i in range(5)]
    log = (robot.state / "robot.log").read_text()
    assert "rate limited by the homeserver" in log
    assert "was not sent" not in log


class _Host:
    """What a robot offers its connector: here, a list of what it heard."""

    def __init__(self) -> None:
        self.heard: list[IncomingMessage] = []

    async def incoming(self, message: IncomingMessage) -> None:
        self.heard.append(message)

    @property
    def identity(self) -> BotIdentity:
        return BotIdentity(name="burrow", alias=";")


def test_a_send_that_cannot_get_through_is_retried_a_bounded_number_of_times_then_logged(
    homeserver: Homeserver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = homeserver.synapse.register("retrybot")

    async def scenario() -> tuple[RetVal, RetVal, float]:
        connector = MatrixConnector(
            {
                "Homeserver": homeserver.synapse.url,
                "UserID": account.user_id,
                "AccessTokenEnv": "RETRYBOT_TOKEN",
                "Rooms": ["#general:localhost"],
                "SendRetries": 2,
                "StateFolder": str(tmp_path),
            }
        )
        host = _Host()
        running = asyncio.ensure_future(connector.run(host))
        await connector.wait_ready()
        sent = await connector.send(OutgoingMessage(text="while up", channel="general"))
        homeserver.synapse.stop()
        started = time.monotonic()
        try:
            failed = await connector.send(OutgoingMessage(text="while down", channel="general"))
            took = time.monotonic() - started
        finally:
            homeserver.synapse.start()
            await connector.stop()
            await asyncio.wait_for(running, 40)
        return sent, failed, took

    os.environ["RETRYBOT_TOKEN"] = account.access_token
    try:
        with caplog.at_level(logging.WARNING, logger="burrow_matrix"):
            sent, failed, took = asyncio.run(scenario())
    finally:
        del os.environ["RETRYBOT_TOKEN"]
    assert sent == RetVal.Ok
    assert failed == RetVal.FailedMessageSend
    assert took < 10  # 2 retries: 0.5 s + 1 s of backoff, not forever
    retries = [r for r in caplog.records if "sending to" in r.getMessage()]
    assert len(retries) == 2
    [given_up] = [r for r in caplog.records if "was not sent" in r.getMessage()]
    assert given_up.levelno == logging.ERROR
    assert "'while down'" in given_up.getMessage()


def test_more_messages_than_one_sync_batch_while_away_are_all_answered_once(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    # TimelineLimit 3: a batch holds 3 messages per room, so the robot must page back.
    robot = make_robot(TimelineLimit=3)
    alice, general = homeserver.alice, homeserver.general
    alice.sync()
    alice.send(general, ";echo before 0")
    alice.wait_for(_from(robot, general, "before 0"))
    assert robot.stop() == 0
    for i in range(10):
        alice.send(general, f";echo away {i}")
    robot.start()
    alice.wait_for(_from(robot, general, "away"), count=10)
    seen = alice.quiet_for(lambda s: s.sender == robot.account.user_id, 1.5)
    assert sorted(s.body for s in seen) == sorted(
        ["alice: before 0"] + [f"alice: away {i}" for i in range(10)]
    )
    assert "came before this batch" in (robot.state / "robot.log").read_text()


def test_a_new_robot_ignores_what_was_said_before_it_started(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    alice, general = homeserver.alice, homeserver.general
    alice.sync()
    robot = make_robot(start=False)
    alice.send(general, ";echo too early")
    time.sleep(0.05)
    robot.start()
    alice.send(general, ";echo in time")
    alice.wait_for(_from(robot, general, "in time"))
    seen = alice.quiet_for(lambda s: s.sender == robot.account.user_id, 1.5)
    assert [s.body for s in seen] == ["alice: in time"]


def test_an_invitation_to_a_configured_private_room_is_accepted(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    alice = homeserver.alice
    ops = alice.create_room("ops", public=False)
    # It cannot join #ops at start (private, not invited): it says so and runs on.
    robot = make_robot(Rooms=["#general:localhost", "#ops:localhost"])
    assert "cannot join #ops:localhost" in (robot.state / "robot.log").read_text()
    alice.call("POST", f"/_matrix/client/v3/rooms/{ops}/invite", {"user_id": robot.account.user_id})
    alice.wait_membership(ops, robot.account.user_id, "join")
    alice.sync()
    alice.send(ops, ";ping")
    assert alice.wait_for(_from(robot, ops, "PONG"))[0].body == "alice: PONG"
