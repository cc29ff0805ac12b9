"""The zygote: forked children must be as fresh and as isolated as new interpreters."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from zygote_support import TEST_ARGS

from burrow.rpc.codec import FrameDecoder, Request, Response, encode
from burrow.runner import zygote as zygote_module
from burrow.runner.execution import Execution, ExecutionSpec
from burrow.runner.process import SpawnedChild
from burrow.runner.zygote import Zygote
from support import run


def test_a_childs_environment_goes_to_the_child_never_through_the_zygote(
    test_binding, tmp_path: Path, monkeypatch
) -> None:
    # Every later fork inherits the zygote's memory, so the zygote must never hold a child's
    # environment (it can carry secret parameters): only the child's own setup pipe does.
    sent: list[bytes] = []
    real_send_fds = socket.send_fds

    def recording_send_fds(sock, buffers, fds, *args):  # type: ignore[no-untyped-def]
        sent.extend(bytes(b) for b in buffers)
        return real_send_fds(sock, buffers, fds, *args)

    monkeypatch.setattr(zygote_module.socket, "send_fds", recording_send_fds)

    async def go():
        zygote = Zygote(preload=["burrow_testbinding"])
        try:
            spec = ExecutionSpec(
                test_binding,
                "test_run",
                {"args": ["env"]},
                tmp_path,
                env={"TASK_TOKEN": "s3cret-7f1c"},
            )
            return await Execution(spec, spawner=zygote.spawn).run()
        finally:
            await zygote.close()

    result = run(go())
    assert result.result["env"]["TASK_TOKEN"] == "s3cret-7f1c"  # the child got it
    assert sent and not any(
        b"s3cret-7f1c" in payload or b"TASK_TOKEN" in payload for payload in sent
    )


def test_a_dead_zygote_is_replaced_for_the_next_child(test_binding, tmp_path: Path) -> None:
    import os
    import signal

    async def go():
        zygote = Zygote()
        spec = ExecutionSpec(test_binding, "test_run", {"args": ["ret", "0"]}, tmp_path, timeout=30)
        try:
            first = await Execution(spec, spawner=zygote.spawn).run()
            old = zygote.pid
            assert old is not None
            os.kill(old, signal.SIGKILL)
            while zygote.pid == old:  # until the robot has seen it die
                await asyncio.sleep(0.01)
            second = await Execution(spec, spawner=zygote.spawn).run()
            return first, second, old, zygote.pid
        finally:
            await zygote.close()

    first, second, old, new = run(go())
    assert first.ret_val == 0 and second.ret_val == 0, second.error
    assert new != old


def test_a_fork_leaves_what_it_inherited_out_of_its_garbage_collections(
    test_binding, tmp_path: Path
) -> None:
    # A collection that walked the zygote's objects would write to (copy) each page they lie
    # on; frozen, they are never walked. A new interpreter has nothing to freeze.
    async def go(spawner):  # type: ignore[no-untyped-def]
        spec = ExecutionSpec(test_binding, "test_run", {"args": ["inherited"]}, tmp_path)
        return await Execution(spec, spawner=spawner).run()

    async def both():  # type: ignore[no-untyped-def]
        zygote = Zygote(preload=["burrow_testbinding"])
        try:
            return await go(zygote.spawn), await go(None)
        finally:
            await zygote.close()

    forked, fresh = run(both())
    assert forked.result["frozen"] > 1000
    assert fresh.result["frozen"] == 0


def test_the_zygote_finds_a_binding_once_for_all_its_forks(monkeypatch) -> None:
    from burrow.child import main as child_main
    from burrow.runner import zygote_main

    monkeypatch.setattr(child_main, "_located", {})
    zygote_main._before_fork(
        ["--binding", "test", "--distribution", "burrowbot-testbinding", "--user", "1:1"]
    )
    # A fork inherits what the zygote found: without reading any metadata (no sys.path here),
    # it still loads its binding.
    monkeypatch.setattr("sys.path", [])
    found = child_main.discover("test", "burrowbot-testbinding")
    assert list(found.bindings) == ["test"] and not found.errors
    # A binding that is not installed is not remembered: it is looked for again each time.
    zygote_main._before_fork(["--binding", "nope", "--distribution", "burrowbot-nope"])
    assert list(child_main._located) == [("burrowbot-testbinding", "test")]
    # Whatever the request holds, the zygote itself never fails on it.
    for argv in (None, "x", ["--binding"], ["--binding", 3, "--distribution", "d"]):
        zygote_main._before_fork(argv)


@pytest.mark.parametrize("kind", ["zygote", "interpreter"])
def test_a_child_finds_its_first_messages_waiting_on_its_stdin(kind: str, tmp_path: Path) -> None:
    # The robot puts `$/hello` in the child's stdin before the child exists: the child reads
    # it at once instead of sleeping until the robot hears of it and sends it.
    hello = Request(0, "$/hello", [{"versions": [1]}])

    async def go() -> list[object]:
        zygote = Zygote(preload=["burrow_testbinding"])
        spawn = zygote.spawn if kind == "zygote" else SpawnedChild.spawn
        decoder, answers = FrameDecoder(), []
        arrived = asyncio.Event()

        def on_stdout(data: bytes) -> None:
            answers.extend(decoder.feed(data))
            arrived.set()

        try:
            argv = [sys.executable, "-I", "-m", "burrow.child", *TEST_ARGS]
            child = await spawn(
                argv, env={}, cwd=tmp_path, on_stdout=on_stdout, stdin=encode(hello)
            )
            await asyncio.wait_for(arrived.wait(), 30)  # nothing else was ever written
            child.close_stdin()
            await child.wait(10)
            return answers
        finally:
            await zygote.close()

    answers = run(go())
    assert isinstance(answers[0], Response) and answers[0].msgid == 0
    assert answers[0].error is None and answers[0].result["version"] == 1


def test_an_execution_gives_the_spawner_its_hello_to_put_in_the_childs_stdin(
    test_binding, tmp_path: Path
) -> None:
    given: list[bytes] = []

    async def spawner(argv: list[str], **kwargs: Any) -> Any:
        given.append(kwargs["stdin"])
        return await SpawnedChild.spawn(argv, **kwargs)

    spec = ExecutionSpec(test_binding, "test_run", {"args": ["ret", "0"]}, tmp_path, timeout=30)
    result = run(Execution(spec, spawner=spawner).run())
    assert result.ret_val == 0, result.error
    (first,) = FrameDecoder().feed(given[0])
    assert isinstance(first, Request) and first.method == "$/hello"
