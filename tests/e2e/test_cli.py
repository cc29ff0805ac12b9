"""The real `burrow` command: run, transcript, and how bad input is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import ROOT, burrow


def test_demo_robot_transcript_passes() -> None:
    result = burrow("transcript", ".", "tests/transcripts/demo.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "14 passed, 0 failed" in result.stdout


def test_transcript_mismatch_prints_a_readable_difference_and_fails(tmp_path: Path) -> None:
    suite = tmp_path / "wrong.yaml"
    suite.write_text(
        "cases:\n"
        "  - input: {user: alice, channel: general, text: ';ping'}\n"
        "    replies:\n      - {user: alice, channel: general, text_pattern: '^PANG'}\n"
        "  - input: {user: alice, channel: general, text: ';ping'}\n"
        "    replies: []\n"
    )
    result = burrow("transcript", ".", str(suite))
    assert result.returncode == 1
    assert "FAIL case 1" in result.stdout
    assert "expected user='alice' channel='general' threaded=False text~/^PANG/" in result.stdout
    assert "got      user='alice' channel='general' threaded=False text='PONG'" in result.stdout
    assert "reply 1: unexpected" in result.stdout
    assert "0 passed, 2 failed" in result.stdout


def test_transcript_with_a_bad_key_names_it(tmp_path: Path) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text("cases:\n  - input: {user: alice, txt: hi}\n")
    result = burrow("transcript", ".", str(suite))
    assert result.returncode == 2
    assert "cases.0.input.txt" in result.stderr


def test_run_answers_on_the_terminal_from_piped_input(tmp_path: Path) -> None:
    result = burrow(
        "run", ".", "--state", str(tmp_path / "state"), stdin=";ping\n|c\nping\n|ubob\n;ps\n"
    )
    assert result.returncode == 0, result.stderr
    assert "#general: @alice PONG" in result.stdout
    assert "(dm:alice): PONG" in result.stdout
    assert "(dm:bob): I couldn't match `;ps`." in result.stdout


def test_run_on_embedded_defaults_needs_no_configuration(tmp_path: Path) -> None:
    result = burrow("run", cwd=tmp_path, stdin=";ping\n")
    assert result.returncode == 0, result.stderr
    assert "PONG" in result.stdout
    assert (tmp_path / "state" / "robot.log").is_file()


def test_broken_robot_yaml_refuses_to_start_naming_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text("Alias: ';'\nAdminUsers: alice\nBrian: sqlite\n")
    result = burrow("run", str(tmp_path), stdin="")
    assert result.returncode == 2
    assert "the robot cannot start" in result.stderr
    assert "conf/robot.yaml:2: AdminUsers" in result.stderr
    assert "conf/robot.yaml:3: Brian: unknown key" in result.stderr


def test_unknown_primary_protocol_is_refused_with_the_installed_ones(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text("PrimaryProtocol: slack\n")
    result = burrow("run", str(tmp_path))
    assert result.returncode == 2
    assert "PrimaryProtocol 'slack' has no connector" in result.stderr


def test_terminal_threads_hidden_commands_and_quit(tmp_path: Path) -> None:
    result = burrow(
        "run",
        ".",
        "--state",
        str(tmp_path / "state"),
        stdin="|t\n;ping\n|t\n/;ping\n|q\n;ping\n",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "(thread 0001)" in lines
    assert "#general(0001): @alice PONG" in lines  # answered in the thread
    assert "(#general: @alice PONG)" in lines  # a hidden command gets a hidden reply
    assert sum("PONG" in line for line in lines) == 2  # nothing is read after |q


def test_sigterm_stops_the_robot_even_while_its_input_stays_open(tmp_path: Path) -> None:
    import signal
    import time

    robot = subprocess.Popen(
        [sys.executable, "-m", "burrow", "run", ".", "--state", str(tmp_path / "state")],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert robot.stdin is not None and robot.stdout is not None
        robot.stdin.write(";ping\n")
        robot.stdin.flush()  # and left open: a blocked read of it must not hold the robot
        while "PONG" not in robot.stdout.readline():
            pass
        started = time.monotonic()
        robot.send_signal(signal.SIGTERM)
        assert robot.wait(timeout=20) == 0
        assert time.monotonic() - started < 5
    finally:
        robot.kill()
        robot.wait()


def test_terminal_users_and_channels_come_from_robot_yaml(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}, {UserName: bob}]\n"
        "ProtocolConfig: {terminal: {Channels: [general, ops]}}\n"
    )
    result = burrow("run", str(tmp_path), stdin="|umallory\n|ubob\n|crandom\n|cops\n;ping\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "(no user mallory; users: alice, bob)" in out
    assert "(you are now bob)" in out
    assert "(no channel #random; channels: general, ops)" in out
    assert "#ops: @bob PONG" in out
