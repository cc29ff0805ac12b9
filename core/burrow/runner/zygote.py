"""The robot's side of the zygote (burrow.runner.zygote_main): children in a millisecond.

`Zygote.spawn` has the signature of `SpawnedChild.spawn`, so an Execution takes either. The
child it returns is a fork of the pre-warmed zygote that behaves like a freshly started
`python -I -m burrow.child`: its own session, fds 0-2 only, the environment and working
directory asked for. The zygote reports its children's exits, because it is their parent.
If the zygote dies, the robot starts another one for the next child.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.environment import child_environment
from burrow.runner.process import ChildProcess, SpawnedChild, StderrBuffer

log = logging.getLogger(__name__)

SETUP_LIMIT = 60 * 1024  # below Linux's default pipe capacity (64 KiB)


class _PipeReader(asyncio.Protocol):
    def __init__(self, on_data: Callable[[bytes], None], closed: asyncio.Future[None] | None):
        self._on_data = on_data
        self._closed = closed

    def data_received(self, data: bytes) -> None:
        self._on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)


class ForkedChild(ChildProcess):
    """A child forked by the zygote; its pipes are ours, its exit status comes from the zygote."""

    def __init__(self, pid: int, stderr: StderrBuffer) -> None:
        super().__init__(pid, stderr)
        self._status: int | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._stdin: asyncio.WriteTransport | None = None

    async def connect(
        self, stdin_w: int, stdout_r: int, stderr_r: int, on_stdout: Callable[[bytes], None]
    ) -> None:
        """Attach the robot's ends of the child's pipes to the event loop."""
        loop = asyncio.get_running_loop()
        out, _ = await loop.connect_read_pipe(
            lambda: _PipeReader(on_stdout, self.stdout_closed), os.fdopen(stdout_r, "rb", 0)
        )
        err, _ = await loop.connect_read_pipe(
            lambda: _PipeReader(self.stderr.feed, None), os.fdopen(stderr_r, "rb", 0)
        )
        self._stdin, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(stdin_w, "wb", 0)
        )
        self._transports = [out, err, self._stdin]

    def exited_with(self, status: int) -> None:
        """Record the exit status the zygote reported."""
        self._status = status
        if not self.exited.done():
            self.exited.set_result(None)

    def write(self, data: bytes) -> None:
        """Write to the child's stdin."""
        if self._stdin is None or self._stdin.is_closing():
            raise RpcError(ErrorCode.CHILD_EXIT, "the child's stdin is closed")
        self._stdin.write(data)

    def close_stdin(self) -> None:
        """Close the child's stdin (EOF makes a child exit 0)."""
        if self._stdin is not None:
            self._stdin.close()

    @property
    def returncode(self) -> int | None:
        """The exit status (negative for a signal), or None while running."""
        return self._status

    def _close_pipes(self) -> None:
        for transport in self._transports:
            transport.close()


class Zygote:
    """One pre-warmed fork server, started on first use and restarted if it dies."""

    def __init__(self, python: str = sys.executable, preload: Sequence[str] = ()) -> None:
        self._python = python
        self._preload = list(preload)
        self._control: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._children: dict[int, ForkedChild] = {}
        self._early_exits: dict[int, int] = {}
        self._starting: asyncio.Lock | None = None

    async def _ensure(self) -> socket.socket:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if (
                self._control is not None
                and self._process is not None
                and self._process.returncode is None
            ):
                return self._control
            await self._start()
            assert self._control is not None
            return self._control

    async def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [self._python, "-I", "-m", "burrow.runner.zygote_main", str(theirs.fileno())]
        for module in self._preload:
            argv += ["--preload", module]
        self._process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),),
            env=child_environment(),
            start_new_session=True,
        )
        theirs.close()
        ours.setblocking(False)
        self._control = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)
        log.info("zygote started (pid %d)", self._process.pid)

    def _readable(self) -> None:
        control = self._control
        assert control is not None
        while True:
            try:
                data = control.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            message = json.loads(data)
            if "exit" in message:
                child = self._children.pop(message["exit"], None)
                if child is not None:
                    child.exited_with(message["status"])
                else:
                    self._early_exits[message["exit"]] = message["status"]
            else:
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)

    def _lost(self) -> None:
        """The zygote died: fail waiting spawns; its orphans' exits can no longer be known."""
        if self._control is not None:
            asyncio.get_running_loop().remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(RpcError(ErrorCode.CHILD_START, "the zygote died"))
        self._pending.clear()
        for child in self._children.values():
            child.exited_with(-9)  # reparented to init, which reaps it; treat it as gone
        self._children.clear()

    async def spawn(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        on_stdout: Callable[[bytes], None],
        on_stderr_line: Callable[[str], None] | None = None,
    ) -> ChildProcess:
        """Fork a child running `python -I -m burrow.child <argv after the module>`."""
        if argv[0] != self._python or "burrow.child" not in argv:
            # Another interpreter was asked for: only a new process can be that.
            return await SpawnedChild.spawn(
                argv, env=env, cwd=cwd, on_stdout=on_stdout, on_stderr_line=on_stderr_line
            )
        if not cwd.is_dir():
            raise RpcError(ErrorCode.CHILD_START, f"cannot start a child in {cwd}: no such folder")
        child_args = list(argv[argv.index("burrow.child") + 1 :])
        # The environment (which may hold secret parameters) goes to the child through its
        # own setup pipe, never through the zygote, whose memory every later fork inherits.
        setup = json.dumps({"env": env, "cwd": str(cwd)}).encode()
        if len(setup) > SETUP_LIMIT:  # more than a pipe holds without a reader: spawn instead
            return await SpawnedChild.spawn(
                argv, env=env, cwd=cwd, on_stdout=on_stdout, on_stderr_line=on_stderr_line
            )
        control = await self._ensure()
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        setup_r, setup_w = os.pipe()
        os.write(setup_w, setup)  # fits the pipe: checked above
        os.close(setup_w)
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        theirs = (stdin_r, stdout_w, stderr_w, setup_r)
        try:
            payload = json.dumps({"id": request_id, "argv": child_args})
            socket.send_fds(control, [payload.encode()], list(theirs))
        except OSError as exc:
            self._pending.pop(request_id, None)
            for fd in (*theirs, stdin_w, stdout_r, stderr_r):
                os.close(fd)
            raise RpcError(
                ErrorCode.CHILD_START, f"the zygote did not take the request: {exc}"
            ) from exc
        for fd in theirs:
            os.close(fd)  # the child's ends: the zygote passed them on
        try:
            answer = await asyncio.wait_for(future, 10)
        except (TimeoutError, RpcError) as exc:
            for fd in (stdin_w, stdout_r, stderr_r):
                os.close(fd)
            raise RpcError(ErrorCode.CHILD_START, f"the zygote did not fork: {exc}") from exc
        if "error" in answer:
            for fd in (stdin_w, stdout_r, stderr_r):
                os.close(fd)
            raise RpcError(ErrorCode.CHILD_START, f"the zygote could not fork: {answer['error']}")
        child = ForkedChild(answer["pid"], StderrBuffer(on_stderr_line))
        self._children[child.pid] = child
        if child.pid in self._early_exits:  # it exited before we registered it
            child.exited_with(self._early_exits.pop(child.pid))
            self._children.pop(child.pid, None)
        await child.connect(stdin_w, stdout_r, stderr_r, on_stdout)
        return child

    async def close(self) -> None:
        """Stop the zygote (running children are unaffected: they end on their own)."""
        if self._control is not None:
            asyncio.get_running_loop().remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        if self._process is not None and self._process.returncode is None:
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
