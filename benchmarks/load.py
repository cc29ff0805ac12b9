"""Load: bursts of concurrent commands through a real robot, then the same with the zygote killed.

    .venv/bin/python benchmarks/load.py [--burst 64] [--rounds 3] [--json PATH]

For each installed binding (Lua, JavaScript), `--burst` trivial commands (`;hi N`, answered
"hi N" by a fresh child each) are sent at once through the test connector, `--rounds` times.
Rows: failures (no "hi N" within 60 s), median and 99th-percentile latency from message in to
reply out, and throughput (commands / time from the first message to the last reply). Then the
same bursts with the zygote killed (SIGKILL) as soon as the first reply of the burst arrives,
when most of the burst is running or queued: the failures are what docs/security.md's "Zygote
failure" promises to keep at zero. Latencies are also shown as a ratio to the same-run
baseline of spawning `python -I -S -c pass`, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _common import BASELINE_LABEL, spawn_baseline

from burrow.bindings.registry import BindingRegistry
from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot

EXTENSIONS = {
    "lua": (
        ".lua",
        """\
        local gopherbot = require "gopherbot_v1"
        if arg[1] == "_configure" then
          return "Commands: [{Command: hi, Regex: 'hi (\\\\d+)'}]"
        end
        if arg[1] == "_init" then return gopherbot.task.Normal end
        gopherbot.Robot:new():Say("hi " .. arg[2])
        return gopherbot.task.Normal
        """,
    ),
    "js": (
        ".js",
        """\
        const { Robot, task } = require('gopherbot_v1')();
        function main(argv) {
          if (argv[2] === "_configure") return "Commands: [{Command: hi, Regex: 'hi (\\\\d+)'}]";
          if (argv[2] === "_init") return task.Normal;
          new Robot().Say("hi " + argv[3]);
          return task.Normal;
        }
        main(process.argv);
        """,
    ),
}
REPLY_TIMEOUT = 60.0


class Burst:
    """One burst's outcome: the latency of each command that was answered, and the wall time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.latencies: list[float] = []
        self.elapsed = 0.0

    @property
    def failures(self) -> int:
        """Commands without their "hi N" reply."""
        return self.size - len(self.latencies)


async def burst(robot: Robot, connector: TestConnector, size: int, kill: bool) -> Burst:
    """Send `size` commands at once; optionally SIGKILL the zygote at the first reply."""
    outcome = Burst(size)
    sent_at: dict[str, float] = {}
    start = time.perf_counter()
    for n in range(size):
        sent_at[f"hi {n}"] = time.perf_counter()
        await connector.inject("alice", f";hi {n}", "general")
    killed = not kill
    replies = 0
    while replies < size:
        message = await connector.next_sent(REPLY_TIMEOUT)
        if message is None:
            break  # the rest never came: failures
        replies += 1
        arrived = time.perf_counter()
        if not killed:
            for pid in (robot.zygote.pids if robot.zygote is not None else {}).values():
                os.kill(pid, signal.SIGKILL)
            killed = True
        if message.text in sent_at:
            outcome.latencies.append(arrived - sent_at.pop(message.text))
    outcome.elapsed = time.perf_counter() - start
    return outcome


async def measure(
    root: Path, bindings: list[str], size: int, rounds: int
) -> dict[str, list[Burst]]:
    """Bursts per binding, without and with a zygote kill."""
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    declared = []
    for name in bindings:
        suffix, source = EXTENSIONS[name]
        (root / "ext" / f"hi{suffix}").write_text(textwrap.dedent(source))
        declared.append(f"  hi_{name}: {{Path: ext/hi{suffix}}}")
    (root / "conf" / "robot.yaml").write_text(
        "UserRoster: [{UserName: alice}]\nExternalPlugins:\n" + "\n".join(declared) + "\n"
    )
    robot = Robot(root, state_dir=root / "state")
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    out: dict[str, list[Burst]] = {}
    try:
        for name in bindings:
            for task in robot.catalog.tasks.values():
                if task.name.startswith("hi_"):
                    task.disabled = "" if task.name == f"hi_{name}" else "benchmark"
            await burst(robot, connector, 4, kill=False)  # warm the zygote and the caches
            for kill in (False, True):
                key = f"{name} kill" if kill else name
                out[key] = [await burst(robot, connector, size, kill) for _ in range(rounds)]
    finally:
        await robot.stop(grace=5)
    return out


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/load.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the zygote's replacement is logged as a warning
    installed = BindingRegistry.discover().bindings
    bindings = [name for name in EXTENSIONS if name in installed]
    base_ms = statistics.median(spawn_baseline(30)) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        measured = asyncio.run(measure(Path(tmp) / "robot", bindings, args.burst, args.rounds))
    header = (
        f"{'measure':<46} {'failed':>9} {'p50 ms':>8} {'p99 ms':>8} {'per s':>7} {'p50 x base':>11}"
    )
    print(header)
    print(f"{BASELINE_LABEL:<46} {'':>9} {base_ms:>8.1f} {'':>8} {'':>7} {1:>11.2f}")
    results: list[dict[str, Any]] = []
    for key, bursts in measured.items():
        name, killed = key.split()[0], key.endswith("kill")
        latencies = [ms * 1000 for b in bursts for ms in b.latencies]
        failed = sum(b.failures for b in bursts)
        total = sum(b.size for b in bursts)
        per_second = sum(len(b.latencies) for b in bursts) / sum(b.elapsed for b in bursts)
        p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
        label = f"{name}: {args.burst} at once" + (", zygote killed mid-burst" if killed else "")
        print(
            f"{label:<46} {f'{failed}/{total}':>9} {p50:>8.1f} {p99:>8.1f} "
            f"{per_second:>7.1f} {p50 / base_ms:>11.2f}"
        )
        results.append(
            {
                "measure": label,
                "failures": failed,
                "commands": total,
                "p50_ms": round(p50, 2),
                "p99_ms": round(p99, 2),
                "per_second": round(per_second, 2),
                "p50_ratio_to_baseline": round(p50 / base_ms, 3),
            }
        )
    print(
        f"(burst={args.burst}, rounds={args.rounds}, cpus={os.cpu_count()}, "
        f"Python {sys.version.split()[0]})"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"burst": args.burst, "rounds": args.rounds, "baseline_ms": round(base_ms, 3)}
    args.json.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
