"""Executions leave nothing on the event loop: no task, no timer, no watched descriptor.

A robot runs executions for as long as it lives; each waits for its child with callbacks,
timers and pipes on the robot's one event loop. Whatever an execution leaves behind (a timer
not cancelled, a task not ended, a pipe still watched) piles up with every command. So many
executions of every ending (answered, crashed, timed out, cancelled, exited without an answer)
run here on one loop, through one zygote and one spare pool as in the robot, and the loop is
compared before and after.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from burrow.bindings.spec import Binding
from burrow.rpc.errors import ErrorCode
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.spares import SparePool
from burrow.runner.zygote import Zygote
from support import RecordingDispatcher, run

ROUNDS = 6


def _loop_state(loop: asyncio.AbstractEventLoop) -> tuple[int, int, int]:
    """Tasks other than the current one, live timers (but a zygote's one watchdog, which
    lives until its deadline), and descriptors the loop watches."""
    current = asyncio.current_task()
    tasks = sum(1 for task in asyncio.all_tasks() if task is not current)
    timers = sum(
        1
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled() and getattr(handle._callback, "__name__", "") != "_overdue"
    )
    watched = len(loop._selector.get_map())  # type: ignore[attr-defined]
    return tasks, timers, watched


@pytest.mark.parametrize("mode", ["interpreter", "zygote", "spare"])
def test_executions_of_every_ending_leave_no_task_timer_or_watched_pipe(
    mode: str, test_binding: Binding, tmp_path: Path
) -> None:
    def spec(*args: str, **extra: Any) -> ExecutionSpec:
        params = {"path": str(tmp_path / "x.test"), "name": "x", "kind": "plugin"}
        return ExecutionSpec(
            test_binding,
            "test_run",
            {**params, "args": list(args)},
            tmp_path,
            **{"timeout": 30.0, "cancel_grace": 0.3, "term_grace": 0.3, **extra},
        )

    async def cancelled(execution: Execution) -> ExecutionResult:
        running = asyncio.ensure_future(execution.run())
        await asyncio.sleep(0.3)
        execution.cancel("stop")
        return await running

    async def one_round(spawner: Any) -> list[str]:
        def new(s: ExecutionSpec) -> Execution:
            return Execution(s, RecordingDispatcher(), spawner=spawner)

        results = await asyncio.gather(
            new(spec("calls", "2")).run(),
            new(spec("ret", "3")).run(),
            new(spec("crash")).run(),
            new(spec("exit", "4")).run(),
            new(spec("sleep", "60", timeout=0.3)).run(),
            cancelled(new(spec("sleep", "60"))),
        )
        return [str(r.error.code) if r.error is not None else str(r.ret_val) for r in results]

    async def main() -> tuple[tuple[int, int, int], tuple[int, int, int], list[list[str]]]:
        loop = asyncio.get_running_loop()
        zygote = Zygote() if mode != "interpreter" else None
        pool: SparePool | None = None
        spawner: Any = zygote.spawn if zygote is not None else None
        if mode == "spare":
            assert zygote is not None
            pool = SparePool(zygote.spawn, {"test": test_binding}, {"test": 2})
            pool.start()
            spawner = pool
        try:
            # The first round starts the zygote and the pool: measure from after it.
            endings = [await one_round(spawner)]
            if pool is not None:
                assert await pool.wait_full(30)
            before = _loop_state(loop)
            for _ in range(ROUNDS):
                endings.append(await one_round(spawner))
            if pool is not None:
                assert await pool.wait_full(30)
            await asyncio.sleep(0.1)  # callbacks already scheduled run
            return before, _loop_state(loop), endings
        finally:
            if pool is not None:
                await pool.close()
            if zygote is not None:
                await zygote.close()

    before, after, endings = run(main())
    expected = ["0", "3", ErrorCode.CHILD_EXIT, ErrorCode.CHILD_EXIT]
    expected += [ErrorCode.TIMEOUT, ErrorCode.CANCELED]
    assert all(ending == [str(e) for e in expected] for ending in endings), endings
    assert after == before, f"(tasks, timers, watched fds) before {before}, after {after}"
