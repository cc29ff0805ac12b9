"""Transport benchmark: child start-up and robot_call round trips, against a same-run baseline.

    .venv/bin/python benchmarks/rpc.py [--runs 40] [--calls 2000] [--json PATH]

Needs the test binding (installed by requirements-dev.txt). Machines here are noisy, so every
figure is printed beside a baseline measured in the same run: spawning `python -I -S -c pass`.
Whole executions are measured in each child mode the engine offers (fresh interpreter, zygote
fork, spare child), and the first execution of each mode has its own row: nothing runs before
it (for the zygote, the first child starts the zygote; for a spare, the pool is full first).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Section, child_modes, whole_executions, write_section

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
    times = []  # the first includes the zygote's own start
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


def measure(runs: int, calls: int) -> Section:
    """The transport's rows, beside a baseline measured first."""
    binding = BindingRegistry.discover(environ={}).bindings["test"]
    section = Section.start("rpc", runs, runs=runs, calls=calls)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        hello = asyncio.run(spawn_to_hello(binding, workdir, runs, full_scan=False))
        scan = asyncio.run(spawn_to_hello(binding, workdir, runs, full_scan=True))

        async def forked() -> list[float]:
            zygote = Zygote(preload=["burrow_testbinding"])
            try:
                return await spawn_to_hello(binding, workdir, runs, False, zygote)
            finally:
                await zygote.close()

        fork = asyncio.run(forked())
        section.add_first_warm("hello.targeted", "spawn to $/hello answered (targeted)", hello)
        section.add_first_warm("hello.scan", "spawn to $/hello answered (full scan)", scan)
        section.add_first_warm("hello.zygote", "zygote fork to $/hello answered", fork)
        trivial = {"args": ["ret", "0"]}
        for mode in child_modes():
            whole = asyncio.run(whole_executions(binding, "test_run", trivial, workdir, runs, mode))
            section.add_first_warm(
                f"whole.{mode}", f"whole trivial execution, {mode}", whole, mode=mode
            )
        section.add_time(
            "call", "robot_call round trip (from the extension)", robot_calls_sync(binding, calls)
        )
    return section


def robot_calls_sync(binding: Binding, calls: int) -> list[float]:
    """`robot_calls` in a temporary folder, outside any event loop."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(robot_calls(binding, Path(tmp), calls))


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py."""
    return measure(runs=8, calls=300) if quick else measure(runs=40, calls=2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/rpc.json"))
    args = parser.parse_args()
    write_section(measure(args.runs, args.calls), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
