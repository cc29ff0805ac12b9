"""End-to-end latency: a chat message in, the reply out, through a real robot on the test connector.

    .venv/bin/python benchmarks/e2e.py [--runs 30] [--json PATH]

Rows: the built-in `ping` (no child: the engine's own cost), then a trivial command of each
installed binding (a fresh child per message). Each is shown beside the same-run baseline of
spawning `python -I -S -c pass`, as a ratio, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from burrow.bindings.registry import BindingRegistry
from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot

# A trivial "say hi" extension per binding, each with its default configuration.
EXTENSIONS = {
    "test": (
        ".test",
        """\
        config: |
          Commands: [{Command: hi, Regex: 'hi'}]
        commands:
          hi:
            - [Say, hi]
        """,
    ),
    "lua": (
        ".lua",
        """\
        local gopherbot = require "gopherbot_v1"
        local cmd = arg[1]
        if cmd == "_configure" then
          return "Commands: [{Command: hi, Regex: 'hi'}]"
        end
        local bot = gopherbot.Robot:new()
        bot:Say("hi")
        return gopherbot.task.Normal
        """,
    ),
    "js": (
        ".js",
        """\
        const { Robot, task } = require('gopherbot_v1')();
        function main(argv) {
          if (argv[2] === "_configure") return "Commands: [{Command: hi, Regex: 'hi'}]";
          new Robot().Say("hi");
          return task.Normal;
        }
        main(process.argv);
        """,
    ),
}


def baseline(runs: int) -> list[float]:
    """Seconds to spawn and reap `python -I -S -c pass`."""
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        out.append(time.perf_counter() - start)
    return out


async def measure(root: Path, bindings: list[str], runs: int) -> dict[str, list[float]]:
    """Median-ready samples of message-in to reply-out for ping and each binding's `hi`."""
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
    samples: dict[str, list[float]] = {}
    try:
        for label, text in [("ping", ";ping")] + [(name, ";hi") for name in bindings]:
            if label != "ping":
                # Only this binding's plugin is enabled for its rows, so ';hi' is unambiguous.
                for task in robot.catalog.tasks.values():
                    if task.name.startswith("hi_"):
                        task.disabled = "" if task.name == f"hi_{label}" else "benchmark"
            times = []
            for _ in range(runs + 2):
                start = time.perf_counter()
                await connector.inject("alice", text, "general")
                sent = await connector.next_sent(30)
                assert sent is not None, f"{label}: no reply"
                times.append(time.perf_counter() - start)
                await asyncio.sleep(0.01)
            samples[label] = times[2:]  # the first two runs warm the caches
    finally:
        await robot.stop(grace=5)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/e2e.json"))
    args = parser.parse_args()
    installed = BindingRegistry.discover().bindings
    bindings = [name for name in EXTENSIONS if name in installed]
    base = statistics.median(baseline(args.runs)) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(measure(Path(tmp) / "robot", bindings, args.runs))
    rows = [("baseline: spawn `python -I -S -c pass`", base)]
    rows += [
        (
            f"{'built-in ping (no child)' if k == 'ping' else k + ' binding: trivial command'}",
            statistics.median(v) * 1000,
        )
        for k, v in samples.items()
    ]
    print(f"{'message in -> reply out (median)':<48} {'ms':>9} {'x baseline':>11}")
    results = []
    for label, ms in rows:
        print(f"{label:<48} {ms:>9.2f} {ms / base:>11.2f}")
        results.append(
            {"measure": label, "median_ms": round(ms, 3), "ratio_to_baseline": round(ms / base, 3)}
        )
    print(f"(runs={args.runs}, bindings measured: {', '.join(bindings) or 'none'})")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": args.runs, "results": results}, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
