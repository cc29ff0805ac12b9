"""Lua binding benchmark: whole Lua executions and robot calls from Lua, against a baseline.

    .venv/bin/python benchmarks/lua.py [--runs 40] [--calls 2000] [--json PATH]

Needs the Lua binding (pip install -e plugins/lua_binding) and the test binding (installed by
requirements-dev.txt). Machines here are noisy, so every figure is printed beside a baseline
measured in the same run: spawning `python -I -S -c pass`. Whole executions are measured in
each child mode the engine offers (fresh interpreter, zygote fork, spare child), the first of
each mode in a row of its own (nothing runs before it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import CallArrivals, Section, child_modes, whole_executions, write_section

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.runner.execution import ExecutionSpec, run_execution

TRIVIAL = "return 0\n"
WITH_LIBRARY = 'local bot = require("gopherbot_v1").Robot:new()\nreturn 0\n'
CALLS = """local bot = require("gopherbot_v1").Robot:new()
local started = os.clock()
for i = 1, tonumber(arg[1]) do bot:Say("message") end
print(string.format("cpu %.9f", (os.clock() - started) / tonumber(arg[1])))
return 0
"""


async def robot_calls(binding: Binding, script: Path, calls: int) -> tuple[float, float]:
    """Wall seconds per robot call seen by the robot, and child CPU seconds per call."""
    robot = CallArrivals()
    logs: list[str] = []
    params = {"path": str(script), "args": [str(calls)], "bot": {}, "lib_paths": []}
    spec = ExecutionSpec(binding, "lua_run", params, script.parent, timeout=120)
    result = await run_execution(spec, robot, on_log=lambda level, message: logs.append(message))
    assert result.ret_val == 0 and len(robot.times) == calls, result.error
    wall = (robot.times[-1] - robot.times[0]) / (calls - 1)
    cpu = float(next(m for m in logs if m.startswith("cpu ")).split()[1])
    return wall, cpu


def in_process_setup(script: Path, runs: int) -> list[float]:
    """Seconds to build the sandboxed Lua state and run `script` inside this process."""
    from burrow_lua import runtime

    class Context:
        canceled = False

        def log(self, level: int, message: str) -> None:
            pass

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runtime.run({"path": str(script), "args": []}, Context())  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return times


def measure(runs: int, calls: int) -> Section:
    """The Lua rows, beside a baseline measured first."""
    lua = BindingRegistry.discover(environ={}).bindings["lua"]
    section = Section.start("lua", runs, runs=runs, calls=calls)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        trivial, library, calls_script = (workdir / n for n in ("t.lua", "l.lua", "c.lua"))
        trivial.write_text(TRIVIAL)
        library.write_text(WITH_LIBRARY)
        calls_script.write_text(CALLS)
        for mode in child_modes():
            for key, script, what in (
                ("trivial", trivial, "whole Lua execution, `return 0`"),
                ("library", library, "whole Lua execution, require gopherbot_v1"),
            ):
                params = {"path": str(script)}
                samples = asyncio.run(whole_executions(lua, "lua_run", params, workdir, runs, mode))
                section.add_first_warm(f"{key}.{mode}", f"{what}, {mode}", samples, mode=mode)
        section.add_time(
            "inprocess.trivial",
            "in-process: sandboxed state + `return 0`",
            in_process_setup(trivial, runs * 5),
        )
        section.add_time(
            "inprocess.library",
            "in-process: ... + require gopherbot_v1",
            in_process_setup(library, runs * 5),
        )
        call_wall, call_cpu = asyncio.run(robot_calls(lua, calls_script, calls))
        section.add_time("call.wall", "robot call from Lua, wall (seen by the robot)", [call_wall])
        section.add_time("call.cpu", "robot call from Lua, child CPU (os.clock)", [call_cpu])
    return section


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py."""
    return measure(runs=8, calls=300) if quick else measure(runs=40, calls=2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/lua.json"))
    args = parser.parse_args()
    write_section(measure(args.runs, args.calls), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
