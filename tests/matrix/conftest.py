"""Fixtures of the Matrix tests: one real Synapse per session, its people and a robot.

The homeserver is started once (about 3 s) and kept; each test that needs a robot of its
own makes one with `make_robot`. If Synapse cannot start, every test here fails with its log.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from matrix_client import Homeserver, Person
from matrix_robot import Robot
from synapse_server import Account, Synapse, SynapseError

_robots = itertools.count(1)


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    synapse = Synapse(tmp_path_factory.mktemp("synapse"))
    try:
        synapse.start()
    except SynapseError as exc:
        pytest.fail(f"the Synapse homeserver cannot start: {exc}", pytrace=False)
    try:
        admin = synapse.register("hsadmin", admin=True)
        robot = synapse.register("burrowbot")
        alice = Person(synapse.url, synapse.register("alice"))
        bob = Person(synapse.url, synapse.register("bob"))
        general = alice.create_room("general")
        bob.join(general)
        yield Homeserver(synapse, robot, admin, alice, bob, general)
    finally:
        synapse.stop()


@pytest.fixture
def make_robot(homeserver: Homeserver, tmp_path: Path) -> Iterator[Callable[..., Robot]]:
    robots: list[Robot] = []

    def make(
        account: Account | None = None,
        *,
        start: bool = True,
        token_in_env: bool = True,
        environ: dict[str, str] | None = None,
        **extra: Any,
    ) -> Robot:
        """A robot on an account of its own (so no other robot answers with it), started."""
        account = account or homeserver.synapse.register(f"bot{next(_robots)}")
        robot = Robot(tmp_path / f"robot{len(robots)}", homeserver.synapse.url, account, extra)
        robot.token_in_env = token_in_env
        robot.environ.update(environ or {})
        robots.append(robot)
        if start:
            robot.start()
        return robot

    yield make
    for robot in robots:
        robot.stop()


@pytest.fixture(scope="module")
def shared_robot(
    homeserver: Homeserver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Robot]:
    """One robot for the conversation tests of a module (starting one takes about a second)."""
    robot = Robot(
        tmp_path_factory.mktemp("robot"), homeserver.synapse.url, homeserver.robot_account
    )
    robot.start()
    yield robot
    robot.stop()
