"""Concurrency: bursts of commands with the default MaxConcurrentChildren and with no bound.

    .venv/bin/python benchmarks/concurrency.py [--burst 64] [--rounds 3] [--bounds default,0]
                                               [--json PATH]

The same bursts as benchmarks/load.py (`--burst` trivial Lua or JavaScript commands sent at
once, `--rounds` times; no zygote kill), under each of `--bounds`: `default` is robot.yaml's
default `MaxConcurrentChildren`, a number sets it (`0`: no bound). Rows: failures, median and
99th-percentile latency from message in to reply out, throughput, and what the bound is for:
the most children alive at once and their summed memory at that moment (RSS, and PSS, which
shares the zygote's pages fairly), sampled every 10 ms from /proc during one more burst that
is not timed (the sampling costs this process and the children CPU).

`section()` (for benchmarks/run.py) measures bursts of 1, 8, 32 and 64 commands per binding
under the default bound, children started the robot's default way; each robot first answers
a burst of 4 that is not counted (the first command after a start is benchmarks/cold.py's).
Its state folder is settled (the pipeline logs of a robot that has run a while:
`_common.settled_state`); the largest burst is measured once more on a new state folder, whose
first pipelines each create their log file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _common import BASELINE_LABEL, Section, child_modes, settled_state, spawn_baseline
from load import EXTENSIONS, Burst, _percentile, burst

from burrow.bindings.registry import BindingRegistry
from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot
from burrow.engine.slots import default_max_children

MiB = 1024 * 1024


def _memory(pid: int) -> tuple[int, int] | None:
    """(RSS, PSS) in bytes of a live process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            found = {}
            for line in handle:
                name, _, rest = line.partition(":")
                if name in ("Rss", "Pss"):
                    found[name] = int(rest.split()[0]) * 1024
        return found["Rss"], found["Pss"]
    except (OSError, KeyError, ValueError):
        return None


class Peak:
    """The most children alive at once, and their memory then.

    Reading a process's smaps_rollup costs the kernel a walk of its page tables, and this
    runs in the robot's own process: read at every tick for every child, it took a tenth of
    the robot's throughput in the 64-command bursts. So the memory is read only when as many
    children as the peak so far are running, and at most every READ_EVERY seconds unless a
    new peak appears.
    """

    READ_EVERY = 0.1

    def __init__(self) -> None:
        self.children = 0
        self.rss = 0
        self.pss = 0
        self._read_at = 0.0

    def sample(self, robot: Robot) -> None:
        """Read every running child of the robot's pipelines, when it may be a peak."""
        pids = {p.execution.pid for p in robot.pipelines.values() if p.execution is not None}
        pids.discard(None)
        now = time.monotonic()
        if len(pids) < self.children or (
            len(pids) == self.children and now - self._read_at < self.READ_EVERY
        ):
            return
        self._read_at = now
        sizes = [m for pid in pids if pid and (m := _memory(pid)) is not None]
        if len(sizes) > self.children or (
            len(sizes) == self.children and sum(r for r, _ in sizes) > self.rss
        ):
            self.children = len(sizes)
            self.rss = sum(r for r, _ in sizes)
            self.pss = sum(p for _, p in sizes)


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int | None) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of a process, from /proc/<pid>/stat."""
    if pid is None:
        return 0.0, 0.0
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    utime, stime, cutime, cstime = (int(f) / _TICK for f in fields[11:15])
    return utime + stime, cutime + cstime


def _robot_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    root: Path, name: str, bound: str, size: int, rounds: int, settled: bool = True
) -> dict[str, Any]:
    """`rounds` bursts of `size` commands to one binding's extension under `bound`, by a robot
    whose state folder is `settled` (the pipeline logs of a robot that has run a while, which
    it reuses: `_common.settled_state`) or new (each pipeline creates its log file)."""
    suffix, source = EXTENSIONS[name]
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    (root / "ext" / f"hi{suffix}").write_text(textwrap.dedent(source))
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\n"
        f"{bound}\nExternalPlugins:\n  hi_{name}: {{Path: ext/hi{suffix}}}\n"
    )
    state = settled_state(root / "state") if settled else root / "state"
    robot = Robot(root, state_dir=state)
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    peak = Peak()

    async def sampler() -> None:
        while True:
            peak.sample(robot)
            await asyncio.sleep(0.01)

    bursts: list[Burst] = []
    watching: asyncio.Task[None] | None = None
    try:
        await burst(robot, connector, 4, kill=False)  # warm the zygote and the caches
        zygote = robot.zygote.pids.get(name) if robot.zygote is not None else None
        robot_before, zygote_before = _robot_cpu(), _cpu(zygote)
        for _ in range(rounds):
            bursts.append(await burst(robot, connector, size, kill=False))
        await asyncio.sleep(0.2)  # the last children are reaped, their CPU counted
        robot_cpu = _robot_cpu() - robot_before
        zygote_after = _cpu(zygote)
        # Memory in one more burst, not timed: reading a child's smaps_rollup walks its page
        # tables under its memory lock, in this process, so it is kept out of the timed ones.
        watching = asyncio.get_running_loop().create_task(sampler())
        await burst(robot, connector, size, kill=False)
    finally:
        if watching is not None:
            watching.cancel()
        limit = robot.slots.limit
        await robot.stop(grace=5)
    latencies = [s * 1000 for b in bursts for s in b.latencies]
    commands = sum(b.size for b in bursts)
    return {
        "measure": f"{name}: {size} at once, " + (f"bound {limit}" if limit else "no bound"),
        "failures": sum(b.failures for b in bursts),
        "commands": sum(b.size for b in bursts),
        "p50_ms": round(_percentile(latencies, 0.5), 1),
        "p99_ms": round(_percentile(latencies, 0.99), 1),
        "per_second": round(
            sum(len(b.latencies) for b in bursts) / sum(b.elapsed for b in bursts), 1
        ),
        # CPU per command: this process (the robot, the test connector and this harness),
        # the zygote (its forks), its children (every child it forked, spares included).
        "cpu_ms": {
            "robot": round(robot_cpu / max(1, commands) * 1000, 2),
            "zygote": round((zygote_after[0] - zygote_before[0]) / max(1, commands) * 1000, 2),
            "children": round((zygote_after[1] - zygote_before[1]) / max(1, commands) * 1000, 2),
        },
        "peak_children": peak.children,
        "peak_rss_mib": round(peak.rss / MiB),
        "peak_pss_mib": round(peak.pss / MiB),
    }


SIZES = (1, 8, 32, 64)


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py: 1, 8, 32, 64 at once per binding, default bound and mode."""
    logging.getLogger("burrow").setLevel(logging.ERROR)
    installed = BindingRegistry.discover().bindings
    sizes = (1, 8) if quick else SIZES
    mode = "spare" if "spare" in child_modes() else "zygote"
    out = Section.start("concurrency", 30, bound=default_max_children(), mode=mode)
    with tempfile.TemporaryDirectory() as tmp:
        for name in (n for n in EXTENSIONS if n in installed):
            # Settled state folders, and the largest burst once more on a new one.
            plans = [(size, True) for size in sizes] + [(sizes[-1], False)]
            for size, settled in plans:
                rounds = max(1 if quick else 3, (8 if quick else 24) // size)
                root = Path(tmp) / f"{name}{size}{'' if settled else 'new'}"
                r = asyncio.run(measure(root, name, "", size, rounds, settled))
                key, what = f"{name}.{size}", f"{name}, {size} at once"
                if not settled:
                    key, what = f"{key}.new_state", f"{what}, new state folder"
                out.add(
                    f"{key}.failures",
                    f"{what}: failures ({r['commands']} commands)",
                    r["failures"],
                    "count",
                    rounds=rounds,
                )
                for q in ("p50", "p99"):
                    ms = r[f"{q}_ms"]
                    out.add(f"{key}.{q}", f"{what}: {q} latency", ms, "ms", ms / out.baseline_ms)
                spread = r["p99_ms"] / r["p50_ms"] if r["p50_ms"] else 0.0
                out.add(f"{key}.p99_over_p50", f"{what}: p99 / p50", spread, "x")
                out.add_rate(f"{key}.rate", f"{what}: throughput", r["per_second"])
                cpu = r["cpu_ms"]
                out.add(
                    f"{key}.cpu",
                    f"{what}: CPU per command (robot {cpu['robot']:g} + zygote "
                    f"{cpu['zygote']:g} + children {cpu['children']:g})",
                    round(sum(cpu.values()), 2),
                    "ms",
                    sum(cpu.values()) / out.baseline_ms,
                    **{f"cpu_{k}_ms": v for k, v in cpu.items()},
                )
                if size > 1:
                    out.add(
                        f"{key}.peak_pss",
                        f"{what}: peak children alive ({r['peak_children']}), PSS",
                        r["peak_pss_mib"],
                        "MiB",
                    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bounds", default="default,0", help="comma-separated; default or N")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/concurrency.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    installed = BindingRegistry.discover().bindings
    base_ms = statistics.median(spawn_baseline(30)) * 1000
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (n for n in EXTENSIONS if n in installed):
            for choice in args.bounds.split(","):
                bound = "" if choice == "default" else f"MaxConcurrentChildren: {int(choice)}"
                root = Path(tmp) / f"{name}{len(results)}"
                results.append(asyncio.run(measure(root, name, bound, args.burst, args.rounds)))
    print(
        f"{'measure':<34} {'failed':>7} {'p50 ms':>7} {'p99 ms':>7} {'per s':>6} "
        f"{'children':>8} {'RSS MiB':>8} {'PSS MiB':>8}"
    )
    print(f"{BASELINE_LABEL}: {base_ms:.1f} ms")
    for r in results:
        print(
            f"{r['measure']:<34} {r['failures']:>3}/{r['commands']:<3} {r['p50_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['per_second']:>6.1f} {r['peak_children']:>8} "
            f"{r['peak_rss_mib']:>8} {r['peak_pss_mib']:>8}"
        )
    print(
        f"(burst={args.burst}, rounds={args.rounds}, cpus={os.cpu_count()}, default bound "
        f"{default_max_children()}, Python {sys.version.split()[0]})"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "burst": args.burst,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "default_bound": default_max_children(),
        "baseline_ms": round(base_ms, 3),
    }
    args.json.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
