"""Executions through real child processes: robot calls, isolation, failures and cleanup."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from pathlib import Path

import pytest

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.environment import PASSED_THROUGH
from burrow.runner.execution import Execution, ExecutionSpec
from burrow.runner.limits import ChildLimits
from support import RecordingDispatcher, gone, run


def test_robot_calls_nested_in_an_execution_are_served_in_order(execute, dispatcher) -> None:
    result = execute("calls", "3")
    assert result.ret_val == TaskRetVal.Normal and result.error is None
    assert [(c.method, c.args) for c in dispatcher.calls] == [
        ("Say", ["message 0"]),
        ("Say", ["message 1"]),
        ("Say", ["message 2"]),
    ]
    assert [r["args"] for r in result.result["results"]] == [
        ["message 0"],
        ["message 1"],
        ["message 2"],
    ]


def test_robot_call_error_reaches_the_extension_with_its_code(execute, dispatcher) -> None:
    dispatcher.fail_with = RpcError(ErrorCode.PRIVILEGE_VIOLATION, "unprivileged pipeline")
    result = execute("call", "EncryptSecret", "x")
    assert result.ret_val == TaskRetVal.Normal
    assert result.result["error_code"] == "privilege_violation"


def test_robot_api_bug_is_robot_call_failed_and_the_execution_goes_on(execute, dispatcher) -> None:
    dispatcher.fail_with = ZeroDivisionError("bug in the robot")
    result = execute("call", "Say", "hi")
    assert result.result["error_code"] == "robot_call_failed"
    assert result.ret_val == TaskRetVal.Normal


def test_ret_val_of_the_extension_is_the_execution_ret_val(execute) -> None:
    assert execute("ret", "7").ret_val == TaskRetVal.Success


def test_ten_mebibyte_messages_cross_both_ways(execute) -> None:
    blob = "y" * (10 * 1024 * 1024)
    result = execute("echo", blob)
    assert result.result["params"]["args"][1] == blob


def test_oversized_request_is_refused_before_it_is_sent(execute) -> None:
    result = execute("echo", "z" * 300_000, max_message_size=256 * 1024)
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.PROTOCOL_ERROR
    assert "exceeds the limit" in result.error.message


def test_oversized_result_from_the_child_becomes_a_protocol_error(execute) -> None:
    result = execute("big", "400000", max_message_size=256 * 1024)
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.PROTOCOL_ERROR


def test_stray_output_to_fd_1_goes_to_stderr_and_leaves_the_stream_intact(execute) -> None:
    result = execute("print")
    assert result.ret_val == TaskRetVal.Normal
    assert result.result["after"]["args"] == ["still in sync"]
    for line in ("stray print() output", "stray os.write to fd 1", "stray subprocess output"):
        assert line in result.stderr_tail


def test_log_notifications_reach_the_task_log(execute) -> None:
    logs: list[tuple[int, str]] = []
    result = execute("grandchild", logs=logs, timeout=1.0, cancel_grace=0.2, term_grace=0.2)
    assert result.error.code == ErrorCode.TIMEOUT
    assert logs and logs[0][0] == 2 and logs[0][1].startswith("grandchild ")


def test_hung_extension_is_killed_on_timeout_with_its_grandchildren(execute) -> None:
    logs: list[tuple[int, str]] = []
    result = execute("grandchild", logs=logs, timeout=1.0, cancel_grace=0.3, term_grace=0.3)
    grandchild = int(logs[0][1].split()[1])
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.TIMEOUT
    deadline = time.monotonic() + 5
    while not gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(grandchild), f"grandchild {grandchild} survived its execution"
    assert gone(result.pid)


def test_extension_that_ignores_cancel_and_sigterm_is_sigkilled(execute) -> None:
    started = time.monotonic()
    result = execute("hang", timeout=0.5, cancel_grace=0.3, term_grace=0.3)
    assert result.error.code == ErrorCode.TIMEOUT
    assert result.exit_status == -9
    assert time.monotonic() - started < 5


def test_crashing_child_is_child_exit_with_the_tail_of_its_stderr(execute) -> None:
    result = execute("crash")
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.CHILD_EXIT
    assert "SIGABRT" in result.error.message
    assert result.error.data["status"] == -6
    assert "about to crash" in result.error.data["stderr_tail"]


def test_child_exiting_without_answering_reports_its_status(execute) -> None:
    result = execute("exit", "3")
    assert result.error.code == ErrorCode.CHILD_EXIT
    assert result.error.data["status"] == 3
    assert "exiting with 3" in result.error.data["stderr_tail"]


def test_extension_exception_is_extension_error_with_traceback(execute) -> None:
    result = execute("raise")
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.EXTENSION_ERROR
    assert "ValueError" in result.error.data["traceback"]


def test_memory_exhaustion_is_contained_by_the_limit(execute) -> None:
    result = execute("oom", limits=ChildLimits(memory_bytes=256 * 1024 * 1024))
    assert result.ret_val == TaskRetVal.MechanismFail
    assert "MemoryError" in result.error.message


def test_child_environment_holds_only_what_the_parent_passed(execute, monkeypatch) -> None:
    monkeypatch.setenv("ROBOT_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("PYTHONPATH", "/evil")
    result = execute("env", env={"GOPHER_TASK_NAME": "ext"})
    env = result.result["env"]
    assert "ROBOT_SECRET_TOKEN" not in env and "PYTHONPATH" not in env
    assert env["GOPHER_TASK_NAME"] == "ext"
    assert set(env) <= set(PASSED_THROUGH) | {"GOPHER_TASK_NAME"}


def test_child_inherits_no_descriptors_beyond_0_to_2(execute, tmp_path: Path) -> None:
    leaked = os.open(tmp_path / "parent-secret", os.O_CREAT | os.O_RDWR)
    os.set_inheritable(leaked, True)
    try:
        result = execute("fds")
    finally:
        os.close(leaked)
    fds = result.result["fds"]
    assert not any("parent-secret" in target for target in fds.values())
    assert fds["0"] == "/dev/null"
    assert fds["1"] == fds["2"] and fds["2"].startswith("pipe:")
    # Beside 0-2, only the child's own two protocol descriptors, which it keeps private:
    assert len(fds) == 5
    assert result.result["subprocess_fds"] == "[0, 1, 2, 3]"  # 3: the probe's own listing


def test_working_directory_is_the_requested_one_and_the_parents_is_unchanged(
    execute, tmp_path
) -> None:
    workdir = tmp_path / "workspace"
    workdir.mkdir()
    before = os.getcwd()
    result = execute("cwd", workdir=workdir)
    assert result.result["cwd"] == str(workdir)
    assert os.getcwd() == before


def test_get_config_serves_no_robot_api(execute, dispatcher) -> None:
    result = execute(method="test_get_config")
    assert result.ret_val == TaskRetVal.Normal
    assert result.config == "Help: test binding\nRefused: invalid_state\n"
    assert dispatcher.calls == []


def test_method_the_binding_does_not_register_is_method_not_found(execute) -> None:
    result = execute("echo", method="test_frobnicate")
    assert result.error.code == ErrorCode.METHOD_NOT_FOUND


def test_interpreter_that_cannot_start_is_child_start(execute, tmp_path) -> None:
    result = execute("echo", python=str(tmp_path / "no-such-python"))
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.CHILD_START


def test_child_that_never_says_hello_times_out_in_the_hello_phase(execute, tmp_path) -> None:
    mute = tmp_path / "mute-python"
    mute.write_text("#!/bin/sh\nexec sleep 30\n")
    mute.chmod(mute.stat().st_mode | stat.S_IXUSR)
    started = time.monotonic()
    result = execute("echo", python=str(mute), hello_timeout=0.5, cancel_grace=0.2, term_grace=0.2)
    assert result.error.code == ErrorCode.TIMEOUT
    assert "$/hello" in result.error.message
    assert time.monotonic() - started < 5


def test_cancel_stops_a_running_execution_promptly(test_binding: Binding, tmp_path: Path) -> None:
    async def main() -> tuple[float, object]:
        spec = ExecutionSpec(test_binding, "test_run", {"args": ["sleep", "60"]}, tmp_path)
        execution = Execution(spec, RecordingDispatcher())
        task = asyncio.ensure_future(execution.run())
        await asyncio.sleep(0.5)
        started = time.monotonic()
        execution.cancel("killed by an admin")
        result = await task
        return time.monotonic() - started, result

    elapsed, result = run(main())
    assert result.error.code == ErrorCode.CANCELED
    assert result.error.message == "killed by an admin"
    assert result.exit_status == 0  # the child answered $/cancel and left on its own
    assert elapsed < 2


@pytest.mark.parametrize("n", [1, 20])
def test_many_executions_leave_no_children_behind(execute, n: int) -> None:
    pids = [execute("ret", "0").pid for _ in range(n)]
    assert all(gone(pid) for pid in pids)


def test_child_sending_a_malformed_frame_is_a_protocol_error_and_is_stopped(execute) -> None:
    started = time.monotonic()
    result = execute("garbage", cancel_grace=0.3, term_grace=0.3)
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.PROTOCOL_ERROR
    assert "undecodable frame" in result.error.message
    assert gone(result.pid)
    assert time.monotonic() - started < 10
