"""The cold path: a new robot process to its first reply, and its first command against warm ones.

    .venv/bin/python benchmarks/cold.py [--runs 4] [--modes fresh,zygote,spare] [--json PATH]

For each installed binding (Lua, JavaScript) and each child mode the engine offers, a robot
with one trivial plugin is started `--runs` times, each time as a new process (as a restart
is) that sends `;<binding>hi` through the test connector as soon as the robot is ready, then
five more, 0.3 s apart (back-to-back load is benchmarks/concurrency.py's). The parent stamps
each line the process prints as it arrives, so nothing is timed by a clock the two processes
would have to share. Nothing is sent before the first command.

Rows per binding and mode:
- process start → robot ready, and → first reply: the median over the restarts (runs 2..:
  the configuration cache holds the plugin's default configuration), and the very first start
  (run 1: no cache yet, one `_get_config` child) in a row of its own;
- the first command after the start (message in → reply out) and the warm ones (commands
  2..6), medians over all runs, and first / warm.
Times are also shown as a ratio to the same-run baseline of spawning `python -I -S -c pass`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from _common import (
    Section,
    child_modes,
    ensure_bytecode,
    mode_environ,
    mode_yaml,
    settled_state,
    write_section,
)

# A plugin per binding answering `<binding>hi` at once and `<binding>hold` after a 1.5 s
# Pause (a robot call: the child stays alive, idle, for benchmarks/memory.py to measure).
PLUGINS = {
    "lua": (
        ".lua",
        """\
        local gopherbot = require "gopherbot_v1"
        local cmd = arg[1]
        if cmd == "_configure" then
          return "Commands: [{Command: hi, Regex: '@hi'}, {Command: hold, Regex: '@hold'}]"
        end
        if cmd == "_init" then return gopherbot.task.Normal end
        local bot = gopherbot.Robot:new()
        if cmd == "hold" then bot:Pause(1.5) end
        bot:Say(cmd)
        return gopherbot.task.Normal
        """,
    ),
    "js": (
        ".js",
        """\
        const { Robot, task } = require('gopherbot_v1')();
        function main(argv) {
          const cmd = argv[2];
          if (cmd === "_configure")
            return "Commands: [{Command: hi, Regex: '@hi'}, {Command: hold, Regex: '@hold'}]";
          if (cmd === "_init") return task.Normal;
          const bot = new Robot();
          if (cmd === "hold") bot.Pause(1.5);
          bot.Say(cmd);
          return task.Normal;
        }
        main(process.argv);
        """,
    ),
}
WARM_COMMANDS = 5
PAUSE = 0.3  # seconds between two commands, untimed


def installed_bindings() -> list[str]:
    """The bindings of `PLUGINS` that are installed, in its order."""
    from burrow.bindings.registry import BindingRegistry

    installed = BindingRegistry.discover().bindings
    return [name for name in PLUGINS if name in installed]


def write_robot(root: Path, bindings: list[str], mode: str) -> None:
    """A robot folder with one `PLUGINS` plugin per binding, its children started `mode`'s way."""
    (root / "conf").mkdir(parents=True)
    (root / "ext").mkdir()
    lines = ["UserRoster: [{UserName: alice}]", "ExternalPlugins:"]
    for name in bindings:
        suffix, source = PLUGINS[name]
        (root / "ext" / f"{name}{suffix}").write_text(textwrap.dedent(source).replace("@", name))
        lines.append(f"  {name}: {{Path: ext/{name}{suffix}}}")
    (root / "conf" / "robot.yaml").write_text("\n".join(lines) + "\n" + mode_yaml(mode, bindings))
    settled_state(root / "state")


async def start_robot(root: Path, mode: str) -> tuple[Any, Any]:
    """Load and start the robot in `root` on the test connector; (robot, connector)."""
    from burrow.connectors.testing import TestConnector
    from burrow.engine.robot import Robot

    robot = Robot(root, state_dir=root / "state", environ=mode_environ(mode, dict(os.environ)))
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    # Only ours: a built-in disabled by default is listed too.
    problems = {k: v for k, v in robot.catalog.problems().items() if k in PLUGINS}
    assert not problems, problems
    return robot, connector


async def command(connector: Any, text: str, reply: str, timeout: float = 60) -> float:
    """Seconds from `;text` in to the reply `reply` out."""
    start = time.perf_counter()
    await connector.inject("alice", f";{text}", "general")
    sent = await connector.next_sent(timeout)
    assert sent is not None and sent.text == reply, f"{text}: {sent}"
    return time.perf_counter() - start


async def _one(root: Path, binding: str, mode: str) -> None:
    """Child mode: start, print "ready", send the commands, print each latency, stop."""
    robot, connector = await start_robot(root, mode)
    print("ready", flush=True)
    try:
        for n in range(1 + WARM_COMMANDS):
            if n:
                await asyncio.sleep(PAUSE)  # as a user would, and time for the spares to refill
            print("reply", await command(connector, f"{binding}hi", "hi"), flush=True)
    finally:
        await robot.stop(grace=5)


def run_once(root: Path, binding: str, mode: str) -> dict[str, Any]:
    """One robot process: seconds from its spawn to "ready" and to each reply, as they arrive."""
    argv = [sys.executable, __file__, "--one", str(root), binding, mode]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stamps: list[tuple[float, str]] = []
    for line in proc.stdout:
        stamps.append((time.perf_counter() - start, line.strip()))
    _, stderr = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"the robot process failed ({binding}, {mode}):\n{stderr}")
    ready = next(at for at, line in stamps if line == "ready")
    replies = [(at, float(line.split()[1])) for at, line in stamps if line.startswith("reply ")]
    return {
        "ready_s": ready,
        "first_reply_s": replies[0][0],
        "latencies_s": [latency for _, latency in replies],
    }


def measure(runs: int, modes: list[str]) -> Section:
    """The cold-path rows, beside a baseline measured first."""
    bindings = installed_bindings()
    section = Section.start("cold", 30, runs=runs, warm_commands=WARM_COMMANDS)
    with tempfile.TemporaryDirectory() as tmp:
        for binding in bindings:
            for mode in modes:
                root = Path(tmp) / f"{binding}-{mode}"
                write_robot(root, [binding], mode)
                outcomes = [run_once(root, binding, mode) for _ in range(runs)]
                key, what = f"{binding}.{mode}", f"{binding}, {mode}"
                restarts = outcomes[1:] or outcomes
                first_start = outcomes[0]
                section.add_time(
                    f"{key}.ready",
                    f"{what}: process start -> robot ready",
                    [o["ready_s"] for o in restarts],
                )
                section.add_time(
                    f"{key}.first_reply",
                    f"{what}: process start -> first reply",
                    [o["first_reply_s"] for o in restarts],
                )
                section.add_time(
                    f"{key}.first_reply.uncached",
                    f"{what}: ... the first start (no config cache)",
                    [first_start["first_reply_s"]],
                )
                first = section.add_time(
                    f"{key}.first",
                    f"{what}: first command after the start",
                    [o["latencies_s"][0] for o in outcomes],
                )
                warm = section.add_time(
                    f"{key}.warm",
                    f"{what}: warm commands (2..{1 + WARM_COMMANDS})",
                    [latency for o in outcomes for latency in o["latencies_s"][1:]],
                )
                assert first.ratio is not None and warm.ratio is not None
                section.add(
                    f"{key}.first_over_warm", f"{what}: first / warm", first.ratio / warm.ratio, "x"
                )
    return section


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py."""
    return measure(runs=2 if quick else 4, modes=child_modes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--modes", default=",".join(child_modes()))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/cold.json"))
    parser.add_argument(
        "--one", nargs=3, metavar=("ROOT", "BINDING", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        logging.basicConfig(level=logging.ERROR)
        asyncio.run(_one(Path(args.one[0]), args.one[1], args.one[2]))
        return 0
    ensure_bytecode()  # as an installed robot has it: see _common
    modes = [mode for mode in args.modes.split(",") if mode in child_modes()]
    write_section(measure(args.runs, modes), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
