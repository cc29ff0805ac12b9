"""Lua extensions through the whole robot: the transcript of every method group, and start-up errors."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from burrow.engine.robot import Robot

ROOT = Path(__file__).resolve().parents[2]
LUA_ROBOT = ROOT / "tests" / "robots" / "lua"


def test_every_robot_method_group_from_lua_transcript() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BURROW_BINDINGS"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "burrow",
            "transcript",
            str(LUA_ROBOT),
            "tests/transcripts/lua.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "21 passed, 0 failed" in result.stdout
    # The task log has the file, the line and the Lua traceback; the user got the short form.
    assert "tour.lua:78: attempt to index a nil value" in result.stderr
    assert "stack traceback" in result.stderr


def test_lua_syntax_error_disables_that_plugin_naming_file_and_line(tmp_path: Path) -> None:
    async def load() -> dict[str, str]:
        robot = Robot(LUA_ROBOT, state_dir=tmp_path)
        await robot.load()
        try:
            return robot.catalog.problems()
        finally:
            await robot.close_brain()

    problems = asyncio.run(load())
    assert set(problems) == {"broken"}
    assert "broken.lua:4:" in problems["broken"]
