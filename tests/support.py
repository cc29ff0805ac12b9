"""Helpers shared by the tests: real children driven frame by frame, a Robot API double."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from burrow.rpc.codec import FrameDecoder, Message, Request, Response, encode
from burrow.runner.execution import RobotCall

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh event loop (no pytest-asyncio needed)."""
    return asyncio.run(coro)


class RecordingDispatcher:
    """A Robot API double for transport tests: records calls, answers `{"ret_val": 0}`."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[RobotCall] = []
        self.fail_with = fail_with

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.calls.append(call)
        if self.fail_with is not None:
            raise self.fail_with
        return {"ret_val": 0, "method": call.method, "args": call.args}


class FramedChild:
    """A child driven frame by frame over its stdin and stdout, however it was started."""

    def __init__(self, stdout_fd: int) -> None:
        self._stdout_fd = stdout_fd
        self._decoder = FrameDecoder()
        self._buffered: list[Message] = []

    def send_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def send(self, *messages: Message) -> None:
        """Send `messages` in one write, so that the child reads them together."""
        self.send_bytes(b"".join(encode(message) for message in messages))

    def receive(self) -> Message:
        while not self._buffered:
            data = os.read(self._stdout_fd, 65536)
            if not data:
                raise EOFError("the child closed stdout")
            self._buffered.extend(self._decoder.feed(data))
        return self._buffered.pop(0)

    def request(self, msgid: int, method: str, params: dict[str, Any]) -> Response:
        self.send(Request(msgid, method, [params]))
        message = self.receive()
        assert isinstance(message, Response), message
        return message

    def hello(self, **params: Any) -> Response:
        return self.request(0, "$/hello", {"versions": [1], **params})


class RawChild(FramedChild):
    """A real child, a new interpreter, for handshake and lifecycle tests."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "burrow.child", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        super().__init__(self.proc.stdout.fileno())

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


TEST_BINDING_DIST = "burrowbot-testbinding"
TEST_CHILD_ARGS = ("--binding", "test", "--distribution", TEST_BINDING_DIST)


def gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


ROOT = Path(__file__).resolve().parent.parent


def burrow(
    *args: str, cwd: Path = ROOT, stdin: str = "", timeout: float = 300, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """Run the real `burrow` command (every installed binding loaded unless `extra_env` says)."""
    env = {k: v for k, v in os.environ.items() if k != "BURROW_BINDINGS"} | extra_env
    return subprocess.run(
        [sys.executable, "-m", "burrow", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def catalog_problems(robot_dir: Path, state_dir: Path) -> dict[str, str]:
    """Why each task of the robot in `robot_dir` is disabled, after a real start-up."""
    from burrow.engine.robot import Robot

    async def load() -> dict[str, str]:
        robot = Robot(robot_dir, state_dir=state_dir)
        await robot.load()
        try:
            return robot.catalog.problems()
        finally:
            await robot.close_brain()

    return asyncio.run(load())
