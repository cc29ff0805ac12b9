"""Loaders and symbolic links: a link inside the extension's folder or a lib path is followed
only when its target lies inside one of them, and a refused file's content never shows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

SECRET = "TOP_SECRET_4f9a"
# A file of Lua that does not compile: Lua's parse error would quote it ("near 'TOP_SECRET...'").
LEAKY = f"{SECRET} {SECRET} = = =\n"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A robot as it lies on disk: the extension's folder (tmp_path), a lib path inside it,
    and beside them a folder of other files and the robot's state with its brain."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.lua").write_text(LEAKY)
    (outside / "folder" / "secret.lua").write_text(LEAKY)
    (outside / "state").mkdir()
    brain = outside / "state" / "brain.sqlite3"
    with sqlite3.connect(brain) as db:
        db.execute("CREATE TABLE memories (key TEXT, value TEXT)")
        db.execute("INSERT INTO memories VALUES ('token', ?)", (SECRET,))
    db.close()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "file.lua").symlink_to(outside / "secret.lua")
    (lib / "folder").symlink_to(outside / "folder", target_is_directory=True)
    (lib / "brain.lua").symlink_to(brain)
    (tmp_path / "near.lua").symlink_to(outside / "secret.lua")
    (tmp_path / "brain.lua").symlink_to(brain)
    return {"lib": lib, "outside": outside, "brain": brain}


OUTCOME = """
local report = require "report"
local function outcome(f, ...)
    local ok, value, err = pcall(f, ...)
    if not ok then return value end
    if value == nil then return err end
    return type(value) == "function" and value() or value
end
"""


def _assert_refused_without_leak(run, count: int) -> None:
    assert run.result.error is None, run.result.error
    assert len(run.report) == count
    for refusal in run.report:
        assert isinstance(refusal, str) and "cannot read" in refusal, refusal
    everything = repr(run.report) + repr(run.logs)
    assert SECRET not in everything
    assert "SQLite" not in everything


def test_a_link_in_a_lib_path_to_a_file_outside_is_refused(run_lua, tmp_path, layout) -> None:
    lib = layout["lib"]
    run = run_lua(
        OUTCOME
        + f"""
        report(outcome(require, "file"), outcome(loadfile, "{lib}/file.lua"),
               outcome(dofile, "{lib}/file.lua"), outcome(loadfile, "{tmp_path}/near.lua"),
               outcome(dofile, "{tmp_path}/near.lua"))
        """,
        lib_paths=[lib],
    )
    _assert_refused_without_leak(run, 5)


def test_a_link_in_a_lib_path_to_a_folder_outside_is_refused(run_lua, layout) -> None:
    lib = layout["lib"]
    run = run_lua(
        OUTCOME
        + f"""
        report(outcome(require, "folder.secret"), outcome(loadfile, "{lib}/folder/secret.lua"),
               outcome(dofile, "{lib}/folder/secret.lua"))
        """,
        lib_paths=[lib],
    )
    _assert_refused_without_leak(run, 3)


def test_a_link_to_the_robots_brain_is_refused(run_lua, tmp_path, layout) -> None:
    lib = layout["lib"]
    run = run_lua(
        OUTCOME
        + f"""
        report(outcome(require, "brain"), outcome(loadfile, "{lib}/brain.lua"),
               outcome(dofile, "{tmp_path}/brain.lua"))
        """,
        lib_paths=[lib],
    )
    _assert_refused_without_leak(run, 3)


def test_a_require_that_fails_on_a_refused_link_raises_without_the_content(run_lua, layout) -> None:
    run = run_lua('require "brain"', lib_paths=[layout["lib"]])
    assert run.result.error is not None
    assert "cannot read" in run.result.error.message
    everything = repr(run.result.error.to_map()) + repr(run.logs)
    assert SECRET not in everything and "SQLite" not in everything


def test_links_whose_target_is_inside_are_followed(run_lua, tmp_path) -> None:
    shared = tmp_path.parent / f"{tmp_path.name}-shared"  # a lib path that is itself a link
    shared.mkdir()
    (shared / "real.lua").write_text('return "from the shared lib"')
    lib = tmp_path / "lib"
    lib.symlink_to(shared, target_is_directory=True)
    (tmp_path / "mod.lua").write_text("#!/usr/bin/env lua\nreturn 'line ' .. 2")
    (tmp_path / "alias.lua").symlink_to(tmp_path / "mod.lua")
    (shared / "alias.lua").symlink_to(shared / "real.lua")
    run = run_lua(
        OUTCOME
        + f"""
        report(outcome(require, "alias"), outcome(require, "real"),
               outcome(dofile, "{tmp_path}/alias.lua"), outcome(loadfile, "{lib}/real.lua"))
        """,
        lib_paths=[lib],
    )
    assert run.result.error is None, run.result.error
    assert run.report == [
        "from the shared lib",
        "from the shared lib",
        "line 2",
        "from the shared lib",
    ]


def test_errors_in_a_linked_module_name_the_path_the_extension_used(run_lua, tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "broken_real.lua").write_text("local x = 1\nreturn x +\n")
    (lib / "broken.lua").symlink_to(lib / "broken_real.lua")
    run = run_lua('require "broken"', lib_paths=[lib])
    traceback = run.error_data["traceback"]
    assert "broken.lua:3:" in traceback and "broken_real" not in traceback, traceback


def test_a_fifo_in_a_lib_path_is_refused_without_blocking(run_lua, tmp_path) -> None:
    import os

    lib = tmp_path / "lib"
    lib.mkdir()
    os.mkfifo(lib / "pipe.lua")
    run = run_lua(
        OUTCOME + 'report(outcome(require, "pipe"), package.searchpath("pipe", package.path))',
        lib_paths=[lib],
        timeout=10.0,
    )
    assert run.result.error is None, run.result.error
    assert "cannot read" in run.report[0] and "not a regular file" in run.report[0]
    assert run.report[1] == f"{lib}/pipe.lua"  # package.searchpath does not open it either


def test_hostile_names_are_refused_with_a_message(run_lua, tmp_path) -> None:
    run = run_lua(
        OUTCOME
        + f"""
        local dir = "{tmp_path}"
        report(outcome(loadfile, dir .. "/a\\0b.lua"), outcome(dofile, dir .. "/\\xff.lua"),
               outcome(package.searchpath, nil, "x"), outcome(package.searchpath, "a", {{}}),
               package.searchers[2]({{}}), package.searchers[2]("\\xff"),
               outcome(function() package.path = 5; return require "anything" end))
        """
    )
    assert run.result.error is None, run.result.error
    nul, not_utf8, no_name, no_path, table_name, bad_name, number_path = run.report
    assert "cannot read" in nul and "cannot read" in not_utf8
    assert "bad argument #1 to 'searchpath'" in no_name
    assert "bad argument #2 to 'searchpath'" in no_path
    assert "UTF-8 string" in table_name and "UTF-8 string" in bad_name
    assert "package.path must be a UTF-8 string" in number_path
