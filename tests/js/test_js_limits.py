"""Runaway JavaScript is contained: heap and ArrayBuffer bombs, endless loops, cancellation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode
from burrow.runner.execution import Execution, ExecutionSpec, RobotCall
from burrow.runner.limits import ChildLimits
from support import run

MiB = 1024 * 1024
HEAP_BOMB = "const keep = []; for (;;) keep.push(new Array(100000).fill('x' + keep.length));"
STRING_BOMB = "const keep = []; for (;;) keep.push('x'.repeat(1 << 20) + keep.length);"
BUFFER_BOMB = """
const keep = [];
for (;;) {
  const buffer = new ArrayBuffer(64 * 1024 * 1024);
  new Uint8Array(buffer).fill(1); // touch it: untouched pages cost nothing
  keep.push(buffer);
}
"""


@pytest.mark.parametrize("bomb", [HEAP_BOMB, STRING_BOMB], ids=["arrays", "strings"])
@pytest.mark.parametrize(
    ("memory_limit", "heap_limit"),
    [(1024 * MiB, None), (384 * MiB, 128 * MiB), (128 * MiB, None)],
    ids=["jit-1GiB-default-heap", "jitless-384MiB", "jitless-128MiB-heap-lowered-to-fit"],
)
def test_heap_bomb_is_stopped_by_the_heap_limit(
    run_js, bomb: str, memory_limit: int, heap_limit: int | None
) -> None:
    params = {"js_heap_limit": heap_limit} if heap_limit else {}
    result = run_js(bomb, limits=ChildLimits(memory_bytes=memory_limit), params=params).result
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.EXTENSION_ERROR
    assert "heap limit" in result.error.message
    assert result.exit_status == 0  # the child answered and left on its own


def test_array_buffer_bomb_is_stopped_by_the_data_limit(run_js) -> None:
    result = run_js(BUFFER_BOMB, limits=ChildLimits(memory_bytes=1024 * MiB)).result
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.message == "RangeError: Array buffer allocation failed"
    assert result.exit_status == 0


def test_array_buffer_bomb_is_bounded_even_without_a_limit_from_the_parent(run_js) -> None:
    # The binding applies its default data limit (1 GiB) when the parent set none.
    started = time.monotonic()
    result = run_js(BUFFER_BOMB).result
    assert result.error.message == "RangeError: Array buffer allocation failed"
    assert time.monotonic() - started < 20


def test_the_robot_and_the_next_execution_survive_a_bomb(run_js) -> None:
    run_js(HEAP_BOMB, limits=ChildLimits(memory_bytes=1024 * MiB))
    assert run_js("task = 7;").ret_val == TaskRetVal.Success


def test_endless_loop_is_stopped_by_the_pipeline_timeout(run_js) -> None:
    started = time.monotonic()
    result = run_js("for (;;) {}", timeout=1.0).result
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.TIMEOUT
    assert time.monotonic() - started < 4
    # The child terminated V8 on $/cancel and exited by itself: no signal was needed.
    assert result.exit_status == 0


def test_endless_loop_is_stopped_by_js_timeout_inside_the_child(run_js) -> None:
    result = run_js("for (;;) {}", params={"js_timeout": 0.5}).result
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.TIMEOUT
    assert "js_timeout" in result.error.message


@pytest.mark.parametrize(
    "script",
    [
        "for (;;) {}",
        "const { Robot } = require('gopherbot_v1')(); new Robot().Pause(60);",
        "const { Robot } = require('gopherbot_v1')(); const b = new Robot();"
        " for (;;) { try { b.Pause(0.01); } catch (e) {} }",
    ],
    ids=["busy-loop", "blocked-in-a-robot-call", "catching-loop"],
)
def test_cancel_stops_the_script_promptly(js_binding: Binding, tmp_path: Path, script: str) -> None:
    (tmp_path / "ext.js").write_text(script)

    async def main() -> tuple[float, object]:
        spec = ExecutionSpec(
            js_binding, "js_run", {"path": str(tmp_path / "ext.js"), "args": []}, tmp_path
        )
        execution = Execution(spec, _PausingDispatcher())
        task = asyncio.ensure_future(execution.run())
        await asyncio.sleep(1.0)
        started = time.monotonic()
        execution.cancel("killed by an admin")
        result = await task
        return time.monotonic() - started, result

    elapsed, result = run(main())
    assert result.error.code == ErrorCode.CANCELED
    assert result.exit_status == 0
    assert elapsed < 2


class _PausingDispatcher:
    """A Robot API double whose Pause really waits, as the robot's does."""

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        if call.method == "Pause":
            await asyncio.sleep(call.args[0])
        return {"ok": True}
