"""The state folder's pipeline logs stay bounded, reuse the oldest file, never take a running
pipeline's log, and number pipelines on from the previous run (engine/pipeline_logs.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from burrow.connectors.testing import TestConnector
from burrow.engine.config import ConfigError
from burrow.engine.pipeline_logs import PipelineLogs
from burrow.engine.robot import Robot
from support import run


def _ids(folder: Path) -> list[int]:
    numbers = (p.stem.split("-")[1] for p in folder.glob("pipeline-*.log"))
    return sorted(int(n) for n in numbers if n.isdigit())


def _fill(logs: PipelineLogs, count: int, running: set[int] | None = None) -> list[int]:
    """Start `count` pipelines that each log one line naming themselves, written as a pipeline
    writes its log: from the start of the file, at its own offset (Pipeline._write_log)."""
    made = []
    for _ in range(count):
        pipeline_id = logs.new(running=(running or set()).__contains__)
        fd = os.open(logs.path(pipeline_id), os.O_WRONLY | os.O_CREAT)
        try:
            os.pwrite(fd, f"pipeline {pipeline_id}\n".encode(), 0)
        finally:
            os.close(fd)
        made.append(pipeline_id)
    return made


def test_the_folder_keeps_the_newest_logs_and_each_reused_file_holds_only_its_own_lines(
    tmp_path: Path,
) -> None:
    logs = PipelineLogs(tmp_path, keep=10)
    logs.scan()
    assert _fill(logs, 25) == list(range(1, 26))
    assert _ids(tmp_path) == list(range(16, 26))
    for pipeline_id in range(16, 26):
        assert logs.path(pipeline_id).read_text() == f"pipeline {pipeline_id}\n"


def test_ids_continue_after_the_previous_run_and_its_excess_logs_are_deleted(
    tmp_path: Path,
) -> None:
    for pipeline_id in (3, 7, 40, 41, 42):
        (tmp_path / f"pipeline-{pipeline_id}.log").write_text(f"old {pipeline_id}\n")
    (tmp_path / "pipeline-x.log").write_text("not a pipeline log\n")
    (tmp_path / "notes.txt").write_text("the operator's\n")
    logs = PipelineLogs(tmp_path, keep=10)
    logs.keep = 3  # below MIN_KEEP only here, to see the excess go with few files
    logs.scan()
    assert _ids(tmp_path) == [40, 41, 42]
    assert (tmp_path / "pipeline-x.log").exists() and (tmp_path / "notes.txt").exists()
    assert _fill(logs, 1) == [43]  # never appended to a previous run's pipeline-1.log
    assert _ids(tmp_path) == [41, 42, 43]
    assert logs.path(43).read_text() == "pipeline 43\n"


def test_a_running_pipelines_log_is_never_taken(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path, keep=10)
    logs.scan()
    _fill(logs, 10)
    # Pipelines 1 and 2 still run: the next one gets a file of its own, theirs stay whole.
    _fill(logs, 1, running={1, 2})
    assert _ids(tmp_path) == list(range(1, 12))
    assert logs.path(1).read_text() == "pipeline 1\n"
    # Once they end, the oldest are reused again and the folder shrinks back as it goes.
    _fill(logs, 2)
    assert _ids(tmp_path) == list(range(3, 14))


def test_a_reused_log_never_shows_its_old_lines_even_before_the_first_line(
    tmp_path: Path,
) -> None:
    logs = PipelineLogs(tmp_path, keep=10)
    logs.scan()
    _fill(logs, 10)
    pipeline_id = logs.new(running=set[int]().__contains__)  # reused, nothing logged yet
    assert logs.path(pipeline_id).read_bytes() == b"\n"
    assert not logs.path(1).exists()


def test_a_log_replaced_by_a_symbolic_link_is_never_cut(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path / "logs", keep=10)
    logs.folder.mkdir()
    logs.scan()
    _fill(logs, 10)
    precious = tmp_path / "precious.txt"
    precious.write_text("not a log\n")
    logs.path(1).unlink()
    logs.path(1).symlink_to(precious)
    _fill(logs, 1)
    assert precious.read_text() == "not a log\n"


def test_a_log_deleted_by_hand_is_skipped(tmp_path: Path) -> None:
    logs = PipelineLogs(tmp_path, keep=10)
    logs.scan()
    _fill(logs, 10)
    logs.path(1).unlink()
    _fill(logs, 1)
    assert _ids(tmp_path) == list(range(2, 12))  # still ten: 1 is forgotten, not replaced


ROBOT_YAML = """\
UserRoster: [{UserName: bob}]
PipelineLogs: 10
ExternalPlugins:
  ext: {Path: ext/ext.test}
"""
SCRIPT = """\
config: |
  Commands: [{Command: go, Regex: go}]
commands:
  go:
    - [Say, done]
"""


def _robot(root: Path, yaml: str = ROBOT_YAML) -> Robot:
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "ext").mkdir(exist_ok=True)
    (root / "conf" / "robot.yaml").write_text(yaml)
    (root / "ext" / "ext.test").write_text(SCRIPT)
    return Robot(root, state_dir=root / "state")


async def _commands(robot: Robot, count: int) -> list[int]:
    """Start the robot, run `;go` `count` times; the ids of the command pipelines."""
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    assert await robot.plugins_initialized(30.0)
    ids = []
    try:
        for _ in range(count):
            await connector.inject("bob", ";go", "general")
            sent = await connector.next_sent(60.0)
            assert sent is not None and sent.text == "done"
            while robot.pipelines:
                await asyncio.sleep(0.01)
            ids.append(max(_ids(robot.state_dir / "logs")))
    finally:
        await robot.stop(grace=2.0)
    return ids


def test_a_robot_keeps_pipeline_logs_bounded_and_numbers_on_across_restarts(
    tmp_path: Path,
) -> None:
    first = run(_commands(_robot(tmp_path), 15))
    logs = tmp_path / "state" / "logs"
    assert len(_ids(logs)) == 10
    assert _ids(logs)[-1] == first[-1]
    second = run(_commands(_robot(tmp_path), 3))
    assert second[0] > first[-1]  # the restart's `_init` and commands number on
    assert len(_ids(logs)) == 10
    newest = logs / f"pipeline-{second[-1]}.log"
    text = newest.read_text()
    assert text.count("pipeline started") == 1  # its own lines only, not a reused file's
    assert text.rstrip().endswith("pipeline ended: Normal")


def test_too_few_pipeline_logs_is_refused_with_the_key_and_what_to_write(tmp_path: Path) -> None:
    robot = _robot(tmp_path, ROBOT_YAML.replace("PipelineLogs: 10", "PipelineLogs: 3"))
    with pytest.raises(ConfigError) as caught:
        run(robot.load())
    text = str(caught.value)
    assert "PipelineLogs" in text and "fewer than 10" in text and "at least 10" in text


def test_a_pipeline_never_writes_its_log_through_a_symbolic_link(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("not a log\n")

    async def main() -> str:
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "robot.yaml").write_text("UserRoster: [{UserName: bob}]\n")
        robot = Robot(tmp_path, state_dir=tmp_path / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            assert await robot.plugins_initialized(30.0)
            # The log the next pipeline will write, put in place by someone else as a link.
            robot.pipeline_log_path(robot.pipeline_logs._next).symlink_to(precious)  # type: ignore[union-attr]
            await connector.inject("bob", ";ping", "general")
            sent = await connector.next_sent(30.0)
            assert sent is not None
            return sent.text
        finally:
            await robot.stop(grace=2.0)

    assert run(main()) == "PONG"  # logging to the file ends; the pipeline does not
    assert precious.read_text() == "not a log\n"
