"""Lua extensions through the whole robot: the transcript of every method group, and start-up errors."""

from __future__ import annotations

from pathlib import Path

from support import ROOT, burrow, catalog_problems

LUA_ROBOT = ROOT / "tests" / "robots" / "lua"


def test_every_robot_method_group_from_lua_transcript() -> None:
    result = burrow("transcript", str(LUA_ROBOT), "tests/transcripts/lua.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "21 passed, 0 failed" in result.stdout
    # The task log has the file, the line and the Lua traceback; the user got the short form.
    assert "tour.lua:78: attempt to index a nil value" in result.stderr
    assert "stack traceback" in result.stderr


def test_lua_syntax_error_disables_that_plugin_naming_file_and_line(tmp_path: Path) -> None:
    problems = catalog_problems(LUA_ROBOT, tmp_path)
    assert set(problems) == {"broken"}
    assert "broken.lua:4:" in problems["broken"]
