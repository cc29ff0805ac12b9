"""The session layer: msgids, the pending map, nested requests and notifications, over OS pipes."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest

from burrow.rpc.child_session import BlockingSession
from burrow.rpc.codec import Notification, Request, Response, encode
from burrow.rpc.errors import ConnectionClosed, ErrorCode, ProtocolError, RpcError
from burrow.rpc.parent_session import AsyncSession
from burrow.rpc.session import MsgidAllocator
from support import run


def test_msgids_wrap_at_32_bits_and_skip_pending_ones() -> None:
    ids = MsgidAllocator()
    ids._next = 2**32 - 2
    pending = {0: None}
    assert [ids.allocate(pending), ids.allocate(pending), ids.allocate(pending)] == [
        2**32 - 2,
        2**32 - 1,
        1,
    ]


async def _pair(child_main: Any, on_request: Any) -> tuple[AsyncSession, threading.Thread, list]:
    """An AsyncSession in this loop wired to a BlockingSession run by `child_main` in a thread."""
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    loop = asyncio.get_running_loop()
    notes: list[Notification] = []
    session = AsyncSession(
        lambda data: os.write(to_child_w, data), on_request=on_request, on_notification=notes.append
    )
    loop.add_reader(to_parent_r, lambda: session.feed(os.read(to_parent_r, 65536)))
    child = BlockingSession(to_child_r, to_parent_w)
    child.start()
    thread = threading.Thread(target=child_main, args=(child,), daemon=True)
    thread.start()
    return session, thread, notes


def test_child_serves_a_request_that_makes_nested_calls_back() -> None:
    async def parent_serves(request: Request) -> Any:
        assert request.method == "double"
        return request.params[0] * 2

    def child_main(child: BlockingSession) -> None:
        outer = child.next_message()
        assert isinstance(outer, Request)
        inner = [child.request("double", [n], serve=lambda r: None) for n in (1, 2, 3)]
        child.notify("$/log", [{"level": 2, "message": "done"}])
        child.send(Response(outer.msgid, None, {"inner": inner}))

    async def main() -> tuple[Any, list]:
        session, thread, notes = await _pair(child_main, parent_serves)
        result = await asyncio.wait_for(session.request("outer", [{}]), 5)
        thread.join(5)
        return result, notes

    result, notes = run(main())
    assert result == {"inner": [2, 4, 6]}
    assert [n.params[0]["message"] for n in notes] == ["done"]


def test_error_from_the_serving_side_arrives_typed() -> None:
    async def parent_serves(request: Request) -> Any:
        raise RpcError(ErrorCode.PRIVILEGE_VIOLATION, "not for you", {"method": "Secret"})

    captured: list[RpcError] = []

    def child_main(child: BlockingSession) -> None:
        outer = child.next_message()
        try:
            child.request("Secret", [], serve=lambda r: None)
        except RpcError as exc:
            captured.append(exc)
        child.send(Response(outer.msgid, None, "ok"))

    async def main() -> None:
        session, thread, _ = await _pair(child_main, parent_serves)
        await asyncio.wait_for(session.request("outer", [{}]), 5)
        thread.join(5)

    run(main())
    [error] = captured
    assert (error.code, error.message, error.data) == (
        ErrorCode.PRIVILEGE_VIOLATION,
        "not for you",
        {"method": "Secret"},
    )


def test_parent_bug_while_serving_becomes_an_internal_error_response() -> None:
    async def parent_serves(request: Request) -> Any:
        raise KeyError("oops")

    codes: list[str] = []

    def child_main(child: BlockingSession) -> None:
        outer = child.next_message()
        try:
            child.request("x", [], serve=lambda r: None)
        except RpcError as exc:
            codes.append(str(exc.code))
        child.send(Response(outer.msgid, None, None))

    async def main() -> None:
        session, thread, _ = await _pair(child_main, parent_serves)
        await asyncio.wait_for(session.request("outer", [{}]), 5)
        thread.join(5)

    run(main())
    assert codes == ["internal_error"]


def test_requests_from_one_child_are_served_one_at_a_time_in_order() -> None:
    order: list[str] = []

    async def parent_serves(request: Request) -> Any:
        order.append(f"start {request.params[0]}")
        await asyncio.sleep(0.01)
        order.append(f"end {request.params[0]}")

    def child_main(child: BlockingSession) -> None:
        # Pipelined without waiting, to prove the parent serializes them itself.
        for n in range(3):
            child.send(Request(n, "work", [n]))
        for _ in range(3):
            child.next_message()

    async def main() -> None:
        _, thread, _ = await _pair(child_main, parent_serves)
        for _ in range(100):
            if len(order) == 6:
                break
            await asyncio.sleep(0.01)
        thread.join(5)

    run(main())
    assert order == ["start 0", "end 0", "start 1", "end 1", "start 2", "end 2"]


def test_pending_requests_fail_when_the_session_closes() -> None:
    async def main() -> None:
        async def never(request: Request) -> Any:
            raise AssertionError

        session = AsyncSession(lambda data: None, on_request=never, on_notification=lambda n: None)
        pending = asyncio.ensure_future(session.request("x", []))
        await asyncio.sleep(0)
        session.close(RpcError(ErrorCode.CHILD_EXIT, "gone"))
        with pytest.raises(RpcError, match="gone"):
            await pending

    run(main())


def test_response_to_an_unknown_msgid_closes_the_session_with_a_protocol_error() -> None:
    async def main() -> None:
        async def never(request: Request) -> Any:
            raise AssertionError

        session = AsyncSession(lambda data: None, on_request=never, on_notification=lambda n: None)
        session.feed(encode(Response(99, None, None)))
        assert isinstance(session.closed, ProtocolError)

    run(main())


def test_blocking_session_reports_eof_to_every_reader() -> None:
    r, w = os.pipe()
    session = BlockingSession(r, os.open(os.devnull, os.O_WRONLY))
    session.start()
    os.close(w)
    for _ in range(2):
        with pytest.raises(ConnectionClosed):
            session.next_message()
