"""Datum checkout→update round trips from an extension, through a real robot and SQLite brain.

    .venv/bin/python benchmarks/datums.py [--runs 7] [--pairs 1000] [--json PATH]

A Lua extension checks a counter out read-write and updates it `pairs` times in a loop; the
same command with one pair is timed in the same run, and the difference divided by the extra
pairs is the cost of one round trip (spawn and start-up cancel out). Beside it: the same
loop's figure for a raw in-process SQLite UPSERT with the brain's pragmas (the floor), and
`python -I -S -c pass` for scale. Needs burrowbot-lua.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot

LOOP = """\
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then
  return "Commands: [{Command: bench, Regex: 'bench (\\\\d+)'}]"
end
local bot = gopherbot.Robot:new()
for i = 1, tonumber(arg[2]) do
  local memory = bot:CheckoutDatum("counter", true)
  memory.datum = i
  bot:UpdateDatum(memory)
end
bot:Say("done " .. arg[2])
"""


def raw_upsert_ms(n: int) -> float:
    """Milliseconds per UPSERT of one row with WAL and synchronous=FULL, in-process."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "raw.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
        start = time.perf_counter()
        for i in range(n):
            db.execute(
                "INSERT INTO t VALUES ('k', ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v", (str(i),)
            )
        elapsed = time.perf_counter() - start
        db.close()
    return elapsed / n * 1000


async def robot_runs(root: Path, pairs: int, runs: int) -> tuple[list[float], list[float]]:
    """Seconds for `bench 1` and `bench <pairs+1>`, `runs` times each, interleaved."""
    (root / "conf").mkdir(parents=True)
    (root / "bench.lua").write_text(textwrap.dedent(LOOP))
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\nExternalPlugins:\n  bench: {Path: bench.lua}\n"
    )
    robot = Robot(root, state_dir=root / "state")
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    small, large = [], []
    try:
        for _ in range(runs + 1):
            for count, sink in ((1, small), (pairs + 1, large)):
                start = time.perf_counter()
                await connector.inject("alice", f";bench {count}", "general")
                sent = await connector.next_sent(300)
                assert sent is not None and sent.text == f"done {count}", sent
                sink.append(time.perf_counter() - start)
    finally:
        await robot.stop(grace=5)
    return small[1:], large[1:]  # the first pair of runs warms caches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/datums.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = asyncio.run(robot_runs(Path(tmp) / "robot", args.pairs, args.runs))
    per_pair = [(b - a) / args.pairs * 1000 for a, b in zip(small, large, strict=True)]
    round_trip = statistics.median(per_pair)
    floor = raw_upsert_ms(2000)
    rows = [
        ("raw sqlite3 UPSERT in-process (WAL, FULL): floor", floor, 1000 / floor),
        ("checkout->update round trip from a Lua extension", round_trip, 1000 / round_trip),
    ]
    print(f"{'measure (median)':<52} {'ms':>8} {'per second':>11} {'x floor':>8}")
    results = []
    for label, ms, rate in rows:
        print(f"{label:<52} {ms:>8.3f} {rate:>11.0f} {ms / floor:>8.2f}")
        results.append(
            {
                "measure": label,
                "median_ms": round(ms, 4),
                "per_second": round(rate),
                "ratio_to_floor": round(ms / floor, 3),
            }
        )
    print(
        f"(runs={args.runs}, pairs per run={args.pairs}; sustained updates/s = 1000 / round trip)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"runs": args.runs, "pairs": args.pairs, "results": results}, indent=2) + "\n"
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
