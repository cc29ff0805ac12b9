"""A zygote that stops answering fork requests is replaced, on time and not before.

One timer watches every request a zygote owes (its deadline is the oldest request's), so this
checks both ends of it: a request is given up on once it has waited FORK_TIMEOUT, and not
earlier when the timer was set for an older request that was answered meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest

import burrow.runner.zygote as zygote_module
from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.zygote import Zygote
from support import gone, run

TIMEOUT = 0.5


def test_a_zygote_that_stops_answering_is_replaced_and_its_requests_asked_again(
    test_binding: Binding,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(zygote_module, "FORK_TIMEOUT", TIMEOUT)
    caplog.set_level(logging.WARNING, logger="burrow.runner.zygote")

    async def go() -> tuple[ExecutionResult, list[ExecutionResult], int, int, float]:
        zygote = Zygote(preload=["burrow_testbinding"])
        spec = ExecutionSpec(test_binding, "test_run", {"args": ["ret", "0"]}, tmp_path)
        try:
            # Answered at once: the zygote's watchdog is now set for this request's deadline.
            first = await Execution(spec, spawner=zygote.spawn).run()
            await asyncio.sleep(TIMEOUT / 2)
            stopped = zygote.pid
            assert stopped is not None
            os.kill(stopped, signal.SIGSTOP)  # it takes requests but forks nothing
            asked = time.time()
            later = await asyncio.gather(
                *(Execution(spec, spawner=zygote.spawn).run() for _ in range(3))
            )
            return first, list(later), stopped, zygote.started, asked
        finally:
            await zygote.close()

    first, later, stopped, started, asked = run(go())
    assert first.ret_val == TaskRetVal.Normal and first.exit_status == 0
    for result in later:
        assert result.ret_val == TaskRetVal.Normal, result.error
        assert result.exit_status == 0  # forked by the new zygote, which reported the status
    assert started == 2
    assert gone(stopped)  # killed as it was replaced, stopped or not
    replaced = [r for r in caplog.records if "did not answer within" in r.getMessage()]
    assert len(replaced) == 1
    assert replaced[0].getMessage().endswith(f"within {TIMEOUT:g} s; replacing it")
    # Not given up on when the watchdog woke for the first, answered request: these waited
    # their own FORK_TIMEOUT first.
    assert TIMEOUT <= replaced[0].created - asked < TIMEOUT + 10
