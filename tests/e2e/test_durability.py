"""A robot SIGKILLed mid-stream loses no acknowledged datum update and leaves a sound brain."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from burrow.brain import Datums, SqliteBrain

UPDATES = 400
KILL_AFTER = 60


def _stream_extension() -> str:
    # Each step checks the counter out, writes i, and only then says "ack i": an ack on the
    # terminal means the robot had answered UpdateDatum, i.e. the write was acknowledged.
    lines = [
        "config: |",
        "  Commands: [{Command: stream, Regex: stream}]",
        "commands:",
        "  stream:",
    ]
    for i in range(1, UPDATES + 1):
        lines += [
            f"    - {{call: [CheckoutDatum, counter, true], as: c{i}}}",
            f"    - {{call: [UpdateDatum, counter, '{{c{i}[lock_token]}}', {i}], as: u{i}}}",
            f"    - [Say, 'ack {i} {{u{i}[ret_val]}}']",
        ]
    return "\n".join(lines) + "\n"


def test_sigkilled_robot_keeps_every_acknowledged_update(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "stream.test").write_text(_stream_extension())
    (tmp_path / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\nExternalPlugins:\n  stream: {Path: stream.test}\n"
    )
    robot = subprocess.Popen(
        [sys.executable, "-m", "burrow", "run", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    acked = 0
    try:
        assert robot.stdin is not None and robot.stdout is not None
        robot.stdin.write(";stream\n")
        robot.stdin.flush()  # stdin stays open: end of input would stop the robot cleanly
        deadline = time.monotonic() + 120
        while acked < KILL_AFTER and time.monotonic() < deadline:
            line = robot.stdout.readline()
            if "ack " in line:
                number, ret = line.split("ack ", 1)[1].split()[:2]
                assert ret == "0", line
                acked = int(number)
        assert acked >= KILL_AFTER, f"only {acked} updates acknowledged"
        os.kill(robot.pid, signal.SIGKILL)
    finally:
        robot.kill()
        robot.wait()
    time.sleep(0.5)  # the orphaned child notices the broken pipe and exits

    brain_file = tmp_path / "state" / "brain.sqlite3"
    with sqlite3.connect(brain_file) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    async def read_counter() -> object:
        brain = SqliteBrain(brain_file)
        await brain.open()
        try:
            return (await Datums(brain).checkout("stream", "counter", False)).datum
        finally:
            await brain.close()

    value = asyncio.run(read_counter())
    # Every acknowledged update is there; at most the one in flight went further.
    assert isinstance(value, int) and acked <= value <= acked + 1, (acked, value)
