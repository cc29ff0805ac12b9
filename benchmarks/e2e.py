"""End-to-end latency: a chat message in, the reply out, through a real robot on the test connector.

    .venv/bin/python benchmarks/e2e.py [--runs 30] [--modes fresh,zygote,spare] [--json PATH]

Rows: the built-in `ping` (no child: the engine's own cost), then a trivial command of each
installed binding (a one-shot child per message) in each way a child can start:
- fresh: a new interpreter per child (`BURROW_ZYGOTE=off`);
- zygote: a fork of the pre-warmed zygote (`SpareChildren: 0` for every binding);
- spare: a spare child that answered `$/hello` and prepared its runtime before the message
  (the default), with its own row for the first command after the robot started; between
  messages the benchmark waits (untimed) until the pool has refilled, as it has between
  messages people type, and a row says how long that took from the message in;
then the cost of one robot call from each binding: `loop N` makes N GetParameter calls, and
(time(loop N+1) - time(loop 1)) / N cancels the spawn. Each binding and mode gets a robot of
its own, with only that binding's plugin. Each figure is shown beside the same-run baseline of
spawning `python -I -S -c pass`, as a ratio, because these machines are noisy; a last table
puts the modes side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import BASELINE_LABEL, report, settled_state, spawn_baseline

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
        if cmd == "_init" then return gopherbot.task.Normal end
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
          if (argv[2] === "_init") return task.Normal;
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
    "go": (
        ".go",
        """\
        package main

        import (
        \t"strconv"

        \t"github.com/lnxjedi/gopherbot/robot"
        )

        var config = []byte(`Commands:
        - {Command: hi, Regex: hi}
        - {Command: loop, Regex: 'loop (\\d+)'}`)

        func Configure() *[]byte { return &config }

        func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
        \tif command == "loop" {
        \t\tn, _ := strconv.Atoi(args[0])
        \t\tfor i := 0; i < n; i++ {
        \t\t\tr.GetParameter("X")
        \t\t}
        \t\tr.Say("looped")
        \t} else if command == "hi" {
        \t\tr.Say("hi")
        \t}
        \treturn robot.Normal
        }
        """,
    ),
}


MODES = ("fresh", "zygote", "spare")


async def measure(root: Path, binding: str, mode: str, runs: int) -> dict[str, list[float]]:
    """Samples of message-in to reply-out for `binding`'s `hi` in `mode` (`ping` for "")."""
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    yaml = "UserRoster: [{UserName: alice}]\n"
    if binding:
        suffix, source = EXTENSIONS[binding]
        (root / "ext" / f"hi{suffix}").write_text(textwrap.dedent(source))
        yaml += f"ExternalPlugins:\n  hi: {{Path: ext/hi{suffix}}}\n"
    if mode == "zygote":
        yaml += "SpareChildren: {" + ", ".join(f"{name}: 0" for name in EXTENSIONS) + "}\n"
    (root / "conf" / "robot.yaml").write_text(yaml)
    environ = dict(os.environ, BURROW_ZYGOTE="off" if mode == "fresh" else "on")
    robot = Robot(root, state_dir=settled_state(root / "state"), environ=environ)
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    samples: dict[str, list[float]] = {}
    label = f"{binding or 'ping'} {mode}"
    try:
        times, refills = [], []
        for _ in range(runs + 2):
            start = time.perf_counter()
            await connector.inject("alice", ";hi" if binding else ";ping", "general")
            sent = await connector.next_sent(30)
            assert sent is not None and sent.text in ("hi", "PONG"), f"{label}: {sent}"
            times.append(time.perf_counter() - start)
            if mode == "spare" and robot.spares is not None:
                assert await robot.spares.wait_full(30), f"{label}: no spare in 30 s"
                refills.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
        if mode == "spare":
            samples[f"{label} first"] = times[:1]  # the first command after the start
            samples[f"{label} refill"] = refills[2:]
        samples[label] = times[2:]  # the first two runs warm the caches
        if mode == "zygote" and binding not in ("", "test"):
            # The transport's own call cost, whatever the mode: benchmarks/rpc.py.
            samples[f"{binding} call"] = await _call_cost(connector, runs)
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
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/e2e.json"))
    args = parser.parse_args()
    installed = BindingRegistry.discover().bindings
    bindings = [name for name in EXTENSIONS if name in installed]
    modes = [mode for mode in args.modes.split(",") if mode in MODES]
    base = spawn_baseline(args.runs)
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("", "zygote")] + [(name, mode) for name in bindings for mode in modes]
        for n, (binding, mode) in enumerate(cases):
            root = Path(tmp) / f"robot{n}"
            samples.update(asyncio.run(measure(root, binding, mode, args.runs)))
    rows: list[tuple[str, list[float]]] = [(BASELINE_LABEL, base)]
    for key, values in samples.items():
        name, what = key.split(" ", 1)
        if name == "ping":
            label = "built-in ping (no child)"
        elif what == "call":
            label = f"{name} binding: one robot call (GetParameter)"
        elif what.endswith(" first"):
            label = f"{name} binding, spare: first command after the start (one run)"
        elif what.endswith(" refill"):
            label = f"{name} binding, spare: message in -> a new spare ready (the refill)"
        else:
            label = f"{name} binding, {what}: trivial command, message in -> reply out"
        rows.append((label, values))
    report(
        rows,
        args.json,
        runs=args.runs,
        bindings=",".join(bindings) or "none",
        modes=",".join(modes),
    )
    _side_by_side(base, samples, bindings, modes)
    return 0


def _side_by_side(
    base: list[float], samples: dict[str, list[float]], bindings: list[str], modes: list[str]
) -> None:
    """The trivial command per binding (rows) and mode (columns): median ms (x baseline)."""
    base_ms = statistics.median(base) * 1000
    columns = [*modes, "spare first"] if "spare" in modes else modes
    print(f"\n{'trivial command':<16}" + "".join(f"{c:>20}" for c in columns))
    for name in bindings:
        cells = []
        for column in columns:
            values = samples.get(f"{name} {column}")
            ms = statistics.median(values) * 1000 if values else float("nan")
            cells.append(f"{ms:>9.2f} ms ({ms / base_ms:4.2f}x)")
        print(f"{name:<16}" + "".join(f"{cell:>20}" for cell in cells))


if __name__ == "__main__":
    sys.exit(main())
