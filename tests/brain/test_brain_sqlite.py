"""The SQLite brain: durable acknowledged writes, and clear refusals of files it cannot use."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from burrow.brain import BrainError, Datums, SqliteBrain
from burrow.constants import RetVal
from support import run

# A separate robot process: an endless stream of datum updates, each acknowledged on stdout
# only after `update` has returned. Every round continues from the stored counter.
WRITER = r"""
import asyncio, sys
from pathlib import Path
from burrow.brain import Datums, SqliteBrain

async def main() -> None:
    brain = SqliteBrain(Path(sys.argv[1]))
    await brain.open()
    datums = Datums(brain)
    seq = (await datums.checkout("durability", "counter", False)).datum or 0
    print("ready", flush=True)
    while True:
        seq += 1
        for key, value in ((f"item{seq}", {"seq": seq, "pad": "x" * 200}), ("counter", seq)):
            ret_val, _, token, _ = await datums.checkout("durability", key, True)
            assert ret_val == 0, ret_val
            ret_val = await datums.update("durability", key, token, value)
            assert ret_val == 0, ret_val
        print(seq, flush=True)

asyncio.run(main())
"""

# Holds the brain open (as a second robot would) or an SQLite write transaction open (as an
# sqlite3 shell would) until its stdin closes.
HOLDER = r"""
import asyncio, sqlite3, sys
from pathlib import Path
from burrow.brain import SqliteBrain

path, how = Path(sys.argv[1]), sys.argv[2]
if how == "robot":
    async def main() -> None:
        brain = SqliteBrain(path)
        await brain.open()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    asyncio.run(main())
else:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO brain VALUES ('shell:k', x'00')")
    print("ready", flush=True)
    sys.stdin.read()
"""


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise AssertionError(f"helper did not start: {line!r} {proc.communicate()[1]}")


def _new_brain(path: Path) -> None:
    async def scenario() -> None:
        brain = SqliteBrain(path)
        await brain.open()
        await brain.close()

    run(scenario())


def _refusal(path: Path, **options: float) -> str:
    """The message of the BrainError that opening `path` raises."""

    async def scenario() -> str:
        brain = SqliteBrain(path, **options)  # type: ignore[arg-type]
        with pytest.raises(BrainError) as raised:
            await brain.open()
        # A refused brain must not be left half open.
        with pytest.raises(BrainError, match="not open"):
            await brain.get("ns:k")
        return str(raised.value)

    return run(scenario())


# --- durability -----------------------------------------------------------------------------


def test_acknowledged_updates_survive_sigkill_mid_stream(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"
    acknowledged: list[int] = []
    for round_number, kill_after in enumerate((40, 150, 300)):
        proc = _start(WRITER, str(path))
        _wait_ready(proc)
        assert proc.stdout is not None
        seen = 0
        for line in proc.stdout:
            acknowledged.append(int(line))
            seen += 1
            if seen >= kill_after:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # Acknowledgements already in the pipe were printed before the kill: they count too.
        acknowledged.extend(int(line) for line in proc.stdout.read().split())
        assert proc.stderr is not None
        assert seen >= kill_after, f"round {round_number}: writer died: {proc.stderr.read()}"
        proc.stdout.close()
        proc.stderr.close()

        async def check() -> None:
            brain = SqliteBrain(path)  # the killed robot's claim must not linger
            await brain.open()
            datums = Datums(brain)
            last = acknowledged[-1]
            counter = (await datums.checkout("durability", "counter", False)).datum
            # At most the one update in flight at the kill can be ahead of what was printed.
            assert counter in (last, last + 1)
            for seq in acknowledged:
                item = await datums.checkout("durability", f"item{seq}", False)
                assert item.ret_val == RetVal.Ok and item.datum["seq"] == seq, seq
            await brain.close()

        run(check())
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
    assert acknowledged == list(range(1, len(acknowledged) + 1))


def test_the_brain_is_wal_with_full_synchronous_commits(tmp_path: Path) -> None:
    async def scenario() -> tuple[str, int]:
        brain = SqliteBrain(tmp_path / "brain.sqlite3")
        await brain.open()

        # Asked on the brain's own connection: `synchronous` is per connection.
        def pragmas() -> tuple[str, int]:
            conn = brain._connection()
            return (
                conn.execute("PRAGMA journal_mode").fetchone()[0],
                conn.execute("PRAGMA synchronous").fetchone()[0],
            )

        try:
            return await brain._call(pragmas)
        finally:
            await brain.close()

    assert run(scenario()) == ("wal", 2)  # 2 = FULL


def test_a_new_brain_creates_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "brain.sqlite3"
    _new_brain(path)
    assert path.is_file()


# --- refusing files it cannot use -----------------------------------------------------------


def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"
    garbage = b"these are my notes, not a database\n" * 200
    path.write_bytes(garbage)
    message = _refusal(path)
    assert str(path) in message
    assert "not a usable SQLite database" in message
    assert "move it aside" in message
    assert path.read_bytes() == garbage
    assert not Path(f"{path}-wal").exists()


def test_a_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"
    path.mkdir()
    message = _refusal(path)
    assert str(path) in message
    assert "cannot be opened for reading and writing" in message


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [
        (
            4096 * 2,
            12,
            r"the database is damaged \(Page 3: btreeInitPage\(\) returns error code 11",
        ),
        (
            4096 * 20,
            4096 * 10,
            r"the database is damaged \(Page 30: |not a usable SQLite database",
        ),
    ],
    ids=["one-page-header", "ten-pages"],
)
def test_a_damaged_brain_is_refused(
    tmp_path: Path, offset: int, length: int, expected: str
) -> None:
    path = tmp_path / "brain.sqlite3"

    async def fill() -> None:
        brain = SqliteBrain(path)
        await brain.open()
        await brain.put_many({f"ns:k{i}": bytes([i % 256]) * 900 for i in range(400)})
        await brain.close()

    run(fill())
    with path.open("r+b") as damaged:
        damaged.seek(offset)
        damaged.write(b"\xa5" * length)
    message = _refusal(path)
    assert message.startswith(f"{path}: ")
    assert re.search(expected, message), message
    assert "restore it from a backup" in message


def test_a_database_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    message = _refusal(path)
    assert "another application, not a Burrow brain" in message
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["invoices"]
    conn.close()


def test_a_brain_from_a_newer_burrow_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"
    _new_brain(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert "written by a newer Burrow (brain schema 99" in _refusal(path)


def test_a_brain_in_use_by_another_robot_is_refused_naming_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"
    holder = _start(HOLDER, str(path), "robot")
    try:
        _wait_ready(holder)
        message = _refusal(path)
        assert f"in use by another robot (pid {holder.pid})" in message
    finally:
        holder.communicate("", timeout=30)
    _new_brain(path)  # and usable again once that robot has gone


def test_a_brain_locked_by_an_open_sqlite_transaction_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"
    _new_brain(path)
    holder = _start(HOLDER, str(path), "shell")
    try:
        _wait_ready(holder)
        message = _refusal(path, busy_timeout=0.2)
        assert "locked by another process" in message
    finally:
        holder.communicate("", timeout=30)


def test_opening_the_same_brain_twice_in_one_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brain.sqlite3"

    async def scenario() -> str:
        first = SqliteBrain(path)
        await first.open()
        try:
            with pytest.raises(BrainError) as raised:
                await SqliteBrain(path).open()
        finally:
            await first.close()
        second = SqliteBrain(path)  # free again after close
        await second.open()
        await second.close()
        return str(raised.value)

    assert "already open in this process" in run(scenario())
