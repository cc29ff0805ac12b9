"""Fuzzing the parent: a fake child speaks fuzzed frames to the real runner.

The runner (`Execution`) spawns `fake_child.py` through its ordinary spawner interface, so the
real pipes, session, phase timeouts and escalation all run; only the child is scripted. Each
script may first answer `$/hello` correctly so that its fuzzed frames also reach the execution
phase. Properties, for every script:

- `Execution.run()` returns; nothing is raised, logged as an exception, or reported to the
  event loop's exception handler;
- it returns within the phase timeouts plus the escalation graces;
- a failure is an RpcError with a non-empty code and message; a code that is not one of the
  protocol's came from the child's own error map;
- afterwards the child's process group is gone (reaped), and no descriptor or child process
  of the test process is left behind.

CI runs a bounded number of examples; `BURROW_FUZZ_EXAMPLES=5000` runs that many per test.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fuzz_support import (
    LONG_RUN,
    count,
    deep,
    error_maps,
    fuzz,
    log_maps,
    notifications,
    objects,
    odd,
    oversized,
    pack,
    requests,
    responses,
    robot_call_maps,
    shapes,
    truncated,
)
from hypothesis import example, given, note
from hypothesis import strategies as st

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.execution import Execution, ExecutionResult, ExecutionSpec
from burrow.runner.process import SpawnedChild
from support import RecordingDispatcher

pytestmark = [pytest.mark.timeout(0)] if LONG_RUN else []

T = TypeVar("T")
DEFAULT_RECURSION_LIMIT = 1000  # CPython's, which the robot does not change

FAKE_CHILD = str(Path(__file__).with_name("fake_child.py"))
LIMIT = 64 * 1024  # the parent's message-size limit in these runs: oversized frames stay cheap
HELLO_TIMEOUT = 0.3
TIMEOUT = 0.4
GRACE = 0.2
# The phases, the graces and the fixed waits of a shutdown (2 s for the answer, 2 s for the
# exit) and of closing the pipes (1 s), with room for a loaded machine.
BOUND = HELLO_TIMEOUT + TIMEOUT + 4 * GRACE + 2 + 2 + 1 + 5

GOOD_HELLO = pack(
    [
        1,
        0,
        None,
        {
            "version": 1,
            "pid": 1,
            "bindings": {"test": {"version": "0", "methods": ["test_run"], "suffixes": []}},
        },
    ]
)
GOOD_ANSWER = pack([1, 1, None, {"ret_val": 0}])
ROBOT_CALL = pack([0, 0, "robot_call", [{"method": "Say", "args": ["hi"]}]])

hello_results = st.fixed_dictionaries(
    {"version": st.one_of(st.just(1), objects)},
    optional={
        "pid": objects,
        "bindings": st.one_of(
            st.just({"test": {"methods": ["test_run"]}}),
            st.dictionaries(
                st.just("test"), st.one_of(st.fixed_dictionaries({"methods": objects}), objects)
            ),
            objects,
        ),
        "binding_errors": st.one_of(st.dictionaries(st.just("test"), objects), objects),
    },
)
run_results = st.fixed_dictionaries(
    {},
    optional={
        "ret_val": st.one_of(st.integers(-3, 10), objects),
        "error": st.one_of(error_maps, objects),
        "config": objects,
    },
)

# Frames of every shape an encoder could write, and frames no encoder would write.
frames = st.one_of(
    requests(["robot_call", "$/hello", "$/shutdown", "test_run"], robot_call_maps),
    responses(st.one_of(hello_results, run_results)),
    notifications(["$/log", "$/cancel"], log_maps),
    shapes(),
    objects.map(pack),
    st.binary(max_size=64),
)
hostile = st.one_of(deep(), deep(), oversized(LIMIT), odd, truncated(frames))
endings = st.one_of(
    st.sampled_from([0, 1, 2, 3, 70]).map(lambda status: [["exit", status]]),
    st.just([["serve"]]),
    st.just([["close_stdout"], ["serve"]]),
    st.just([["hang"]]),
)


# A correct start that leaves the parent in each phase: awaiting the hello answer, awaiting
# the execution's answer, and (a robot call sent) serving the child.
PHASES: list[list[list[Any]]] = [
    [],
    [["await", 1]],
    [["await", 1], ["write", GOOD_HELLO], ["await", 1]],
    [["await", 1], ["write", GOOD_HELLO], ["await", 1], ["write", ROBOT_CALL]],
]


@st.composite
def scripts(
    draw: st.DrawFn, frames: st.SearchStrategy[bytes], min_size: int = 0, max_size: int = 6
) -> list[list[Any]]:
    """A fake child: a correct start, fuzzed steps, maybe a correct answer, an ending."""
    steps = st.one_of(
        # The frame count rides along for the summary; fake_child.py ignores it.
        st.lists(frames, min_size=1, max_size=3).map(lambda fs: ["write", b"".join(fs), len(fs)]),
        st.just(["await", 1]),
        st.sampled_from([0.0, 0.002, 0.02]).map(lambda s: ["sleep", s]),
    )
    script = list(draw(st.sampled_from(PHASES)))
    script += draw(st.lists(steps, min_size=min_size, max_size=max_size))
    if draw(st.booleans()):
        script.append(["write", GOOD_ANSWER])
    return script + draw(endings)


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _children() -> set[str]:
    found: set[str] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as handle:
            found.update(handle.read().split())
    return found


def as_the_robot_runs(function: Callable[[], T]) -> T:
    """Call `function` on a fresh thread stack with Python's default recursion limit.

    Hypothesis raises the limit while a test runs, which hid every RecursionError that deeply
    nested frames cause in the robot (it runs with the default limit and a shallow stack).
    """
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(DEFAULT_RECURSION_LIMIT)
    try:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(function).result()
    finally:
        sys.setrecursionlimit(limit)


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_fake_child(
    binding: Binding, script: list[list[Any]]
) -> tuple[ExecutionResult, float, list[str]]:
    """Run one execution against a fake child playing `script`; the result, the time, problems."""
    problems: list[str] = []
    recorder = _Recorder()
    logging.getLogger("burrow").addHandler(recorder)
    with tempfile.TemporaryDirectory() as folder:
        script_path = Path(folder) / "script"
        script_path.write_bytes(pack(script))

        async def spawner(argv: list[str], **kwargs: Any) -> Any:
            return await SpawnedChild.spawn(
                [sys.executable, "-I", FAKE_CHILD, str(script_path)], **kwargs
            )

        async def go() -> ExecutionResult:
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(lambda _, context: problems.append(str(context)))
            spec = ExecutionSpec(
                binding,
                "test_run",
                {"path": "/nonexistent/ext.test", "name": "ext", "kind": "plugin", "args": []},
                workdir=Path(folder),
                timeout=TIMEOUT,
                hello_timeout=HELLO_TIMEOUT,
                cancel_grace=GRACE,
                term_grace=GRACE,
                max_message_size=LIMIT,
            )
            logs: list[tuple[int, str]] = []
            execution = Execution(
                spec,
                RecordingDispatcher(),
                on_log=lambda level, text: logs.append((level, text)),
                spawner=spawner,
            )
            return await execution.run()

        started = time.monotonic()
        try:
            result = as_the_robot_runs(lambda: asyncio.run(go()))
        finally:
            logging.getLogger("burrow").removeHandler(recorder)
        elapsed = time.monotonic() - started
    problems += [f"logged: {r.getMessage()} {r.exc_info!r}" for r in recorder.records]
    return result, elapsed, problems


DEEP = b"\x91" * 1000 + b"\xc0"  # [[[...nil...]]]: str() or repr() of it recurses too deep
STARTED = [["await", 1], ["write", GOOD_HELLO], ["await", 1]]


@fuzz(40)
@given(script=scripts(frames))
@example(  # text, not a list, was expected for a binding's load error
    script=[
        ["await", 1],
        ["write", pack([1, 0, None, {"version": 1, "binding_errors": {"test": [1]}}])],
        ["serve"],
    ]
)
def test_fuzzed_frames_from_a_child_never_break_the_parent(
    test_binding: Binding, script: list[list[Any]]
) -> None:
    check_parent_survives(test_binding, script)


@fuzz(40)
@given(script=scripts(hostile, min_size=1, max_size=3))
@example(script=[["await", 1], ["write", b"\x94\x01\x00\xc0" + DEEP], ["serve"]])  # hello
@example(script=[*STARTED, ["write", b"\x94\x01\x01\xc0" + DEEP], ["serve"]])  # the answer
@example(  # a log message
    script=[
        *STARTED,
        ["write", b"\x93\x02\xa5$/log\x91\x82\xa5level\x02\xa7message" + DEEP],
        ["serve"],
    ]
)
def test_hostile_frames_from_a_child_never_break_the_parent(
    test_binding: Binding, script: list[list[Any]]
) -> None:
    check_parent_survives(test_binding, script)


def check_parent_survives(binding: Binding, script: list[list[Any]]) -> None:
    """Run `script` in a fake child and check every property in the module docstring."""
    fds, children = _fds(), _children()
    result, elapsed, problems = run_fake_child(binding, script)
    fuzzed = [step for step in script if step[0] == "write" and len(step) == 3]
    count("child → parent", sum(step[2] for step in fuzzed), sum(len(s[1]) for s in fuzzed))
    note(f"result: {result!r}")
    assert not problems, problems
    assert elapsed < BOUND, f"the execution took {elapsed:.1f} s"
    assert isinstance(result.ret_val, int)
    error = result.error
    if result.ret_val == TaskRetVal.MechanismFail and error is None:
        assert result.result is not None  # the child itself answered ret_val 2
    if error is not None:
        assert isinstance(error, RpcError)
        assert isinstance(error.code, str) and error.code, error
        assert isinstance(error.message, str) and error.message.strip(), error
        if not isinstance(error.code, ErrorCode):
            # An unknown code is only ever the child's own, carried over from its error map.
            assert pack(error.code) in b"".join(s[1] for s in script if s[0] == "write")
    assert result.pid is not None
    try:
        os.killpg(result.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the child's process group {result.pid} outlived its execution")
    assert _fds() == fds, "a descriptor leaked"
    assert _children() == children, "a child process was left behind"
