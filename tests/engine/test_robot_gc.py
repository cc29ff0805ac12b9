"""What a robot builds at load is kept out of the collector's full passes while it runs, and
handed back when it stops (Robot.start / Robot.stop)."""

from __future__ import annotations

import gc
from pathlib import Path

from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot
from support import run


async def _freeze_counts(root: Path) -> tuple[int, int, int]:
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "robot.yaml").write_text("UserRoster: [{UserName: bob}]\n")
    robot = Robot(root, state_dir=root / "state")
    before = gc.get_freeze_count()
    await robot.start({"test": TestConnector({})}, primary="test")
    running = gc.get_freeze_count()
    await robot.stop(grace=2.0)
    return before, running, gc.get_freeze_count()


def test_the_loaded_robot_is_frozen_while_it_runs_and_released_at_its_stop(
    tmp_path: Path,
) -> None:
    before, running, after = run(_freeze_counts(tmp_path))
    assert running > before + 10_000  # the configuration, catalog and every module's objects
    assert after == 0  # collectable again: a process that runs robots one after another
