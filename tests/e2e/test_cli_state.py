"""The real `burrow run` with a state folder it cannot use: one line naming it, exit status 2.

Every case here also fails for root (tests may run as root, for whom permissions do not hold).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import burrow


def _refused(result_stderr: str, returncode: int) -> str:
    """The single line of a refused start, checked for the parts every refusal has."""
    assert returncode == 2, result_stderr
    assert "Traceback" not in result_stderr
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    assert " — " in lines[0], "the line says what to do"
    return lines[0]


def test_a_regular_file_given_as_state_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.txt"
    state.write_text("not a folder")

    result = burrow("run", str(tmp_path), "--state", str(state), stdin=";ping\n")

    line = _refused(result.stderr, result.returncode)
    assert line.startswith(f"burrow: the state folder {state} cannot be used: ")
    assert "it exists and is not a folder — give --state a folder" in line
    assert state.read_text() == "not a folder"


def test_a_state_folder_under_a_regular_file_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "plain"
    blocker.write_text("")

    result = burrow("run", str(tmp_path), "--state", str(blocker / "a" / "b"), stdin="")

    line = _refused(result.stderr, result.returncode)
    assert f"{blocker} is a file, so no folder can be made under it" in line


def test_the_default_state_folder_being_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")

    result = burrow("run", str(tmp_path), stdin="")

    line = _refused(result.stderr, result.returncode)
    assert line.startswith(f"burrow: the state folder {tmp_path / 'state'} cannot be used: ")


@pytest.mark.parametrize(
    ("entry", "make", "expected"),
    [
        ("logs", "file", "is a file, but the robot keeps its logs folder there"),
        ("robot.log", "folder", "is a folder, but the robot keeps its robot.log file there"),
        ("terminal_history", "folder", "is a folder, but the robot keeps its terminal_history"),
    ],
)
def test_an_entry_of_the_wrong_kind_in_the_state_folder_is_refused(
    tmp_path: Path, entry: str, make: str, expected: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    if make == "file":
        (state / entry).write_text("")
    else:
        (state / entry).mkdir()

    result = burrow("run", str(tmp_path), "--state", str(state), stdin=";ping\n")

    line = _refused(result.stderr, result.returncode)
    assert f"{state / entry} {expected}" in line
    assert "move it away" in line
    assert "PONG" not in result.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_state_folder_the_robot_cannot_write_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o500)
    try:
        result = burrow("run", str(tmp_path), "--state", str(state), stdin="")
    finally:
        state.chmod(0o700)

    line = _refused(result.stderr, result.returncode)
    assert "it cannot be written: Permission denied" in line


def test_a_usable_state_folder_is_created_with_its_parents(tmp_path: Path) -> None:
    state = tmp_path / "a" / "b" / "state"

    result = burrow("run", str(tmp_path), "--state", str(state), stdin=";ping\n")

    assert result.returncode == 0, result.stderr
    assert "PONG" in result.stdout
    assert (state / "robot.log").is_file()
    assert [p.name for p in state.iterdir() if p.name.startswith("tmp")] == []
