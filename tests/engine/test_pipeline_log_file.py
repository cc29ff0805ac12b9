"""A pipeline's log file: kept open while the pipeline runs, closed when it ends, and a full
disk never fails the pipeline. A real robot on the test connector runs real children."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot
from support import run

ROBOT_YAML = """\
UserRoster: [{UserName: bob}]
ExternalPlugins:
  ext: {Path: ext/ext.test}
"""
SCRIPT = """\
config: |
  Commands: [{Command: go, Regex: go}]
commands:
  go:
    - [Log, 2, "first line"]
    - [Say, started]
    - {sleep: 0.5}
    - [Log, 2, "last line"]
    - [Say, done]
"""


def _open_on(path: Path) -> int:
    """How many of this process's descriptors are open on `path`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return count


def _robot(root: Path) -> Robot:
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    (root / "conf" / "robot.yaml").write_text(ROBOT_YAML)
    (root / "ext" / "ext.test").write_text(SCRIPT)
    return Robot(root, state_dir=root / "state")


async def _go(robot: Robot, watch: Path | None = None) -> tuple[list[str], list[int]]:
    """Run `;go` twice; the replies, and how many descriptors were open on `watch` mid-run."""
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    assert await robot.plugins_initialized(30.0)  # the start-up `_init`s have their own logs
    said, during = [], []
    try:
        for _ in range(2):
            await connector.inject("bob", ";go", "general")
            for _ in range(2):
                sent = await connector.next_sent(60.0)
                assert sent is not None, "the extension never answered"
                said.append(sent.text)
                if sent.text == "started" and watch is not None:
                    during.append(_open_on(watch))
            while robot.pipelines:  # until the pipeline has ended
                await asyncio.sleep(0.01)
    finally:
        await robot.stop(grace=2.0)
    return said, during


def test_the_log_stays_open_while_the_pipeline_runs_and_is_closed_when_it_ends(
    tmp_path: Path,
) -> None:
    robot = _robot(tmp_path)
    logs = tmp_path / "state" / "logs"
    said, _ = run(_go(robot))
    assert said == ["started", "done"] * 2
    files = [f for f in sorted(logs.glob("pipeline-*.log")) if "_init" not in f.read_text()]
    assert len(files) == 2
    for file in files:
        text = file.read_text()
        # Every line is there, in order, once the pipeline has ended.
        assert text.index("pipeline started") < text.index("ext: first line")
        assert text.index("ext: first line") < text.index("ext: last line")
        assert text.rstrip().endswith("pipeline ended: Normal")
        assert _open_on(file) == 0  # closed at the end: no descriptor left behind


def test_one_descriptor_serves_every_line_of_a_running_pipeline(tmp_path: Path) -> None:
    robot = _robot(tmp_path)
    opened: list[str] = []
    real_path = robot.pipeline_log_path

    def path_of(pipeline_id: int) -> Path | None:
        path = real_path(pipeline_id)
        opened.append(str(path))
        return path

    robot.pipeline_log_path = path_of  # type: ignore[method-assign]
    counts: list[int] = []

    async def main() -> list[str]:
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        said = []
        try:
            await connector.inject("bob", ";go", "general")
            for _ in range(2):
                sent = await connector.next_sent(60.0)
                assert sent is not None
                said.append(sent.text)
                if sent.text == "started":
                    # The child is asleep mid-pipeline: its log is open, once.
                    counts.append(_open_on(Path(opened[-1])))
            while robot.pipelines:
                await asyncio.sleep(0.01)
            counts.append(_open_on(Path(opened[-1])))
        finally:
            await robot.stop(grace=2.0)
        return said

    assert run(main()) == ["started", "done"]
    assert counts == [1, 0]


def test_a_full_disk_neither_fails_the_pipeline_nor_leaves_the_log_open(tmp_path: Path) -> None:
    robot = _robot(tmp_path)
    full = Path("/dev/full")  # every write fails with ENOSPC, as on a full disk
    robot.pipeline_log_path = lambda pipeline_id: full  # type: ignore[method-assign]
    said, during = run(_go(robot, watch=full))
    assert said == ["started", "done"] * 2
    assert during == [0, 0]  # the first failed write closed it; logging to the file ended
    assert _open_on(full) == 0
