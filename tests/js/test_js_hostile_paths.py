"""`require` and symbolic links: a link inside the extension's folder or a lib path is followed
only when its target lies inside one of them, and a refused file's content never shows."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

SECRET = "TOP_SECRET_4f9a"
# Neither JavaScript nor JSON: V8's SyntaxError would quote it ("Unexpected identifier ...").
LEAKY = f"{SECRET} {SECRET} = = =\n"


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A robot as it lies on disk: the extension's folder (tmp_path), a lib path inside it,
    and beside them a folder of other files and the robot's state with its brain."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.js").write_text(LEAKY)
    (outside / "folder" / "secret.js").write_text(LEAKY)
    (outside / "folder" / "secret.json").write_text(LEAKY)
    (outside / "state").mkdir()
    brain = outside / "state" / "brain.sqlite3"
    with sqlite3.connect(brain) as db:
        db.execute("CREATE TABLE memories (key TEXT, value TEXT)")
        db.execute("INSERT INTO memories VALUES ('token', ?)", (SECRET,))
    db.close()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "file.js").symlink_to(outside / "secret.js")
    (lib / "folder").symlink_to(outside / "folder", target_is_directory=True)
    (lib / "brain.js").symlink_to(brain)
    (lib / "brain.json").symlink_to(brain)
    (tmp_path / "near.js").symlink_to(outside / "secret.js")
    (tmp_path / "brain.json").symlink_to(brain)
    return {"lib": lib, "outside": outside, "brain": brain}


TRY = (
    "const attempt = (name) => { try { return require(name); } catch (e) { return String(e); } };\n"
)


def _assert_refused_without_leak(run, count: int) -> None:
    assert run.result.error is None, run.result.error
    assert len(run.outputs) == 1 and len(run.outputs[0]) == count, run.outputs
    for refusal in run.outputs[0]:
        assert isinstance(refusal, str) and "cannot read module" in refusal, refusal
    everything = repr(run.outputs) + repr(run.logs)
    assert SECRET not in everything
    assert "SQLite" not in everything


def test_a_link_to_a_file_outside_is_refused(run_js, layout) -> None:
    run = run_js(
        TRY + 'out(["file", "./lib/file", "./lib/file.js", "./near"].map(attempt));',
        lib_paths=[str(layout["lib"])],
    )
    _assert_refused_without_leak(run, 4)


def test_a_link_to_a_folder_outside_is_refused(run_js, layout) -> None:
    run = run_js(
        TRY + 'out(["folder/secret", "folder/secret.json", "./lib/folder/secret"].map(attempt));',
        lib_paths=[str(layout["lib"])],
    )
    _assert_refused_without_leak(run, 3)


def test_a_link_to_the_robots_brain_is_refused(run_js, layout) -> None:
    run = run_js(
        TRY + 'out(["brain", "brain.json", "./brain.json", "./lib/brain.js"].map(attempt));',
        lib_paths=[str(layout["lib"])],
    )
    _assert_refused_without_leak(run, 4)


def test_an_uncaught_refusal_fails_the_execution_without_the_content(run_js, layout) -> None:
    run = run_js('require("brain.json");', lib_paths=[str(layout["lib"])])
    assert run.result.error is not None
    assert "cannot read module 'brain.json'" in run.result.error.message
    everything = repr(run.result.error.to_map()) + repr(run.logs)
    assert SECRET not in everything and "SQLite" not in everything


def test_links_whose_target_is_inside_are_followed(run_js, tmp_path) -> None:
    shared = tmp_path.parent / f"{tmp_path.name}-shared"  # a lib path that is itself a link
    shared.mkdir()
    (shared / "real.js").write_text('module.exports = "from the shared lib";')
    (shared / "alias.js").symlink_to(shared / "real.js")
    lib = tmp_path / "lib"
    lib.symlink_to(shared, target_is_directory=True)
    (tmp_path / "mod.js").write_text('module.exports = "beside the script";')
    (tmp_path / "alias.js").symlink_to(tmp_path / "mod.js")
    run = run_js(
        TRY + 'out(["alias", "real", "./alias", "./lib/real"].map(attempt));',
        lib_paths=[str(lib)],
    )
    assert run.result.error is None, run.result.error
    assert run.outputs == [
        ["from the shared lib", "from the shared lib", "beside the script", "from the shared lib"]
    ]


def test_a_fifo_is_not_opened(run_js, tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    os.mkfifo(lib / "pipe.js")
    run = run_js(TRY + 'out([attempt("pipe"), attempt("./lib/pipe.js")]);', lib_paths=[str(lib)])
    assert run.result.error is None, run.result.error
    for refusal in run.outputs[0]:
        assert "Cannot find module" in refusal, refusal
