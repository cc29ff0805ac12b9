"""Every error says something: no RpcError, error response or execution error has a blank
message, whatever frame or exception it came from."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from burrow.bindings.spec import Binding
from burrow.rpc.child_session import BlockingSession
from burrow.rpc.codec import FrameDecoder, Request, Response, encode
from burrow.rpc.errors import (
    NO_MESSAGE,
    ErrorCode,
    ProtocolError,
    RpcError,
    describe_exception,
)
from burrow.rpc.parent_session import AsyncSession
from burrow.runner.execution import ExecutionSpec, run_execution
from support import run


@pytest.mark.parametrize("message", ["", "   ", "\n"])
def test_an_rpc_error_is_never_built_with_a_blank_message(message: str) -> None:
    error = RpcError(ErrorCode.INTERNAL_ERROR, message)
    assert error.message == NO_MESSAGE
    assert str(error) == f"internal_error: {NO_MESSAGE}"
    assert error.to_map()["message"] == NO_MESSAGE


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (KeyError(), "KeyError (without a message)"),
        (AssertionError(), "AssertionError (without a message)"),
        (Exception(""), "Exception('') (without a message)"),
        (ValueError("bad value"), "ValueError: bad value"),
        (KeyError("k"), "KeyError: 'k'"),
    ],
)
def test_an_exception_is_described_by_its_type_when_it_has_no_text(exc, text) -> None:
    assert describe_exception(exc) == text


async def _answer_one_request_with(error: Any) -> RpcError:
    """Send a request through a real parent session and feed it the peer's raw error frame."""
    frame = error if isinstance(error, bytes) else encode(Response(0, error, None))
    written: list[bytes] = []
    session = AsyncSession(written.append, on_request=lambda r: None, on_notification=print)
    task = asyncio.ensure_future(session.request("lua_run", [{}]))
    await asyncio.sleep(0)
    session.feed(frame)
    with pytest.raises(RpcError) as caught:
        await asyncio.wait_for(task, 5)
    return caught.value


@pytest.mark.parametrize(
    "error",
    [
        {},
        {"code": "internal_error"},
        {"code": "internal_error", "message": ""},
        {"code": "extension_error", "message": "  "},
        {"message": 5},
        {"code": "brand_new_code", "message": None},
    ],
)
def test_an_error_frame_without_a_message_still_gives_one(error: dict[str, Any]) -> None:
    got = run(_answer_one_request_with(error))
    assert got.message.startswith(NO_MESSAGE), got
    assert repr(error)[:20] in got.message  # what the peer sent, for whoever reads the log
    assert not str(got).rstrip().endswith(":")


def test_a_handler_raising_an_exception_without_text_answers_its_type() -> None:
    import os

    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    child = BlockingSession(to_child_r, to_parent_w)

    def broken(request: Request) -> Any:
        raise KeyError()

    child.serve_one(Request(7, "robot_call", []), broken)
    data = os.read(to_parent_r, 65536)
    for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
        os.close(fd)
    assert b"KeyError (without a message)" in data


def test_an_extension_raising_an_empty_exception_in_a_real_child_is_named(
    test_binding: Binding, tmp_path: Path
) -> None:
    script = tmp_path / "empty.test"
    script.write_text('commands:\n  "*":\n    - {fail: ""}\n')
    spec = ExecutionSpec(test_binding, "test_run", {"path": str(script), "args": ["go"]}, tmp_path)
    result = run(run_execution(spec))
    assert result.error is not None
    assert result.error.message == "test_run raised RuntimeError('') (without a message)"


@pytest.mark.parametrize(
    ("binding", "name", "source", "message"),
    [
        ("lua", "empty.lua", 'error("", 0)', "the script raised an error without a message"),
        ("lua", "blank.lua", 'error("  ", 0)', "the script raised an error without a message"),
        ("js", "empty.js", 'throw "";', "the script threw an error without a message"),
        ("js", "blank.js", 'throw "  ";', "the script threw an error without a message"),
    ],
)
def test_a_script_error_with_a_blank_message_says_so(
    registry, tmp_path: Path, binding: str, name: str, source: str, message: str
) -> None:
    script = tmp_path / name
    script.write_text(source + "\n")
    spec = ExecutionSpec(
        registry.bindings[binding], f"{binding}_run", {"path": str(script), "args": []}, tmp_path
    )
    result = run(run_execution(spec))
    assert result.ret_val == 2 and result.error is not None
    assert result.error.code == ErrorCode.EXTENSION_ERROR
    assert result.error.message == message
    assert result.error.data["file"] == str(script)


def test_frames_nested_a_thousand_deep_are_described_without_recursing() -> None:
    deep = b"\x91" * 1020 + b"\xc0"  # [[[...[nil]...]]]: repr() would exceed the recursion limit
    response = b"\x94\x01\x00"  # [1, msgid 0, error, result]
    malformed = run(_answer_one_request_with(response + deep + b"\xc0"))
    assert malformed.code == ErrorCode.PROTOCOL_ERROR
    assert malformed.message.startswith("malformed error object: [[[")
    error_map = b"\x82\xa4code\xaeinternal_error\xa4data" + deep  # {code, data: deep}
    blank = run(_answer_one_request_with(response + error_map + b"\xc0"))
    assert blank.message.startswith(NO_MESSAGE) and len(blank.message) < 300
    for frame, why in [
        (b"\x94\x00" + deep + b"\xa1m\x90", "msgid must be an unsigned 32-bit integer, got [[["),
        (b"\x94\x00\x00" + deep + b"\x90", "method must be a non-empty string, got [[["),
        (b"\x95" + deep + b"\xc0\xc0\xc0\xc0", "not a request, response or notification: [[["),
    ]:
        with pytest.raises(ProtocolError, match=re.escape(why)):
            FrameDecoder().feed(frame)


def test_an_undecodable_frame_names_the_decoders_exception() -> None:
    with pytest.raises(ProtocolError) as caught:
        FrameDecoder().feed(b"\x91" * 100_000)  # deeper than msgpack's own stack
    assert caught.value.message == "undecodable frame: StackError (without a message)"
