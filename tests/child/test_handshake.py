"""The child's lifecycle over real pipes: hello, one execution, shutdown, and its exit statuses."""

from __future__ import annotations

import msgpack
import pytest

from burrow.rpc.codec import Notification, Request, Response
from support import TEST_BINDING_DIST, TEST_CHILD_ARGS


def test_hello_answers_version_pid_and_the_requested_binding(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    answer = child.hello()
    assert answer.error is None
    assert answer.result["version"] == 1
    assert answer.result["pid"] == child.proc.pid
    assert answer.result["bindings"] == {
        "test": {
            "version": "0.0.1",
            "methods": ["test_get_config", "test_run"],
            "suffixes": [".test"],
        }
    }


def test_child_without_options_discovers_every_installed_binding(raw_child) -> None:
    answer = raw_child().hello()
    assert "test" in answer.result["bindings"]


def test_shutdown_answers_ok_and_exits_zero(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    assert child.request(1, "$/shutdown", {}).result == {"ok": True}
    assert child.wait() == 0


def test_eof_makes_the_child_exit_zero(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    child.close_stdin()
    assert child.wait() == 0


def test_eof_before_hello_exits_zero(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.close_stdin()
    assert child.wait() == 0


def test_first_request_other_than_hello_is_a_protocol_error_and_exit_2(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    answer = child.request(0, "test_run", {"args": ["echo"]})
    assert answer.error["code"] == "protocol_error"
    assert child.wait() == 2


def test_notification_before_hello_exits_2(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.send(Notification("$/cancel", [{"msgid": 0}]))
    assert child.wait() == 2


@pytest.mark.parametrize(
    "versions", [[2], [], "1", None], ids=["only-v2", "empty", "string", "missing"]
)
def test_no_common_version_is_unsupported_version_and_exit_2(raw_child, versions) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    answer = child.request(0, "$/hello", {"versions": versions})
    assert answer.error["code"] == "unsupported_version"
    assert answer.error["data"] == {"supported": [1]}
    assert child.wait() == 2


@pytest.mark.parametrize(
    "garbage",
    [b"\xc1\xc1\xc1", msgpack.packb({"hello": 1}), msgpack.packb([9, 9, 9, 9])],
    ids=["undecodable", "map-not-array", "unknown-kind"],
)
def test_garbage_first_frame_exits_2_and_says_why(raw_child, garbage: bytes) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.send_bytes(garbage)
    assert child.wait() == 2
    assert "protocol failure" in child.stderr()


def test_unknown_execution_method_is_method_not_found(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    answer = child.request(1, "lua_run", {"args": []})
    assert answer.error["code"] == "method_not_found"
    assert "lua_run" in answer.error["message"]


def test_unknown_reserved_method_is_method_not_found(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    assert child.request(1, "$/frobnicate", {}).error["code"] == "method_not_found"


def test_a_child_serves_exactly_one_execution(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    assert child.request(1, "test_run", {"args": ["ret", "0"]}).result == {"ret_val": 0}
    assert child.request(2, "test_run", {"args": ["ret", "0"]}).error["code"] == "invalid_state"


def test_execution_params_must_be_one_map(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    child.send(Request(1, "test_run", ["not", "a map"]))
    assert child.receive().error["code"] == "invalid_params"


def test_robot_call_nested_in_an_execution_reaches_the_parent_first(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    child.send(Request(7, "test_run", [{"args": ["call", "GetParameter", "X"]}]))
    call = child.receive()
    assert isinstance(call, Request) and call.method == "robot_call"
    assert call.params == [{"method": "GetParameter", "args": ["X"]}]
    child.send(Response(call.msgid, None, {"value": "42"}))
    answer = child.receive()
    assert answer == Response(7, None, {"ret_val": 0, "result": {"value": "42"}})


def test_cancel_interrupts_a_running_extension_which_answers_canceled(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    child.send(Request(3, "test_run", [{"args": ["sleep", "60"]}]))
    child.send(Notification("$/cancel", [{"msgid": 3}]))
    answer = child.receive()
    assert answer.msgid == 3 and answer.error["code"] == "canceled"
    child.close_stdin()
    assert child.wait() == 0


def test_cancel_during_a_robot_call_ends_the_call_and_answers_canceled(raw_child) -> None:
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    child.send(Request(3, "test_run", [{"args": ["calls", "1"]}]))
    assert child.receive().method == "robot_call"
    child.send(Notification("$/cancel", [{"msgid": 3}]))
    assert child.receive().error["code"] == "canceled"


def test_binding_not_installed_is_reported_in_hello_and_not_served(raw_child) -> None:
    child = raw_child("--binding", "cobol", "--distribution", TEST_BINDING_DIST)
    answer = child.hello()
    assert answer.result["bindings"] == {}
    assert "not installed" in answer.result["binding_errors"]["cobol"]
    assert child.request(1, "cobol_run", {}).error["code"] == "method_not_found"


def test_binding_of_a_missing_distribution_is_refused(raw_child) -> None:
    child = raw_child("--binding", "test", "--distribution", "burrowbot-nonexistent")
    answer = child.hello()
    assert answer.result["bindings"] == {}
    assert child.request(1, "test_run", {"args": ["echo"]}).error["code"] == "method_not_found"


def test_usage_error_exits_2_before_touching_the_streams(raw_child) -> None:
    child = raw_child("--binding", "test")
    assert child.wait() == 2
    assert "usage:" in child.stderr()


def test_child_loads_neither_pluggy_nor_importlib_metadata_nor_asyncio(raw_child) -> None:
    # Start-up cost is the point of the one-shot design; these three cost 15-40 ms each.
    child = raw_child(*TEST_CHILD_ARGS)
    child.hello()
    answer = child.request(1, "test_run", {"args": ["modules"]})
    assert answer.result["modules"] == []
