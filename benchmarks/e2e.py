"""End-to-end latency: a chat message in, the reply out, through a real robot on the test connector.

    .venv/bin/python benchmarks/e2e.py [--runs 30] [--json PATH]

Rows: the built-in `ping` (no child: the engine's own cost), then a trivial command of each
installed binding (a fresh child per message), then the cost of one robot call from each
binding: `loop N` makes N GetParameter calls, and (time(loop N+1) - time(loop 1)) / N cancels
the spawn. Each figure is shown beside the same-run baseline of spawning
`python -I -S -c pass`, as a ratio, because these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import BASELINE_LABEL, report, spawn_baseline

from burrow.bindings.registry import BindingRegistry
from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot

# A trivial "say hi" extension per binding, each with its default configuration.
EXTENSIONS = {
    "test": (
        ".test",
        """\
        config: |
          Commands: [{Command: hi, Regex: 'hi'}, {Command: loop, Regex: 'loop (\\d+)'}]
        commands:
          hi:
            - [Say, hi]
          loop:
            - [Say, looped]
        """,
    ),
    "lua": (
        ".lua",
        """\
        local gopherbot = require "gopherbot_v1"
        local cmd = arg[1]
        if cmd == "_configure" then
          return "Commands: [{Command: hi, Regex: 'hi'}, {Command: loop, Regex: 'loop (\\\\d+)'}]"
        end
        local bot = gopherbot.Robot:new()
        if cmd == "loop" then
          for _ = 1, tonumber(arg[2]) do bot:GetParameter("X") end
          bot:Say("looped")
        else
          bot:Say("hi")
        end
        return gopherbot.task.Normal
        """,
    ),
    "js": (
        ".js",
        """\
        const { Robot, task } = require('gopherbot_v1')();
        function main(argv) {
          if (argv[2] === "_configure")
            return "Commands: [{Command: hi, Regex: hi}, {Command: loop, Regex: 'loop (\\\\d+)'}]";
          const bot = new Robot();
          if (argv[2] === "loop") {
            for (let i = 0; i < Number(argv[3]); i++) bot.GetParameter("X");
            bot.Say("looped");
          } else {
            bot.Say("hi");
          }
          return task.Normal;
        }
        main(process.argv);
        """,
    ),
}


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
            if label not in ("ping", "test"):  # the transport's own call cost: benchmarks/rpc.py
                samples[f"{label} call"] = await _call_cost(connector, runs)
    finally:
        await robot.stop(grace=5)
    return samples


LOOP_CALLS = 500


async def _call_cost(connector: TestConnector, runs: int) -> list[float]:
    """Seconds per robot call: (loop N+1 - loop 1) / N, paired in time, per run."""
    out = []
    for _ in range(max(5, runs // 3)):
        pair = []
        for count in (1, LOOP_CALLS + 1):
            start = time.perf_counter()
            await connector.inject("alice", f";loop {count}", "general")
            sent = await connector.next_sent(60)
            assert sent is not None and sent.text == "looped", sent
            pair.append(time.perf_counter() - start)
        out.append((pair[1] - pair[0]) / LOOP_CALLS)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/e2e.json"))
    args = parser.parse_args()
    installed = BindingRegistry.discover().bindings
    bindings = [name for name in EXTENSIONS if name in installed]
    base = spawn_baseline(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        samples = asyncio.run(measure(Path(tmp) / "robot", bindings, args.runs))
    rows: list[tuple[str, list[float]]] = [(BASELINE_LABEL, base)]
    for key, values in samples.items():
        if key == "ping":
            label = "built-in ping (no child)"
        elif key.endswith(" call"):
            label = f"{key.split()[0]} binding: one robot call (GetParameter)"
        else:
            label = f"{key} binding: trivial command, message in -> reply out"
        rows.append((label, values))
    report(rows, args.json, runs=args.runs, bindings=",".join(bindings) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
