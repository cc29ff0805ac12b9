"""BlockingSession.start(after=...) and hand_over, over real pipes."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from burrow.rpc.child_session import BlockingSession
from burrow.rpc.codec import Notification, Request, encode
from burrow.rpc.errors import ConnectionClosed


@pytest.fixture
def pipes() -> Iterator[tuple[int, int, int, int]]:
    """(child reads, parent writes, parent reads, child writes)."""
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    yield to_child_r, to_child_w, to_parent_r, to_parent_w
    signal.setitimer(signal.ITIMER_REAL, 0)
    for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
        try:
            os.close(fd)
        except OSError:
            pass


def _reading(session: BlockingSession, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while session.reader_ident is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_the_reader_starts_when_the_timer_fires(pipes: tuple[int, int, int, int]) -> None:
    session = BlockingSession(pipes[0], pipes[3])
    session.start(after=0.05)
    assert session.reader_ident is None
    time.sleep(0.2)  # the handler runs in this (the main) thread, between bytecodes
    assert _reading(session)


def test_a_stopped_timer_starts_no_reader(pipes: tuple[int, int, int, int]) -> None:
    session = BlockingSession(pipes[0], pipes[3])
    session.start(after=0.05)
    session.stop_timer()
    time.sleep(0.2)
    assert session.reader_ident is None
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_off_the_main_thread_the_reader_starts_at_once(pipes: tuple[int, int, int, int]) -> None:
    session = BlockingSession(pipes[0], pipes[3])
    thread = threading.Thread(target=session.start, kwargs={"after": 30.0})
    thread.start()
    thread.join(5)
    assert _reading(session)


def test_hand_over_gives_what_was_read_and_not_handled(pipes: tuple[int, int, int, int]) -> None:
    session = BlockingSession(pipes[0], pipes[3])
    session.start(after=30.0)
    first = Request(7, "lua_run", [{}])
    cancel = Notification("$/cancel", [{"msgid": 7}])
    half = encode(Request(8, "$/shutdown", [{}]))
    os.write(pipes[1], encode(first) + encode(cancel) + half[:3])
    assert session.next_message() == first  # read here: the notification stays queued
    os.write(pipes[1], half[3:])
    state = session.hand_over(lambda: False)
    # The cancel, decoded and not handled, then the shutdown, whose rest hand_over read itself
    # (no reader thread runs yet to complete it).
    assert state["buffered"] == encode(cancel) + half
    assert (state["rfd"], state["wfd"]) == (pipes[0], pipes[3])
    assert os.get_inheritable(pipes[0]) and os.get_inheritable(pipes[3])
    assert state["next_msgid"] == 0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # no SIGALRM for the program


def test_hand_over_refuses_a_stopped_or_ended_session(pipes: tuple[int, int, int, int]) -> None:
    session = BlockingSession(pipes[0], pipes[3])
    with pytest.raises(ConnectionClosed):
        session.hand_over(lambda: True)
    os.close(pipes[1])
    with pytest.raises(ConnectionClosed):
        session.next_message()
    with pytest.raises(ConnectionClosed):
        session.hand_over(lambda: False)


def test_no_thread_to_be_had_is_said_not_raised_into_the_extension(
    pipes: tuple[int, int, int, int],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # RLIMIT_NPROC reached: the timer's handler runs inside extension code, which must not
    # get an exception that is none of its business.
    from burrow.rpc import child_session

    def refuse(*args: object) -> int:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(child_session._thread, "start_new_thread", refuse)
    session = BlockingSession(pipes[0], pipes[3])
    session.start(after=0.02)
    total = 0
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # "extension code", interrupted by the handler
        total += 1
    assert total > 0 and session.reader_ident is None
    assert "no thread to watch for $/cancel: can't start new thread" in capfd.readouterr().err
