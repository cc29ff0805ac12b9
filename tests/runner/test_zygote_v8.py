"""A zygote told its children's limits starts V8 once, with the flags they fit; its forks
inherit it, and a request those flags do not serve runs in a new interpreter instead.

Real V8 in real children, forked by a real zygote.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_spares_bindings import HEAP_BOMB, JS_PROBE, PRELOAD, MiB, bindings, spec_for

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.runner.execution import Execution, ExecutionResult
from burrow.runner.limits import ChildLimits
from burrow.runner.zygote import Zygote
from support import RecordingDispatcher, run

__all__ = ["bindings"]  # the fixture, shared with the spares' tests

LIMITS = ChildLimits(memory_bytes=1024 * MiB)


def _run_js(
    bindings: dict[str, Binding], tmp_path: Path, limits: ChildLimits | None, cases: list[dict]
) -> tuple[list[ExecutionResult], int]:
    """Run JS_PROBE-like executions through one zygote (told `limits`, or not); the results
    and the zygote's thread count."""

    async def go() -> tuple[list[ExecutionResult], int]:
        zygote = Zygote(preload=PRELOAD, limits=None if limits is None else limits.to_hello())
        try:
            results = []
            for case in cases:
                spec = spec_for(
                    bindings["js"],
                    tmp_path,
                    case["source"],
                    case.get("params"),
                    limits=LIMITS,
                    timeout=60.0,
                )
                results.append(
                    await Execution(spec, RecordingDispatcher(), spawner=zygote.spawn).run()
                )
            assert zygote.pid is not None
            return results, len(os.listdir(f"/proc/{zygote.pid}/task"))
        finally:
            await zygote.close()

    return run(go())


def test_forks_of_a_zygote_that_started_v8_run_javascript_and_it_stays_single_threaded(
    bindings: dict[str, Binding], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="burrow")
    results, threads = _run_js(bindings, tmp_path, LIMITS, [{"source": JS_PROBE}] * 3)
    assert [r.ret_val for r in results] == [7, 7, 7], [r.error for r in results]
    assert threads == 1  # V8 started without a thread: still safe to fork
    assert "refused" not in caplog.text  # every fork served its request


def test_a_request_the_zygotes_v8_does_not_fit_runs_in_a_new_interpreter(
    bindings: dict[str, Binding], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Under 1 GiB a 256 MiB heap needs V8 interpreted; the zygote started it with the JIT.
    caplog.set_level(logging.INFO, logger="burrow")
    heap = {"source": HEAP_BOMB, "params": {"js_heap_limit": 256 * MiB}}
    results, _ = _run_js(bindings, tmp_path, LIMITS, [heap, {"source": JS_PROBE}])
    bomb, probe = results
    assert bomb.ret_val == TaskRetVal.MechanismFail and bomb.error is not None
    assert "heap limit of 256 MiB" in bomb.error.message, bomb.error.message
    assert bomb.exit_status == 0  # a clean end at the heap limit in the new interpreter
    assert "a forked child refused js_run: V8 was started with the JIT" in caplog.text
    assert "running it in a new child" in caplog.text
    assert probe.ret_val == 7  # the next default request is served by a fork again


def test_without_its_childrens_limits_the_zygote_leaves_v8_to_each_child(
    bindings: dict[str, Binding], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="burrow")
    heap = {"source": HEAP_BOMB, "params": {"js_heap_limit": 256 * MiB}}
    results, _ = _run_js(bindings, tmp_path, None, [heap])
    assert "heap limit of 256 MiB" in str(results[0].error)
    assert "refused" not in caplog.text  # the fork started V8 with the flags it needed


PROBE = """
from burrow_js import _v8
_v8.start(_v8.check_installation(), ["--single-threaded"])
_v8.start(_v8.check_installation(), ["--single-threaded"])  # the same flags: nothing to do
try:
    _v8.start(_v8.check_installation(), ["--single-threaded", "--jitless"])
except _v8.BridgeError as exc:
    print(exc)
print(_v8.started_flags())
"""


def test_v8_starts_once_per_process_and_other_flags_are_refused_after() -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-c", PROBE], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == [
        "V8 was started with --single-threaded in this process, not --single-threaded --jitless",
        "['--single-threaded']",
    ]


LAZY_PROBE = """
import os
from burrow_js import _v8, runtime
runtime.zygote_preload({"memory_bytes": 1 << 30})
print(_v8.started_flags())
runtime.zygote_prefork("lua")  # a Lua child: nothing to set up
print(_v8.started_flags())
runtime.zygote_prefork("js")  # the first JavaScript child: V8 starts
print(_v8.started_flags(), runtime._zygote_plan, len(os.listdir("/proc/self/task")))
runtime.zygote_prefork("js")  # once
"""


def test_the_zygote_starts_v8_only_before_its_first_javascript_child() -> None:
    # A robot whose extensions are all Lua never pays for V8 in its zygote.
    out = subprocess.run(
        [sys.executable, "-I", "-c", LAZY_PROBE], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == [
        "None",
        "None",
        "['--single-threaded', '--max-old-space-size=384'] with the JIT, up to 384 MiB of heap 1",
    ]
