"""What every benchmark shares: the same-run spawn baseline, and the table and JSON it writes.

These machines are noisy, so no figure stands alone: each is printed as a ratio to a baseline
measured in the same run (spawning `python -I -S -c pass`, the floor of any one-shot child).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from burrow.bindings.spec import Binding
from burrow.runner.execution import ExecutionSpec, RobotCall, run_execution

BASELINE_LABEL = "baseline: spawn `python -I -S -c pass` to exit"


def spawn_baseline(runs: int) -> list[float]:
    """Seconds from spawn to exit of `python -I -S -c pass`, `runs` times."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return times


def report(rows: Sequence[tuple[str, Sequence[float]]], json_path: Path, **meta: Any) -> None:
    """Print `(label, samples in seconds)` rows as median ms and x the first row; write JSON."""
    medians = [(label, statistics.median(samples) * 1000) for label, samples in rows]
    base_ms = medians[0][1]
    width = max(len(label) for label, _ in medians) + 2
    print(f"{'measure (median)':<{width}} {'ms':>9} {'x baseline':>11}")
    results = []
    for label, ms in medians:
        print(f"{label:<{width}} {ms:>9.3f} {ms / base_ms:>11.3f}")
        results.append(
            {
                "measure": label,
                "median_ms": round(ms, 4),
                "ratio_to_baseline": round(ms / base_ms, 4),
            }
        )
    details = ", ".join(f"{k}={v}" for k, v in meta.items())
    print(f"({details}{', ' if details else ''}Python {sys.version.split()[0]})")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    print(f"wrote {json_path}")


class CallArrivals:
    """A Robot API double that answers every call at once and notes when each arrived."""

    def __init__(self) -> None:
        self.times: list[float] = []

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.times.append(time.perf_counter())
        return {"ret_val": 0}


async def whole_executions(
    binding: Binding, method: str, params: dict[str, Any], workdir: Path, runs: int
) -> list[float]:
    """Seconds for complete executions (spawn, hello, run, shutdown, reap), `runs` times."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await run_execution(ExecutionSpec(binding, method, params, workdir))
        assert result.ret_val == 0, result.error
        times.append(time.perf_counter() - start)
    return times
