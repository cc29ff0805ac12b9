"""Datum checkout→update round trips from an extension, by datum size, through a real robot.

    .venv/bin/python benchmarks/datums.py [--runs 7] [--sizes 0,100,10240,1048576] [--json PATH]

A Lua extension checks a datum out read-write and updates it `N` times in a loop, through a
real robot and its SQLite brain; the same command with one round trip is timed in the same
run, interleaved, and the difference divided by the extra round trips is the cost of one
(spawn and start-up cancel out). Size 0 is a counter (an integer datum); other sizes are a
string of that many bytes, read back by every checkout and written by every update. The first
pair of commands is not counted (the robot's first command has start-up costs of its own that
would land on one side of the difference).

Rows per size: the floor — a raw in-process SQLite UPSERT of a value of that size with the
brain's pragmas (WAL, synchronous=FULL), one batch per run, interleaved with the robot's runs,
and its median over the runs — then the round trip, its rate, and the payload's throughput.
Each time is also a ratio to the same-run baseline of spawning `python -I -S -c pass` (the first
row), and each rate a ratio to the rate of such spawns one after the other. Needs burrowbot-lua.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import Section, settled_state, write_section

from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot

LOOP = """\
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then
  return "Commands: [{Command: bench, Regex: 'bench (\\\\d+) (\\\\d+)'}]"
end
if arg[1] == "_init" then return gopherbot.task.Normal end
local bot = gopherbot.Robot:new()
local size = tonumber(arg[2])
local filler = size > 8 and string.rep("x", size - 8) or ""
for i = 1, tonumber(arg[3]) do
  local memory = bot:CheckoutDatum("blob", true)
  memory.datum = size > 0 and filler .. string.format("%08d", i) or i
  bot:UpdateDatum(memory)
end
bot:Say("done " .. arg[3])
"""
SIZES = (0, 100, 10 * 1024, 1024 * 1024)
MiB = 1024 * 1024


def pairs_for(size: int, quick: bool) -> int:
    """Round trips per long command: fewer for large datums (each moves the datum twice)."""
    full = 1000 if size <= 100 else 300 if size <= 64 * 1024 else 15
    return max(3, full // 10) if quick else full


def size_label(size: int) -> str:
    """0 → "counter", 100 → "100 B", 10240 → "10 KiB", 1048576 → "1 MiB"."""
    if size == 0:
        return "counter"
    for unit, scale in (("MiB", MiB), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def raw_upsert_batch(folder: Path, size: int, n: int) -> float:
    """Seconds per UPSERT of one `size`-byte row (WAL, synchronous=FULL), `n` in a batch."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        return _upserts(Path(tmp) / "raw.sqlite3", size, n)


def _upserts(path: Path, size: int, n: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
    filler = b"x" * max(0, size - 8)
    start = time.perf_counter()
    for i in range(n):
        # Every value differs, as the extension's do: SQLite skips a write that changes nothing.
        value = filler + b"%08d" % i if size else str(i)
        db.execute(
            "INSERT INTO t VALUES ('k', ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v", (value,)
        )
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed / n


async def robot_runs(
    root: Path, sizes: list[int], runs: int, quick: bool
) -> dict[int, dict[str, list[float]]]:
    """Per size: seconds per round trip from each run's pair, and the floor batches."""
    (root / "conf").mkdir(parents=True)
    (root / "bench.lua").write_text(textwrap.dedent(LOOP))
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\nExternalPlugins:\n  bench: {Path: bench.lua}\n"
    )
    robot = Robot(root, state_dir=settled_state(root / "state"))
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")

    async def command(size: int, count: int) -> float:
        start = time.perf_counter()
        await connector.inject("alice", f";bench {size} {count}", "general")
        sent = await connector.next_sent(300)
        assert sent is not None and sent.text == f"done {count}", sent
        return time.perf_counter() - start

    out: dict[int, dict[str, list[float]]] = {}
    try:
        await command(sizes[0], 1)  # not counted: see the module's docstring
        await command(sizes[0], 2)
        for size in sizes:
            pairs = pairs_for(size, quick)
            trips, floors = [], []
            for _ in range(runs):
                small = await command(size, 1)
                large = await command(size, pairs + 1)
                trips.append((large - small) / pairs)
                floors.append(raw_upsert_batch(root, size, max(20, pairs)))
            out[size] = {"trip": trips, "floor": floors}
    finally:
        await robot.stop(grace=5)
    return out


def measure(runs: int, sizes: list[int], quick: bool = False) -> Section:
    """The datum rows, beside a baseline measured first."""
    logging.getLogger("burrow").setLevel(logging.ERROR)
    section = Section.start(
        "datums", 30, runs=runs, pairs={size_label(s): pairs_for(s, quick) for s in sizes}
    )
    with tempfile.TemporaryDirectory() as tmp:
        measured = asyncio.run(robot_runs(Path(tmp) / "robot", sizes, runs, quick))
    for size, samples in measured.items():
        label = size_label(size)
        key = "counter" if size == 0 else f"{size}B"
        floor = section.add_time(
            f"{key}.floor", f"{label}: raw sqlite3 UPSERT in-process (floor)", samples["floor"]
        )
        trip_s = statistics.median(samples["trip"])
        trip = section.add_time(
            f"{key}.trip", f"{label}: checkout->update round trip from Lua", samples["trip"]
        )
        trip.extra["ratio_to_floor"] = round(trip.ratio / floor.ratio, 2)  # type: ignore[operator]
        section.add_rate(f"{key}.rate", f"{label}: round trips per second", 1 / trip_s)
        if size:
            section.add(
                f"{key}.throughput", f"{label}: datum written", size / trip_s / MiB, "MiB/s"
            )
    return section


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py."""
    return measure(runs=2 if quick else 7, sizes=list(SIZES), quick=quick)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--quick", action="store_true", help="fewer round trips per run")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/datums.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    write_section(measure(args.runs, sizes, args.quick), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
