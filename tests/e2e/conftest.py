"""A real robot on the test connector, with scripted extensions run by real children."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from burrow.connectors.testing import SentMessage, TestConnector
from burrow.engine.robot import Robot
from support import run

T = TypeVar("T")

ROBOT_YAML = """\
BotInfo: {UserName: burrow, FullName: Burrow Robot, Email: burrow@example.com}
Alias: ";"
AdminUsers: [alice]
AdminContact: "Alice <alice@example.com>"
UserRoster:
  - {UserName: alice, UserID: U001, Email: alice@example.com, FullName: Alice Admin, FirstName: Alice, LastName: Admin}
  - {UserName: bob, UserID: U002, Email: bob@example.com, FullName: Bob User}
DefaultChannels: [general, random]
DefaultJobChannel: jobs
"""


def is_alert(sent: SentMessage) -> bool:
    """Whether the robot sent a pipeline's failure alert (engine/announce.py)."""
    return sent.text.startswith("Pipeline failure: ")


class RobotHarness:
    """Writes a robot folder, runs it on the test connector, and talks to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "conf" / "plugins").mkdir(parents=True)
        (root / "conf" / "jobs").mkdir(parents=True)
        (root / "ext").mkdir()
        self.robot_yaml = ROBOT_YAML
        self.declared: dict[str, list[str]] = {
            "ExternalPlugins": [],
            "ExternalJobs": [],
            "ExternalTasks": [],
        }
        self.robot: Robot | None = None
        self.connector: TestConnector | None = None

    def extension(
        self, kind: str, name: str, script: str, settings: str = "", conf: str = ""
    ) -> None:
        """Declare a scripted extension; `settings` go in robot.yaml, `conf` in conf/<kind>/NAME.yaml."""
        path = self.root / "ext" / f"{name}.test"
        path.write_text(textwrap.dedent(script))
        section = {"plugin": "ExternalPlugins", "job": "ExternalJobs", "task": "ExternalTasks"}[
            kind
        ]
        extra = f", {settings}" if settings else ""
        self.declared[section].append(f"  {name}: {{Path: ext/{name}.test{extra}}}")
        if conf:
            folder = "plugins" if kind == "plugin" else "jobs"
            (self.root / "conf" / folder / f"{name}.yaml").write_text(textwrap.dedent(conf))

    def write(self) -> None:
        text = self.robot_yaml
        for section, lines in self.declared.items():
            if lines:
                text += f"{section}:\n" + "\n".join(lines) + "\n"
        (self.root / "conf" / "robot.yaml").write_text(text)

    async def start(self, clock: Callable[[], float] | None = None) -> Robot:
        self.write()
        self.robot = Robot(self.root, state_dir=self.root / "state")
        if clock is not None:
            self.robot.clock = clock
        await self.robot.load()
        self.connector = TestConnector({})
        await self.robot.start({"test": self.connector}, primary="test")
        # As Gopherbot's test start-up: the plugins' `_init` pipelines end before a test talks.
        assert await self.robot.plugins_initialized(15.0), "the plugins' _init did not end"
        return self.robot

    def play(self, script: Callable[[RobotHarness], Awaitable[T]]) -> T:
        """Start the robot, run `script` against it, always stop it; return what it returned."""

        async def main() -> T:
            await self.start()
            try:
                return await script(self)
            finally:
                await self.stop()

        return run(main())

    def load_error(self) -> str:
        """Write the robot, load it, and return the configuration error it must refuse with."""
        from burrow.engine.config import ConfigError

        self.write()

        async def load() -> None:
            robot = Robot(self.root, state_dir=self.root / "state")
            try:
                await robot.load()
            finally:
                await robot.close_brain()

        with pytest.raises(ConfigError) as raised:
            run(load())
        return str(raised.value)

    @property
    def last_line(self) -> int:
        """The number of robot.yaml's last line: where a setting appended by a test stands."""
        return len(self.robot_yaml.splitlines())

    async def stop(self) -> None:
        if self.robot is not None:
            await self.robot.stop(grace=2.0)

    async def send(self, user: str, text: str, channel: str = "general", **kw: Any) -> None:
        assert self.connector is not None
        await self.connector.inject(user, text, channel, **kw)

    async def replies(
        self, n: int, timeout: float = 15.0, alerts: bool = False
    ) -> list[SentMessage]:
        """The next `n` messages the robot sends.

        Failure alerts to the operator channel (`Pipeline failure: ...`, DefaultJobChannel) are
        passed over unless `alerts`: a test of what the user is told is not about them, and
        tests of the alerts ask for them.
        """
        assert self.connector is not None
        out = []
        while len(out) < n:
            sent = await self.connector.next_sent(timeout)
            assert sent is not None, f"expected {n} replies, got {len(out)}: {out}"
            if alerts or not is_alert(sent):
                out.append(sent)
        return out

    async def exchange(
        self, user: str, text: str, channel: str = "general", n: int = 1, **kw: Any
    ) -> list[SentMessage]:
        await self.send(user, text, channel, **kw)
        return await self.replies(n)

    async def texts(
        self, user: str, text: str, channel: str = "general", n: int = 1, **kw: Any
    ) -> list[str]:
        return [m.text for m in await self.exchange(user, text, channel, n, **kw)]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[RobotHarness]:
    yield RobotHarness(tmp_path / "robot")
