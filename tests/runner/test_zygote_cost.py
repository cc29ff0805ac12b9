"""What a one-shot child does not have to pay for, forked from the zygote or not.

A fork copies each page of the zygote it writes to, and a page is written as soon as Python
touches an object on it; a thread costs its creation and a wake-up for every message it hands
over. These tests hold the zygote and its children to what keeps that work small, and to the
guarantees that must survive it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from zygote_support import LUA_ARGS, TEST_ARGS, ZygoteServer

from burrow.rpc.codec import Message, Notification, Request, Response, encode
from support import RawChild

# Modules the zygote and its children must not import:
# - `threading` registers a handler that every fork runs at once (os.register_at_fork); in a
#   child of the Lua zygote it cost about a hundred copied pages;
# - `json` (and `re` with it), `socket` (with `selectors`) and `signal` were about 1.8 MiB of
#   the zygote's memory, which every fork maps and every exit unmaps.
NOT_IN_THE_ZYGOTE = ("threading", "queue", "json", "re", "socket", "selectors", "signal")


@pytest.mark.parametrize("preload", ["burrow_lua.runtime", "burrow_testbinding"])
def test_the_zygote_imports_nothing_its_forks_pay_for(preload: str) -> None:
    code = (
        "import sys\n"
        "from burrow.runner import zygote_main\n"
        f"assert zygote_main.load([{preload!r}], None) is None\n"
        f"zygote_main._before_fork({LUA_ARGS!r})\n"
        f"print(sorted(m for m in {NOT_IN_THE_ZYGOTE!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_limits_reach_the_zygote_as_the_robot_gave_them() -> None:
    from burrow.runner import zygote_main

    limits = {"cpu_seconds": 60, "memory_bytes": 1 << 30, "open_files": 256}
    argv = ["7", "--preload", "m", "--limits", zygote_main.limits_arg(limits)]
    assert zygote_main._limits(argv) == limits
    assert zygote_main._limits(["7"]) is None  # not given
    assert zygote_main._limits(["7", "--limits", "cpu_seconds=sixty"]) is None


class Child(Protocol):
    pid: int

    def send(self, *messages: Message) -> None: ...
    def receive(self) -> Message: ...
    def request(self, msgid: int, method: str, params: dict[str, Any]) -> Response: ...
    def hello(self) -> Response: ...


class _Fresh(RawChild):
    """A new interpreter, with the interface of a ForkedChild."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, *messages: Message) -> None:  # type: ignore[override]
        self.send_bytes(b"".join(encode(message) for message in messages))


@pytest.fixture(scope="module")
def zygote() -> Iterator[ZygoteServer]:
    server = ZygoteServer("burrow_testbinding")
    yield server
    server.close()


@pytest.fixture(params=["fresh", "forked"])
def test_child(request: pytest.FixtureRequest, zygote: ZygoteServer) -> Iterator[Child]:
    """A child of the test binding: a new interpreter, or forked from a zygote."""
    if request.param == "forked":
        yield zygote.fork(*TEST_ARGS)
        return
    child = _Fresh(*TEST_ARGS)
    yield child
    child.kill()


def _threads(child: Child) -> int:
    import os

    return len(os.listdir(f"/proc/{child.pid}/task"))


def _eventually(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_the_main_thread_reads_the_hello_and_a_refused_request(test_child: Child) -> None:
    # No reader thread until extension code is about to run: the hello, $/setup and the
    # request cross no thread, and a request refused before running anything starts none.
    assert test_child.hello().error is None
    assert _threads(test_child) == 1
    refused = test_child.request(1, "test_nope", {"args": []})
    assert refused.error is not None and refused.error["code"] == "method_not_found"
    assert _threads(test_child) == 1
    assert test_child.request(2, "$/shutdown", {}).result == {"ok": True}


def test_a_running_extension_has_its_reader_and_a_cancel_interrupts_it(test_child: Child) -> None:
    test_child.hello()
    test_child.send(Request(3, "test_run", [{"args": ["sleep", "60"]}]))
    assert _eventually(lambda: _threads(test_child) == 2)
    started = time.monotonic()
    test_child.send(Notification("$/cancel", [{"msgid": 3}]))
    answer = test_child.receive()
    assert isinstance(answer, Response) and answer.msgid == 3
    assert answer.error is not None and answer.error["code"] == "canceled"
    assert time.monotonic() - started < 10


def test_an_execution_that_ends_quickly_starts_no_thread(test_child: Child) -> None:
    # The reader thread is started READER_DELAY into the execution: one that ends sooner,
    # robot calls included (each reads its own answer), never pays for it.
    test_child.hello()
    test_child.send(Request(3, "test_run", [{"args": ["calls", "3"]}]))
    for _ in range(3):
        call = test_child.receive()
        assert isinstance(call, Request) and call.method == "robot_call"
        test_child.send(Response(call.msgid, None, {"ret_val": 0}))
    answer = test_child.receive()
    assert isinstance(answer, Response) and answer.error is None, answer
    assert answer.result["ret_val"] == 0
    assert _threads(test_child) == 1
    assert test_child.request(4, "$/shutdown", {}).result == {"ok": True}


def test_a_cancel_that_comes_before_the_reader_thread_still_interrupts(test_child: Child) -> None:
    test_child.hello()
    test_child.send(Request(3, "test_run", [{"args": ["sleep", "60"]}]))
    started = time.monotonic()
    test_child.send(Notification("$/cancel", [{"msgid": 3}]))  # a write of its own
    answer = test_child.receive()
    assert isinstance(answer, Response) and answer.msgid == 3
    assert answer.error is not None and answer.error["code"] == "canceled"
    assert time.monotonic() - started < 5  # READER_DELAY (0.05 s), not the minute


@pytest.mark.parametrize("order", ["cancel-after", "cancel-before"])
def test_a_cancel_read_with_its_request_cancels_it(test_child: Child, order: str) -> None:
    # The main thread reads both in one read, before any reader thread exists; the extension
    # (which would sleep for a minute) never runs.
    test_child.hello()
    request = Request(3, "test_run", [{"args": ["sleep", "60"]}])
    cancel = Notification("$/cancel", [{"msgid": 3}])
    started = time.monotonic()
    test_child.send(*([request, cancel] if order == "cancel-after" else [cancel, request]))
    answer = test_child.receive()
    assert isinstance(answer, Response) and answer.msgid == 3
    assert answer.error is not None and answer.error["code"] == "canceled"
    assert time.monotonic() - started < 10


def test_a_fork_finds_its_binding_registered_by_the_zygote(monkeypatch) -> None:
    import burrow_testbinding
    from burrow.child import main as child_main
    from burrow.runner import zygote_main

    monkeypatch.setattr(child_main, "_located", {})
    monkeypatch.setattr(child_main, "_registered", {})
    monkeypatch.setattr(zygote_main, "_prepared", set())
    assert zygote_main._before_fork(TEST_ARGS)  # it ran the registration
    assert not zygote_main._before_fork(TEST_ARGS)  # the next fork's finds it done

    # The fork runs no registration: the binding's own would fail now.
    def broken(register: Any) -> None:
        raise RuntimeError("registered again")

    monkeypatch.setattr(burrow_testbinding, "register_bindings", broken)
    found = child_main.discover("test", "burrowbot-testbinding")
    assert list(found.bindings) == ["test"] and not found.errors
    assert found.described()["test"]["methods"] == ["test_get_config", "test_run"]


def test_the_zygote_registers_no_binding_it_has_not_imported(monkeypatch) -> None:
    # Importing one for its children could start a thread and make the zygote unsafe to fork.
    from burrow.child import main as child_main
    from burrow.runner import zygote_main

    monkeypatch.setattr(child_main, "_registered", {})
    monkeypatch.setattr(zygote_main, "_prepared", set())
    monkeypatch.delitem(sys.modules, "burrow_testbinding", raising=False)
    zygote_main._before_fork(TEST_ARGS)
    assert "burrow_testbinding" not in sys.modules
    assert child_main._registered == {}


THREAD_AT_SECOND_FORK = """\
import threading
import time

forks = 0


def zygote_prefork(binding):
    global forks
    forks += 1
    if forks == 2:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
"""


def test_a_thread_started_before_a_later_fork_stops_the_zygote(tmp_path: Path) -> None:
    # The zygote reads its thread count only after code that could start a thread has run
    # (a hook, a first registration): a hook still runs before every fork, and is checked.
    (tmp_path / "burrow_late_thread.py").write_text(THREAD_AT_SECOND_FORK)
    server = ZygoteServer("burrow_testbinding", "burrow_late_thread", path=str(tmp_path))
    try:
        assert "pid" in server.request_fork(*TEST_ARGS)
        answer = server.request_fork(*TEST_ARGS)
        assert "pid" not in answer and "2 threads" in answer["unsafe"]
        assert server.proc.wait(10) == 3
    finally:
        server.close()
