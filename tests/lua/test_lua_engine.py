"""Lua extensions through the whole robot: the transcript of every method group, and start-up errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from support import ROOT, burrow, catalog_problems

LUA_ROBOT = ROOT / "tests" / "robots" / "lua"


def test_every_robot_method_group_from_lua_transcript() -> None:
    result = burrow("transcript", str(LUA_ROBOT), "tests/transcripts/lua.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "21 passed, 0 failed" in result.stdout
    # The task log has the file, the line and the Lua traceback; the user got the short form.
    assert "tour.lua:78: attempt to index a nil value" in result.stderr
    assert "stack traceback" in result.stderr


def test_lua_syntax_error_is_reported_naming_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="burrow"):
        problems = catalog_problems(LUA_ROBOT, tmp_path)
    # As upstream, a failing _configure disables nothing: the plugin keeps its file's config.
    assert problems == {}
    assert "broken.lua:4:" in caplog.text
