"""How the parent serves the child's requests: at once when the handler need not wait, in a task
when it must, always one at a time and in arrival order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from burrow.rpc.codec import FrameDecoder, Request, Response, encode
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.rpc.parent_session import AsyncSession
from support import run


def _answers(written: list[bytes]) -> list[Response]:
    decoder = FrameDecoder()
    return [m for chunk in written for m in decoder.feed(chunk) if isinstance(m, Response)]


def test_a_request_whose_handler_need_not_wait_is_answered_before_feed_returns() -> None:
    async def handler(request: Request) -> Any:
        return {"echo": request.params}

    async def main() -> list[Response]:
        written: list[bytes] = []
        session = AsyncSession(written.append, on_request=handler, on_notification=print)
        session.feed(encode(Request(1, "robot_call", ["a"])) + encode(Request(2, "x", ["b"])))
        # No turn of the event loop: both answers are written already, in order.
        return _answers(written)

    answers = run(main())
    assert [(a.msgid, a.result) for a in answers] == [(1, {"echo": ["a"]}), (2, {"echo": ["b"]})]


def test_requests_behind_one_that_waits_are_served_after_it_in_order() -> None:
    served: list[str] = []
    release: asyncio.Future[None] | None = None

    async def handler(request: Request) -> Any:
        served.append(f"start {request.msgid}")
        if request.msgid == 1:
            assert release is not None
            await release  # waits, as a reply from a user would
            await asyncio.sleep(0)  # and a bare yield on the way
        served.append(f"end {request.msgid}")
        if request.msgid == 3:
            raise RpcError(ErrorCode.INVALID_PARAMS, "three is refused")
        return request.msgid * 10

    async def main() -> tuple[list[Response], list[Response]]:
        nonlocal release
        release = asyncio.get_running_loop().create_future()
        written: list[bytes] = []
        session = AsyncSession(written.append, on_request=handler, on_notification=print)
        session.feed(b"".join(encode(Request(n, "robot_call", [])) for n in (1, 2, 3)))
        before = _answers(written)
        release.set_result(None)
        for _ in range(10):
            await asyncio.sleep(0)
        return before, _answers(written)

    before, after = run(main())
    assert before == []  # the first waits, and the others wait behind it
    assert served == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    assert [(a.msgid, a.result) for a in after[:2]] == [(1, 10), (2, 20)]
    assert after[2].msgid == 3 and after[2].error["code"] == "invalid_params"


def test_a_handler_still_waiting_when_the_session_closes_is_cancelled() -> None:
    seen: list[str] = []

    async def handler(request: Request) -> Any:
        try:
            await asyncio.get_running_loop().create_future()  # never done
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return None

    async def main() -> list[Response]:
        written: list[bytes] = []
        session = AsyncSession(written.append, on_request=handler, on_notification=print)
        session.feed(encode(Request(1, "robot_call", [])) + encode(Request(2, "robot_call", [])))
        await asyncio.sleep(0)
        session.close(RpcError(ErrorCode.CHILD_EXIT, "gone"))
        for _ in range(5):
            await asyncio.sleep(0)
        return _answers(written)

    assert run(main()) == []  # nothing is written to a closed session
    assert seen == ["cancelled"]  # the second request was dropped, never started


def test_an_answer_that_cannot_be_written_is_dropped_and_the_session_reads_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The robot closes a child's stdin when it stops it or once it has answered; a robot call
    # that arrives then cannot be answered, and what the child sends after it still counts.
    stdin_open = True

    def write(data: bytes) -> None:
        if not stdin_open:
            raise RpcError(ErrorCode.CHILD_EXIT, "the child's stdin is closed")

    async def handler(request: Request) -> Any:
        return {"ret_val": 0}

    async def main() -> tuple[Any, BaseException | None]:
        nonlocal stdin_open
        session = AsyncSession(write, on_request=handler, on_notification=print)
        msgid, future = session.start_request("lua_run", [{}])
        stdin_open = False
        session.feed(encode(Request(7, "robot_call", [])) + encode(Response(msgid, None, "done")))
        return await asyncio.wait_for(future, 5), session.closed

    with caplog.at_level(logging.DEBUG, logger="burrow"):
        result, closed = run(main())
    assert result == "done" and closed is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "answer 7 not sent: the child's stdin is closed" in caplog.text
