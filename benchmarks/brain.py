"""Brain benchmark: datum checkout→update round trips on the SQLite brain, against raw SQLite.

    .venv/bin/python benchmarks/brain.py [--updates 2000] [--json PATH]

Machines here are noisy, so every figure is printed beside a baseline measured in the same run
on the same disk: a raw `sqlite3` single-row UPSERT in autocommit mode with the brain's pragmas
(WAL, synchronous=FULL), so one commit and one fsync per write, as the brain does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from burrow.brain import Datums, MemoryBrain, SqliteBrain
from burrow.brain.provider import BrainProvider
from burrow.constants import RetVal

_UPSERT = (
    "INSERT INTO brain (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE brain (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL)")
    return conn


def baseline_upserts(path: Path, updates: int) -> tuple[list[float], float]:
    """Per-write seconds and total seconds of raw UPSERTs of one row, in this thread."""
    conn = _raw_connection(path)
    times = []
    started = time.perf_counter()
    for n in range(updates):
        start = time.perf_counter()
        conn.execute(_UPSERT, ("bench:counter", str(n).encode()))
        times.append(time.perf_counter() - start)
    total = time.perf_counter() - started
    conn.close()
    return times, total


async def baseline_upserts_via_worker(path: Path, updates: int) -> tuple[list[float], float]:
    """The same raw UPSERTs, each awaited from asyncio on one worker thread (no locking)."""
    conn = _raw_connection(path)
    loop = asyncio.get_running_loop()
    times = []
    with ThreadPoolExecutor(max_workers=1) as worker:
        started = time.perf_counter()
        for n in range(updates):
            start = time.perf_counter()
            await loop.run_in_executor(
                worker, conn.execute, _UPSERT, ("bench:counter", str(n).encode())
            )
            times.append(time.perf_counter() - start)
        total = time.perf_counter() - started
    conn.close()
    return times, total


async def _timed(
    brain: BrainProvider, updates: int, step: Callable[[Datums, int], Awaitable[None]]
) -> tuple[list[float], float]:
    await brain.open()
    datums = Datums(brain)
    times = []
    started = time.perf_counter()
    for n in range(updates):
        start = time.perf_counter()
        await step(datums, n)
        times.append(time.perf_counter() - start)
    total = time.perf_counter() - started
    await brain.close()
    return times, total


async def _round_trip(datums: Datums, n: int) -> None:
    ret_val, _, token, _ = await datums.checkout("bench", "counter", True)
    assert ret_val == RetVal.Ok
    assert await datums.update("bench", "counter", token, {"n": n}) == RetVal.Ok


async def _read_only(datums: Datums, n: int) -> None:
    assert (await datums.checkout("bench", "counter", False)).ret_val == RetVal.Ok


async def _concurrent(path: Path, updates: int, tasks: int) -> float:
    """Total seconds for `tasks` tasks contending for one datum, `updates` round trips in all."""
    brain = SqliteBrain(path)
    await brain.open()
    datums = Datums(brain)

    async def worker(count: int) -> None:
        for n in range(count):
            await _round_trip(datums, n)

    started = time.perf_counter()
    await asyncio.gather(*(worker(updates // tasks) for _ in range(tasks)))
    total = time.perf_counter() - started
    await brain.close()
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/brain.json"))
    args = parser.parse_args()
    n = args.updates

    # The results folder may be on another disk than /tmp: measure where a robot's state lives.
    args.json.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.json.parent) as tmp:
        folder = Path(tmp)
        base, base_total = baseline_upserts(folder / "raw.sqlite3", n)
        hop, hop_total = asyncio.run(baseline_upserts_via_worker(folder / "hop.sqlite3", n))
        trip, trip_total = asyncio.run(_timed(SqliteBrain(folder / "a.sqlite3"), n, _round_trip))
        sqlite_reads = SqliteBrain(folder / "a.sqlite3")
        read, read_total = asyncio.run(_timed(sqlite_reads, n, _read_only))
        mem, mem_total = asyncio.run(_timed(MemoryBrain(), n, _round_trip))
        contended_total = asyncio.run(_concurrent(folder / "c.sqlite3", n, 16))

    base_ms = statistics.median(base) * 1000
    rows: list[tuple[str, float | None, float]] = [
        ("baseline: raw sqlite3 UPSERT, WAL + FULL", statistics.median(base), n / base_total),
        ("raw UPSERT awaited on a worker thread", statistics.median(hop), n / hop_total),
        ("datum checkout(rw)->update, SQLite brain", statistics.median(trip), n / trip_total),
        ("datum checkout(read-only), SQLite brain", statistics.median(read), n / read_total),
        ("datum checkout(rw)->update, memory brain", statistics.median(mem), n / mem_total),
        ("16 tasks contending for one datum, SQLite", None, n / contended_total),
    ]
    base_rate = n / base_total
    print(f"{'measure':<44} {'median ms':>10} {'x base':>7} {'per s':>9} {'x base':>7}")
    results = []
    for label, median_s, rate in rows:
        ms = None if median_s is None else median_s * 1000
        ratio = None if ms is None else ms / base_ms
        shown_ms = "-" if ms is None else f"{ms:.3f}"
        shown_ratio = "-" if ratio is None else f"{ratio:.2f}"
        print(f"{label:<44} {shown_ms:>10} {shown_ratio:>7} {rate:>9.0f} {rate / base_rate:>7.2f}")
        results.append(
            {
                "measure": label,
                "median_ms": None if ms is None else round(ms, 4),
                "ratio_to_baseline": None if ratio is None else round(ratio, 3),
                "per_second": round(rate, 1),
                "rate_ratio_to_baseline": round(rate / base_rate, 3),
            }
        )
    print(f"(updates={n}, SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]})")
    args.json.write_text(json.dumps({"updates": n, "results": results}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
