"""Who reads the child's stream: the reader thread, or the thread waiting for an answer.

The reader thread reads while extension code runs, so that a `$/cancel` reaches it; once it
has handed a robot call its answer it steps aside for `PARK_SECONDS`, and a thread that waits
for a message while the stream is free reads it itself (one thread hand-off less per call).
These tests run a real AsyncSession and BlockingSession over OS pipes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest

from burrow.rpc import child_session
from burrow.rpc.child_session import BlockingSession
from burrow.rpc.codec import Notification, Request, Response, encode
from burrow.rpc.errors import ConnectionClosed
from burrow.rpc.parent_session import AsyncSession
from support import run


class _Child:
    """A BlockingSession whose urgent notifications are noted with the thread that read them."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.urgent: list[tuple[str, str]] = []  # (method, which thread)
        self.noted = threading.Event()
        self.session = BlockingSession(rfd, wfd, on_urgent=self._urgent)

    def _urgent(self, notification: Notification) -> None:
        here = threading.get_ident()
        who = "reader" if here == self.session.reader_ident else threading.current_thread().name
        self.urgent.append((notification.method, who))
        self.noted.set()


async def _pair(child_main: Any, on_request: Any) -> tuple[AsyncSession, threading.Thread, _Child]:
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    loop = asyncio.get_running_loop()
    session = AsyncSession(
        lambda data: os.write(to_child_w, data), on_request=on_request, on_notification=print
    )
    loop.add_reader(to_parent_r, lambda: session.feed(os.read(to_parent_r, 65536)))
    child = _Child(to_child_r, to_parent_w)
    child.session.start()
    thread = threading.Thread(target=child_main, args=(child,), name="extension", daemon=True)
    thread.start()
    return session, thread, child


def test_after_its_first_answer_a_caller_reads_its_own_answers(monkeypatch) -> None:
    # Long enough that no reader comes back during the test, however slow the machine.
    monkeypatch.setattr(child_session, "PARK_SECONDS", 30.0)
    session_box: list[AsyncSession] = []

    async def parent_serves(request: Request) -> Any:
        # Sent just before the answer, so it arrives in the same read or the one before it.
        session_box[0].notify("$/note", [{"call": request.params[0]}])
        return request.params[0] + 1

    def child_main(child: _Child) -> None:
        outer = child.session.next_message()
        assert isinstance(outer, Request)
        results = [child.session.request("inc", [n], serve=lambda r: None) for n in range(5)]
        child.session.send(Response(outer.msgid, None, results))

    async def main() -> tuple[Any, _Child]:
        session, thread, child = await _pair(child_main, parent_serves)
        session_box.append(session)
        result = await asyncio.wait_for(session.request("outer", [{}]), 10)
        thread.join(5)
        return result, child

    result, child = run(main())
    assert result == [1, 2, 3, 4, 5]
    readers = [name for _, name in child.urgent]
    assert len(readers) == 5
    # One answer came through the reader thread (the first, or the second if the caller took
    # the stream before the reader had started), which then went to sleep: every later one was
    # read by the caller, which handled the notification that came with it.
    assert readers.count("reader") <= 1
    assert readers[2:] == ["extension"] * 3


def test_a_cancel_sent_while_the_extension_computes_is_seen_after_the_park(monkeypatch) -> None:
    monkeypatch.setattr(child_session, "PARK_SECONDS", 0.05)
    computing = threading.Event()

    async def parent_serves(request: Request) -> Any:
        return "ok"

    def child_main(child: _Child) -> None:
        outer = child.session.next_message()
        assert isinstance(outer, Request)
        child.session.request("call", [], serve=lambda r: None)
        computing.set()
        # Extension code that never calls the robot again: only the reader can see a cancel.
        child.noted.wait(10)
        child.session.send(Response(outer.msgid, None, "stopped"))

    async def main() -> tuple[Any, _Child, float]:
        session, thread, child = await _pair(child_main, parent_serves)
        _, future = session.start_request("outer", [{}])
        await asyncio.get_running_loop().run_in_executor(None, computing.wait, 10)
        sent = time.monotonic()
        session.notify("$/cancel", [{"msgid": 0}])
        result = await asyncio.wait_for(future, 10)
        waited = time.monotonic() - sent
        thread.join(5)
        return result, child, waited

    result, child, waited = run(main())
    assert result == "stopped"
    assert child.urgent == [("$/cancel", "reader")]
    assert waited < 5  # within the park (50 ms here) and scheduling, never "until the next call"


def test_the_end_of_the_stream_reaches_a_caller_that_reads_it_itself(monkeypatch) -> None:
    monkeypatch.setattr(child_session, "PARK_SECONDS", 30.0)
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    child = BlockingSession(to_child_r, to_parent_w)
    child.start()
    # The first answer goes through the reader thread (or this one), which then sleeps.
    os.write(to_child_w, encode(Response(0, None, "first")))
    assert child.request("a", [], serve=lambda r: None) == "first"
    # Two answers in one write, then the end: this thread reads them all itself.
    os.write(to_child_w, encode(Response(1, None, "second")) + encode(Response(2, None, "third")))
    assert child.request("b", [], serve=lambda r: None) == "second"
    assert child.request("c", [], serve=lambda r: None) == "third"
    os.close(to_child_w)
    for _ in range(2):
        with pytest.raises(ConnectionClosed, match="the parent closed the stream"):
            child.next_message()
    os.close(to_parent_r)


def test_a_caller_polls_briefly_for_its_answer_then_sleeps_until_it_comes(monkeypatch) -> None:
    monkeypatch.setattr(child_session, "PARK_SECONDS", 30.0)
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    child = BlockingSession(to_child_r, to_parent_w)
    child.start()
    os.write(to_child_w, encode(Response(0, None, "first")))  # through the reader, which sleeps
    assert child.request("a", [], serve=lambda r: None) == "first"

    def answer_late() -> None:
        time.sleep(0.3)
        os.write(to_child_w, encode(Response(1, None, "late")))

    threading.Thread(target=answer_late, daemon=True).start()
    cpu, wall = time.thread_time(), time.monotonic()
    assert child.request("b", [], serve=lambda r: None) == "late"
    waited, spent = time.monotonic() - wall, time.thread_time() - cpu
    # This thread read the answer itself: it polled for at most SPIN_SECONDS, then slept in
    # read for the rest of the 0.3 s, using almost no CPU while it waited.
    assert waited >= 0.25
    assert spent < 0.05, f"{spent:.3f} s of CPU spent waiting {waited:.3f} s"
    os.close(to_child_w)
    os.close(to_parent_r)


def test_a_caller_does_not_poll_while_the_parent_is_slow_to_answer(monkeypatch) -> None:
    # The poll before sleeping (SPIN_SECONDS) pays only when the parent answers at once; one
    # that took longer than BUSY_SECONDS last time is busy, and is waited for in read alone.
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    child = BlockingSession(to_child_r, to_parent_w)
    polls: list[str] = []
    spin = child._spin
    monkeypatch.setattr(child, "_spin", lambda: (polls.append("poll"), spin()))

    def call(name: str, msgid: int, delay: float) -> None:
        if delay:
            timer = threading.Timer(
                delay, os.write, (to_child_w, encode(Response(msgid, None, name)))
            )
            timer.start()
        else:  # answered before asked: it is there at once
            os.write(to_child_w, encode(Response(msgid, None, name)))
        assert child.request(name, [], serve=lambda r: None) == name

    call("quick", 0, 0)
    assert len(polls) == 1  # a parent not yet known to be busy: polled for
    call("slow", 1, 20 * child_session.BUSY_SECONDS)
    assert len(polls) == 2  # polled for (the last answer was quick), slept, came late
    call("after the slow one", 2, 0)
    assert len(polls) == 2  # busy last time: not polled for
    call("quick again", 3, 0)
    assert len(polls) == 3  # quick last time: polled for again
    for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
        os.close(fd)


def test_a_hello_that_keeps_the_size_limit_keeps_the_decoder() -> None:
    to_child_r, to_child_w = os.pipe()
    child = BlockingSession(to_child_r, to_child_w)
    decoder = child._decoder
    child.set_max_size(child.max_size)
    assert child._decoder is decoder
    child.set_max_size(1024)
    assert child._decoder is not decoder and child._decoder.max_size == 1024
    os.close(to_child_r)
    os.close(to_child_w)
