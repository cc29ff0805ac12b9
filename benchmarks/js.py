"""JavaScript binding benchmark: whole executions and robot calls, against a same-run baseline.

    .venv/bin/python benchmarks/js.py [--runs 30] [--calls 2000] [--json PATH]

Needs burrowbot-js and the test binding (requirements-dev.txt). Machines here are noisy, so
every figure is printed beside a baseline measured in the same run: spawning
`python -I -S -c pass`. The in-process rows run in a fresh interpreter each (V8 starts once
per process) and explain where the time goes: V8 start-up through burrow_js._v8 against
mini-racer's public API, and one bridge call against one awaited call of the public API.
Whole executions are measured in each child mode the engine offers (fresh interpreter, zygote
fork, spare child), the first of each mode in a row of its own (nothing runs before it).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import CallArrivals, Section, child_modes, whole_executions, write_section

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.runner.execution import ExecutionSpec, run_execution

TRIVIAL = "0;\n"
CALLS = """
const { Robot } = require("gopherbot_v1")();
const bot = new Robot();
for (let i = 0, n = Number(process.argv[2]); i < n; i++) bot.Say("message " + i);
"""

# Each probe prints one number (milliseconds) on its last line.
V8_START_BRIDGE = """
import time
t = time.perf_counter()
from burrow_js import _v8
isolate = _v8.Isolate(_v8.check_installation(), ["--single-threaded"], 128 << 20)
isolate.install_bridge(lambda request: request)
assert isolate.eval("1") == 1
print((time.perf_counter() - t) * 1000)
"""
V8_START_PUBLIC = """
import time
t = time.perf_counter()
from py_mini_racer import MiniRacer
racer = MiniRacer()
assert racer.eval("1") == 1
print((time.perf_counter() - t) * 1000)
racer.close()  # without it the interpreter hangs at exit
"""
BRIDGE_CALL = """
import json, sys
from burrow_js import _v8
isolate = _v8.Isolate(_v8.check_installation(), ["--single-threaded"], 128 << 20)
isolate.install_bridge(lambda request: json.dumps({"result": {"echo": json.loads(request)}}))
n = int(sys.argv[1])
per_call_us = isolate.eval('''(() => {
  const bridge = globalThis.__burrow_bridge;
  const request = {op: "call", method: "Say", args: ["message"]};
  const start = Date.now();
  for (let i = 0; i < %d; i++) JSON.parse(bridge(JSON.stringify(request)));
  return (Date.now() - start) * 1000 / %d;
})()''' % (n, n))
print(per_call_us / 1000)
"""
PUBLIC_CALL = """
import asyncio, sys
from py_mini_racer import MiniRacer
n = int(sys.argv[1])

async def main():
    racer = MiniRacer()

    async def say(*args):
        return 0

    async with racer.wrap_py_function(say) as function:
        racer.eval("this")["say"] = function
        promise = await racer.eval_cancelable('''(async () => {
          const start = Date.now();
          for (let i = 0; i < %d; i++) await say("message");
          return (Date.now() - start) / %d;
        })()''' % (n, n))
        return await promise

print(asyncio.run(main()))
"""


async def robot_call_gaps(
    binding: Binding, method: str, params: dict[str, Any], workdir: Path
) -> list[float]:
    """Seconds between consecutive robot calls of an extension's loop, as the robot sees them."""
    recorder = CallArrivals()
    result = await run_execution(ExecutionSpec(binding, method, params, workdir), recorder)
    assert result.ret_val == 0, result.error
    return [b - a for a, b in itertools.pairwise(recorder.times)]


def probe(code: str, runs: int, *args: str) -> list[float]:
    """Run `code` in fresh interpreters and collect the milliseconds each printed last."""
    values = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-I", "-c", code, *args], capture_output=True, text=True, check=True
        )
        values.append(float(out.stdout.split()[-1]) / 1000)
    return values


def measure(runs: int, calls: int) -> Section:
    """The JavaScript rows, beside a baseline measured first."""
    bindings = BindingRegistry.discover(environ={}).bindings
    js, test = bindings["js"], bindings["test"]
    section = Section.start("js", runs, runs=runs, calls=calls)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "trivial.js").write_text(TRIVIAL)
        (workdir / "calls.js").write_text(CALLS)
        trivial = {"path": str(workdir / "trivial.js"), "args": []}
        for mode in child_modes():
            samples = asyncio.run(whole_executions(js, "js_run", trivial, workdir, runs, mode))
            section.add_first_warm(
                f"trivial.{mode}", f"whole JavaScript execution, `0;`, {mode}", samples, mode=mode
            )
        calls_params = {"path": str(workdir / "calls.js"), "args": [str(calls)]}
        gaps = asyncio.run(robot_call_gaps(js, "js_run", calls_params, workdir))
        python_calls = {"args": ["calls", str(calls)]}
        python_gaps = asyncio.run(robot_call_gaps(test, "test_run", python_calls, workdir))
    section.add_time("call.js", "robot call from JavaScript (robot sees call to call)", gaps)
    section.add_time("call.python", "robot call from the Python test binding (same)", python_gaps)
    probes = max(5, runs // 3)
    rows = (
        ("v8.bridge", "in-process: V8 start via burrow_js._v8 (+ bridge)", V8_START_BRIDGE, probes),
        ("v8.public", "in-process: V8 start via mini-racer's public API", V8_START_PUBLIC, probes),
    )
    for key, label, code, count in rows:
        section.add_time(key, label, probe(code, count))
    bridge = probe(BRIDGE_CALL, 3, str(calls * 10))
    section.add_time("inprocess.bridge", "in-process: one synchronous bridge call (no RPC)", bridge)
    public = probe(PUBLIC_CALL, 3, str(max(200, calls // 4)))
    section.add_time("inprocess.public", "in-process: one awaited public-API call (no RPC)", public)
    return section


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py."""
    return measure(runs=6, calls=300) if quick else measure(runs=30, calls=2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/js.json"))
    args = parser.parse_args()
    write_section(measure(args.runs, args.calls), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
