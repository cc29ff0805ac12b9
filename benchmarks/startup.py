"""Start-up: load + start of a robot with 10, 100, 1000 trivial Lua plugins, cold and cached.

    .venv/bin/python benchmarks/startup.py [--counts 10,100,1000] [--runs 3] [--json PATH]

Each start is a new robot process (`burrow.engine.robot.Robot` on the test connector), as a
restart is. Rows:
- cold: no configuration cache (state/config-cache.sqlite3 removed first), so every plugin's
  default configuration is read by a `_get_config` child — what every start cost before the
  cache;
- cached: the plugins are unchanged since the last start, so no configuration child runs.
Columns: the median time of `load()` + `start()` inside the process, the median time from
spawning the process to the robot being ready (Python and Burrow's imports included, and its
stop right after: the stop ends the plugins' start-up `_init` pipelines, queued or running,
about 50 ms with 1000 plugins), both as a ratio to the same-run baseline of spawning
`python -I -S -c pass`, the configuration children the start ran, and the robot process's
peak RSS (its children not included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import BASELINE_LABEL, Section, ensure_bytecode, spawn_baseline

from burrow.engine.config_cache import CACHE_FILE

PLUGIN = """\
if arg[1] == "_configure" then
  return "Commands: [{Command: hi, Regex: 'hi @N@'}]"
end
return 0
"""


def write_robot(root: Path, count: int) -> None:
    """A robot with `count` trivial Lua plugins, each its own file."""
    (root / "conf").mkdir(parents=True)
    (root / "plugins").mkdir()
    lines = ["ExternalPlugins:"]
    for n in range(count):
        (root / "plugins" / f"p{n}.lua").write_text(PLUGIN.replace("@N@", str(n)))
        lines.append(f"  p{n}: {{Path: plugins/p{n}.lua}}")
    (root / "conf" / "robot.yaml").write_text("\n".join(lines) + "\n")


async def _start_once(root: Path, state: Path) -> dict[str, Any]:
    from burrow.connectors.testing import TestConnector
    from burrow.engine.robot import Robot
    from burrow.runner.process import ChildProcess, SpawnedChild, Spawner

    class CountingRobot(Robot):
        """A robot that counts the children it starts (all of them `_get_config` here)."""

        children = 0

        @property
        def spawner(self) -> Spawner:
            real = self.zygote.spawn if self.zygote is not None else SpawnedChild.spawn

            async def spawn(*args: Any, **kwargs: Any) -> ChildProcess:
                self.children += 1
                return await real(*args, **kwargs)

            return spawn

    start = time.perf_counter()
    robot = CountingRobot(root, state_dir=state)
    await robot.load()
    await robot.start({"test": TestConnector({})}, primary="test")
    elapsed = time.perf_counter() - start
    outcome = {
        "load_start_s": elapsed,
        "children": robot.children,
        "plugins": len(robot.catalog.plugins()),
        "problems": robot.catalog.problems(),
    }
    await robot.stop(grace=5)
    return outcome


def one(root: Path, state: Path) -> None:
    """Child mode: start the robot once, then print one JSON line."""
    outcome = asyncio.run(_start_once(root, state))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so it would report the peak of
    # the process that spawned this one (the benchmark suite's own size) if that was larger.
    status = Path("/proc/self/status").read_text()
    peak = re.search(r"^VmHWM:\s*(\d+) kB", status, re.M)
    outcome["rss_kib"] = int(peak.group(1)) if peak else 0
    print(json.dumps(outcome), flush=True)


def measure(root: Path, state: Path) -> dict[str, Any]:
    """Start the robot in a new process; seconds to ready (spawn included) and its report."""
    argv = [sys.executable, __file__, "--one", str(root), str(state)]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"the robot failed to start:\n{proc.stderr}")
    outcome: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    outcome["process_s"] = wall  # includes stop; see the docstring
    return outcome


def startup_rows(counts: list[int], runs: int, base_ms: float) -> list[dict[str, Any]]:
    """Per count and mode (cold, cached): medians of `runs` starts, as in the JSON's rows."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            root = Path(tmp) / f"robot{count}"
            state = root / "state"
            write_robot(root, count)
            for mode in ("cold", "cached"):
                if mode == "cached":
                    measure(root, state)  # the start that fills the cache
                samples = []
                for _ in range(runs):
                    if mode == "cold":
                        (state / CACHE_FILE).unlink(missing_ok=True)
                    samples.append(measure(root, state))
                for s in samples:
                    expected = count if mode == "cold" else 0
                    problems = sorted(
                        (k, v) for k, v in s["problems"].items() if re.fullmatch(r"p\d+", k)
                    )
                    assert not problems, f"{len(problems)} plugins failed, e.g. {problems[0]}"
                    assert s["plugins"] >= count, (count, s["plugins"])
                    assert s["children"] == expected, (mode, s["children"])
                load_ms = statistics.median(s["load_start_s"] for s in samples) * 1000
                proc_ms = statistics.median(s["process_s"] for s in samples) * 1000
                rows.append(
                    {
                        "plugins": count,
                        "mode": mode,
                        "load_start_ms": round(load_ms, 2),
                        "load_start_ratio_to_baseline": round(load_ms / base_ms, 2),
                        "process_ms": round(proc_ms, 2),
                        "process_ratio_to_baseline": round(proc_ms / base_ms, 2),
                        "config_children": samples[0]["children"],
                        "rss_mib": round(max(s["rss_kib"] for s in samples) / 1024, 1),
                    }
                )
    return rows


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py: 10, 100, 1000 plugins (10 and 100 when quick), cold and cached."""
    counts, runs = ([10, 100], 1) if quick else ([10, 100, 1000], 3)
    out = Section.start("startup", 30, runs=runs)
    for r in startup_rows(counts, runs, out.baseline_ms):
        key, what = f"{r['plugins']}.{r['mode']}", f"{r['plugins']} Lua plugins, {r['mode']}"
        out.add(
            f"{key}.process",
            f"{what}: process start -> ready",
            r["process_ms"],
            "ms",
            r["process_ratio_to_baseline"],
            runs,
            config_children=r["config_children"],
        )
        out.add(
            f"{key}.load_start",
            f"{what}: load() + start()",
            r["load_start_ms"],
            "ms",
            r["load_start_ratio_to_baseline"],
            runs,
        )
        out.add(f"{key}.rss", f"{what}: robot peak RSS", r["rss_mib"], "MiB")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,100,1000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/startup.json"))
    parser.add_argument("--one", nargs=2, metavar=("ROOT", "STATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(Path(args.one[0]), Path(args.one[1]))
        return 0
    ensure_bytecode()  # as an installed robot has it: see _common

    base_ms = statistics.median(spawn_baseline(30)) * 1000
    rows = startup_rows([int(c) for c in args.counts.split(",")], args.runs, base_ms)
    header = (
        f"{'measure (median)':<32} {'load+start ms':>13} {'x base':>8} {'process ms':>11} "
        f"{'x base':>8} {'children':>9} {'RSS MiB':>8}"
    )
    print(header)
    print(f"{BASELINE_LABEL:<32.32} {base_ms:>13.1f} {1:>8.2f}")
    for r in rows:
        label = f"{r['plugins']} Lua plugins, {r['mode']}"
        print(
            f"{label:<32} {r['load_start_ms']:>13.1f} {r['load_start_ratio_to_baseline']:>8.2f} "
            f"{r['process_ms']:>11.1f} {r['process_ratio_to_baseline']:>8.2f} "
            f"{r['config_children']:>9} {r['rss_mib']:>8.1f}"
        )
    for count in sorted({r["plugins"] for r in rows}):
        cold, cached = (
            next(r for r in rows if r["plugins"] == count and r["mode"] == m)
            for m in ("cold", "cached")
        )
        speedup = cold["load_start_ms"] / cached["load_start_ms"]
        print(f"{count} plugins: cached load+start is {speedup:.1f}x faster than cold")
    print(f"(runs={args.runs}, cpus={os.cpu_count()}, Python {sys.version.split()[0]})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"runs": args.runs, "cpus": os.cpu_count(), "baseline_ms": round(base_ms, 3)}
    args.json.write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
