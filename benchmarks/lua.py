"""Lua binding benchmark: whole Lua executions and robot calls from Lua, against a baseline.

    .venv/bin/python benchmarks/lua.py [--runs 40] [--calls 2000] [--json PATH]

Needs the Lua binding (pip install -e plugins/lua_binding) and the test binding (installed by
requirements-dev.txt). Machines here are noisy, so every figure is printed beside a baseline
measured in the same run: spawning `python -I -S -c pass`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from _common import BASELINE_LABEL, CallArrivals, report, spawn_baseline, whole_executions

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/lua.json"))
    args = parser.parse_args()

    bindings = BindingRegistry.discover(environ={}).bindings
    lua, test = bindings["lua"], bindings["test"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        trivial, library, calls_script = (workdir / n for n in ("t.lua", "l.lua", "c.lua"))
        trivial.write_text(TRIVIAL)
        library.write_text(WITH_LIBRARY)
        calls_script.write_text(CALLS)
        base = spawn_baseline(args.runs)
        python_child = asyncio.run(
            whole_executions(test, "test_run", {"args": ["ret", "0"]}, workdir, args.runs)
        )
        lua_trivial = asyncio.run(
            whole_executions(lua, "lua_run", {"path": str(trivial)}, workdir, args.runs)
        )
        lua_library = asyncio.run(
            whole_executions(lua, "lua_run", {"path": str(library)}, workdir, args.runs)
        )
        setup = in_process_setup(trivial, args.runs * 5)
        setup_library = in_process_setup(library, args.runs * 5)
        call_wall, call_cpu = asyncio.run(robot_calls(lua, calls_script, args.calls))

    rows = [
        (BASELINE_LABEL, base),
        ("whole trivial execution, test binding (no Lua)", python_child),
        ("whole trivial Lua execution (`return 0`)", lua_trivial),
        ("whole Lua execution requiring gopherbot_v1", lua_library),
        ("in-process: sandboxed state + `return 0`", setup),
        ("in-process: ... + require gopherbot_v1", setup_library),
        ("robot call from Lua, wall (seen by the robot)", [call_wall]),
        ("robot call from Lua, child CPU (os.clock)", [call_cpu]),
    ]
    report(rows, args.json, runs=args.runs, calls=args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
