"""Per-child limits, set by the child on itself before any extension code, in every start mode."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from spare_support import MODES

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode
from burrow.runner.execution import Execution, ExecutionSpec
from burrow.runner.limits import ChildLimits
from burrow.runner.spares import SparePool
from burrow.runner.zygote import Zygote
from support import run


def test_a_busy_loop_ends_at_the_cpu_limit_with_a_clear_error(execute) -> None:
    # `hang` spins and ignores SIGTERM and $/cancel; only the CPU limit can end it before the
    # 30 s execution timeout.
    result = execute("hang", limits=ChildLimits(cpu_seconds=1), timeout=30.0)
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error is not None and result.error.code == ErrorCode.CHILD_EXIT
    assert "CPU limit of 1 s reached" in result.error.message
    assert result.exit_status == -signal.SIGXCPU


def test_opening_files_past_the_limit_fails_in_the_extension(execute) -> None:
    result = execute("open", "5000", limits=ChildLimits(open_files=64))
    assert result.ret_val == TaskRetVal.Normal
    assert result.result is not None
    assert "Too many open files" in result.result["failure"]
    assert result.result["opened"] < 64


def test_without_limits_the_same_extension_opens_them_all(execute) -> None:
    result = execute("open", "5000")
    assert result.result is not None and result.result["opened"] == 5000


@pytest.mark.parametrize("mode", MODES)
def test_limits_are_hard_and_core_dumps_are_off(
    mode: str, test_binding: Binding, tmp_path: Path
) -> None:
    # Read from outside while the extension runs: the hard limit equals the soft one, so an
    # extension cannot raise its own limits again.
    limits = ChildLimits(cpu_seconds=50, memory_bytes=512 << 20, open_files=100, processes=300)

    async def go() -> dict[str, tuple[str, str]]:
        zygote = Zygote() if mode != "interpreter" else None
        spawner: Any = zygote.spawn if zygote else None
        if mode == "spare" and zygote is not None:
            # A spare set its limits when it was prepared; the request cannot change them.
            spawner = SparePool(zygote.spawn, {"test": test_binding}, {"test": 1}, [(None, limits)])
            spawner.start()
            assert await spawner.wait_full(60)
        args = {"args": ["sleep", "3"]}
        spec = ExecutionSpec(test_binding, "test_run", args, tmp_path, limits=limits)
        execution = Execution(spec, spawner=spawner)
        try:
            task = asyncio.ensure_future(execution.run())
            while execution.pid is None or execution._exec_msgid is None:
                await asyncio.sleep(0.01)
            with open(f"/proc/{execution.pid}/limits") as handle:
                table = handle.read().splitlines()[1:]
            result = await task
            assert result.ret_val == TaskRetVal.Normal, result.error
            assert result.spare == (mode == "spare")
        finally:
            if isinstance(spawner, SparePool):
                await spawner.close()
            if zygote is not None:
                await zygote.close()
        rows = {}
        for line in table:
            name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
            rows[name] = (soft, hard)
        return rows

    rows = run(go())
    assert rows["Max cpu time"] == ("50", "51")  # SIGXCPU at 50 s, SIGKILL one second later
    assert rows["Max data size"] == (str(512 << 20), str(512 << 20))
    assert rows["Max open files"] == ("100", "100")
    assert rows["Max processes"] == ("300", "300")
    assert rows["Max core file size"] == ("0", "0")
