"""Transport benchmark: child start-up and robot_call round trips, against a same-run baseline.

    .venv/bin/python benchmarks/rpc.py [--runs 40] [--calls 2000] [--json PATH]

Needs the test binding (installed by requirements-dev.txt). Machines here are noisy, so every
figure is printed beside a baseline measured in the same run: spawning `python -I -S -c pass`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import BASELINE_LABEL, report, spawn_baseline, whole_executions

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.rpc.parent_session import AsyncSession
from burrow.runner.environment import child_environment
from burrow.runner.execution import ExecutionSpec, RobotCall, child_argv, run_execution
from burrow.runner.process import SpawnedChild
from burrow.runner.zygote import Zygote


class _Answer:
    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        return {"ret_val": 0}


async def spawn_to_hello(
    binding: Binding, workdir: Path, runs: int, full_scan: bool, zygote: Zygote | None = None
) -> list[float]:
    """Seconds from start to the `$/hello` answer: targeted, full-scan, or zygote-forked child."""
    spec = ExecutionSpec(binding, "test_run", {}, workdir)
    argv = child_argv(spec)
    if full_scan:
        argv = argv[: argv.index("--binding")]
    spawn = zygote.spawn if zygote is not None else SpawnedChild.spawn
    if zygote is not None:
        await spawn(argv, env=child_environment(), cwd=workdir, on_stdout=lambda d: None)  # warm
    times = []
    for _ in range(runs):
        holder: dict[str, AsyncSession] = {}
        start = time.perf_counter()
        child = await spawn(
            argv, env=child_environment(), cwd=workdir, on_stdout=lambda d, h=holder: h["s"].feed(d)
        )

        async def refuse(request: Any) -> Any:
            raise AssertionError

        holder["s"] = session = AsyncSession(
            child.write, on_request=refuse, on_notification=lambda n: None
        )
        await session.request("$/hello", [{"versions": [1]}])
        times.append(time.perf_counter() - start)
        await session.request("$/shutdown", [{}])
        await child.wait(5)
        await child.close()
        session.close(EOFError())
    return times


async def robot_calls(binding: Binding, workdir: Path, calls: int) -> list[float]:
    """Per-call seconds of `calls` robot calls, timed inside the extension."""
    spec = ExecutionSpec(binding, "test_run", {"args": ["calls", str(calls)]}, workdir)
    result = await run_execution(spec, _Answer())
    assert result.ret_val == 0 and result.result is not None, result.error
    timings: list[float] = result.result["timings"]
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/rpc.json"))
    args = parser.parse_args()

    binding = BindingRegistry.discover(environ={}).bindings["test"]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        base = spawn_baseline(args.runs)
        hello = asyncio.run(spawn_to_hello(binding, workdir, args.runs, full_scan=False))
        scan = asyncio.run(spawn_to_hello(binding, workdir, args.runs, full_scan=True))

        async def forked() -> list[float]:
            zygote = Zygote(preload=["burrow_testbinding"])
            try:
                return await spawn_to_hello(binding, workdir, args.runs, False, zygote)
            finally:
                await zygote.close()

        fork = asyncio.run(forked())
        whole = asyncio.run(
            whole_executions(binding, "test_run", {"args": ["ret", "0"]}, workdir, args.runs)
        )
        calls = asyncio.run(robot_calls(binding, workdir, args.calls))

    rows = [
        (BASELINE_LABEL, base),
        ("spawn to $/hello answered (targeted binding)", hello),
        ("spawn to $/hello answered (full entry-point scan)", scan),
        ("zygote fork to $/hello answered (the robot's default)", fork),
        ("whole trivial execution (spawn..reap)", whole),
        ("robot_call round trip (from the extension)", calls),
    ]
    report(rows, args.json, runs=args.runs, calls=args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
