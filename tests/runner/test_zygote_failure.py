"""A zygote killed under load: forked children run on under the robot, queued ones are re-asked."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec, RobotCall
from burrow.runner.zygote import Zygote
from support import gone, run


class GatedDispatcher:
    """Holds every robot call until `gate` opens, so children stay mid-execution."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.arrived = 0

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.arrived += 1
        await self.gate.wait()
        return {"ret_val": 0}


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _our_children() -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if ppid == os.getpid():
                found.add(int(entry))
    return found


async def _until(condition: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def test_killing_the_zygote_fails_neither_running_nor_queued_executions(
    test_binding: Binding, tmp_path: Path
) -> None:
    running, queued = 6, 6

    async def go() -> tuple[list[ExecutionResult], list[ExecutionResult], int]:
        zygote = Zygote(preload=["burrow_testbinding"])
        dispatcher = GatedDispatcher()
        spec = ExecutionSpec(test_binding, "test_run", {"args": ["call", "Say", "hi"]}, tmp_path)
        try:
            first = [
                asyncio.ensure_future(Execution(spec, dispatcher, spawner=zygote.spawn).run())
                for _ in range(running)
            ]
            await _until(lambda: dispatcher.arrived == running)  # all forked, all mid-call
            old = zygote.pid
            assert old is not None
            os.kill(old, signal.SIGSTOP)  # it takes requests but forks nothing
            second = [
                asyncio.ensure_future(Execution(spec, dispatcher, spawner=zygote.spawn).run())
                for _ in range(queued)
            ]
            server = zygote._server
            assert server is not None
            await _until(lambda: len(server.pending) == queued)
            os.kill(old, signal.SIGKILL)
            dispatcher.gate.set()
            done = await asyncio.wait_for(asyncio.gather(*first, *second), 60)
        finally:
            await zygote.close()
        return done[:running], done[running:], zygote.started

    fds_before, children_before = _open_fds(), _our_children()
    orphans, requeued, started = run(go())
    for result in orphans + requeued:
        assert result.ret_val == TaskRetVal.Normal, result.error
        assert result.result is not None and result.result["result"] == {"ret_val": 0}
    # The children forked before the kill outlived their parent: init reaped them, so their
    # status is unknown and reported as such, not made up.
    assert all(result.exit_status is None for result in orphans)
    assert all(result.exit_status == 0 for result in requeued)  # forked by the new zygote
    assert started == 2
    assert all(gone(result.pid) for result in orphans + requeued if result.pid is not None)
    assert _open_fds() == fds_before  # every pipe and pidfd closed
    assert _our_children() == children_before  # both zygotes reaped


def test_a_hanging_child_that_outlives_the_zygote_is_still_killed_by_its_timeout(
    test_binding: Binding, tmp_path: Path
) -> None:
    async def go() -> ExecutionResult:
        zygote = Zygote(preload=["burrow_testbinding"])
        hanging = asyncio.Event()
        spec = ExecutionSpec(
            test_binding,
            "test_run",
            {"args": ["hang"]},  # ignores SIGTERM and $/cancel: only SIGKILL ends it
            tmp_path,
            timeout=3.0,
            cancel_grace=0.2,
            term_grace=0.2,
        )
        execution = Execution(spec, spawner=zygote.spawn, on_log=lambda _l, _m: hanging.set())
        try:
            task = asyncio.ensure_future(execution.run())
            await asyncio.wait_for(hanging.wait(), 20)
            pid = zygote.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await _until(lambda: zygote.pid is None)
            return await asyncio.wait_for(task, 30)
        finally:
            await zygote.close()

    result = run(go())
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error is not None and result.error.code == ErrorCode.TIMEOUT
    assert result.pid is not None and gone(result.pid)
    assert result.exit_status is None
