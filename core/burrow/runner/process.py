"""One child process: spawned in its own process group, stderr drained, always reaped."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from burrow.rpc.errors import ErrorCode, RpcError

STDERR_KEEP = 64 * 1024


async def wait_any(futures: Iterable[asyncio.Future[Any]], timeout: float | None) -> None:
    """Wait until one of `futures` is done, or `timeout` seconds have passed.

    What `asyncio.wait(..., return_when=FIRST_COMPLETED)` does for futures, for less: no set,
    no task, one waiter and at most one timer, every callback removed on the way out. The
    futures are never cancelled, not even when the caller is: each caller decides what a
    future it stops waiting for becomes.
    """
    futures = tuple(futures)
    for future in futures:
        if future.done():
            return
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    timer = loop.call_later(timeout, wake) if timeout is not None else None
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()
        for future in futures:
            future.remove_done_callback(wake)


class StderrBuffer:
    """A bounded buffer of the child's stderr: the tail is kept, complete lines are forwarded."""

    def __init__(self, on_line: Callable[[str], None] | None = None, keep: int = STDERR_KEEP):
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._keep = keep
        self._partial = b""
        self._on_line = on_line
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        """Keep `data` (dropping the oldest bytes past the bound) and forward whole lines."""
        self._chunks.append(data)
        self._size += len(data)
        while self._size > self._keep and len(self._chunks) > 1:
            old = self._chunks.popleft()
            self._size -= len(old)
            self.dropped += len(old)
        if self._on_line is not None:
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()[-self._keep :]
            for line in lines:
                self._on_line(line.decode("utf-8", "replace"))

    def flush(self) -> None:
        """Forward a last line that had no newline."""
        if self._partial and self._on_line is not None:
            self._on_line(self._partial.decode("utf-8", "replace"))
        self._partial = b""

    def tail(self, limit: int = 4096) -> str:
        """The last `limit` bytes of stderr, decoded."""
        return b"".join(self._chunks)[-limit:].decode("utf-8", "replace")


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, on_stdout: Callable[[bytes], None], stderr: StderrBuffer) -> None:
        self._on_stdout = on_stdout
        self._stderr = stderr
        self.exited = asyncio.get_running_loop().create_future()
        self.stdout_closed = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self._on_stdout(data)
        elif fd == 2:
            self._stderr.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1 and not self.stdout_closed.done():
            self.stdout_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class ChildProcess:
    """A child with pipes on fds 0-2 and nothing else, leading its own process group.

    Subclasses connect the pipes and learn the exit status; signalling the group, escalation
    and clean-up are the same however the child was started.
    """

    def __init__(self, pid: int, stderr: StderrBuffer) -> None:
        self.pid = pid
        # A new session makes the child a session and group leader: pgid == pid.
        self.pgid = pid
        self.stderr = stderr
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.stdout_closed: asyncio.Future[None] = loop.create_future()

    def write(self, data: bytes) -> None:
        """Write to the child's stdin."""
        raise NotImplementedError

    def close_stdin(self) -> None:
        """Close the child's stdin (EOF makes a child exit 0)."""
        raise NotImplementedError

    @property
    def returncode(self) -> int | None:
        """The exit status (negative for a signal); None while running, or if it is unknown."""
        raise NotImplementedError

    @property
    def has_exited(self) -> bool:
        """True once the child has exited (even when its status cannot be known)."""
        return self.exited.done()

    def _close_pipes(self) -> None:
        raise NotImplementedError

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the child to exit; False on timeout. The status is `returncode`."""
        if not self.exited.done():  # done: the usual case at the end of an execution
            await wait_any((self.exited,), timeout)
        return self.exited.done()

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the child's whole process group (grandchildren included)."""
        try:
            os.killpg(self.pgid, signum)
        except ProcessLookupError:
            pass  # the group is already gone
        except PermissionError:
            # Only when the group's id was recycled by someone else's process; never signal it.
            pass

    async def stop(self, term_grace: float, kill_grace: float = 5.0) -> int | None:
        """SIGTERM the group, SIGKILL it after `term_grace`, and reap."""
        if not self.has_exited:
            self.signal_group(signal.SIGTERM)
            if not await self.wait(term_grace):
                self.signal_group(signal.SIGKILL)
                await self.wait(kill_grace)
        await self.close()
        return self.returncode

    async def close(self) -> None:
        """Kill what is left of the group (daemonised grandchildren), then drop the pipes."""
        if not self.close_drained():
            # Pipes held open by a grandchild close when it dies; do not wait forever for that.
            await wait_any((self.stdout_closed,), 1.0)
            self.finish_close()

    def close_drained(self) -> bool:
        """`close()` without waiting: kill what is left of the group and, if stdout has been
        read to its end, drop the pipes and say True; else False, and close() still waits."""
        self.signal_group(signal.SIGKILL)
        if not self.stdout_closed.done():
            return False
        self.finish_close()
        return True

    def finish_close(self) -> None:
        """The end of `close()`: forward the last stderr line, drop the pipes."""
        self.stderr.flush()
        self._close_pipes()


class SpawnedChild(ChildProcess):
    """A child started as a new interpreter (`subprocess`)."""

    def __init__(
        self, transport: asyncio.SubprocessTransport, protocol: _Protocol, stderr: StderrBuffer
    ):
        super().__init__(transport.get_pid(), stderr)
        self._transport = transport
        # The protocol was made before this object; share its futures.
        self.exited = protocol.exited
        self.stdout_closed = protocol.stdout_closed

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        on_stdout: Callable[[bytes], None],
        on_stderr_line: Callable[[str], None] | None = None,
        stdin: bytes = b"",
    ) -> ChildProcess:
        """Start `argv` with `stdin` waiting on its standard input; failure to start raises
        RpcError(child_start)."""
        stderr = StderrBuffer(on_stderr_line)
        loop = asyncio.get_running_loop()
        protocol: _Protocol | None = None

        def factory() -> _Protocol:
            nonlocal protocol
            protocol = _Protocol(on_stdout, stderr)
            return protocol

        try:
            transport, _ = await loop.subprocess_exec(
                factory,
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=str(cwd),
                close_fds=True,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            raise RpcError(
                ErrorCode.CHILD_START,
                f"cannot start {argv[0]} in {cwd}: {exc}",
                {"argv": list(argv), "cwd": str(cwd)},
            ) from exc
        assert protocol is not None
        child = cls(transport, protocol, stderr)
        if stdin:
            child.write(stdin)
        return child

    def write(self, data: bytes) -> None:
        """Write to the child's stdin."""
        pipe = self._transport.get_pipe_transport(0)
        if pipe is None or pipe.is_closing():
            raise RpcError(ErrorCode.CHILD_EXIT, "the child's stdin is closed")
        pipe.write(data)  # type: ignore[attr-defined]

    def close_stdin(self) -> None:
        """Close the child's stdin (EOF makes a child exit 0)."""
        pipe = self._transport.get_pipe_transport(0)
        if pipe is not None:
            pipe.close()

    @property
    def returncode(self) -> int | None:
        """The exit status (negative for a signal), or None while running."""
        return self._transport.get_returncode()

    def _close_pipes(self) -> None:
        self._transport.close()


# spawn(argv, *, env, cwd, on_stdout, on_stderr_line=None, stdin=b""): a started child, with
# `stdin` (its first messages) waiting on its standard input.
Spawner = Callable[..., Awaitable[ChildProcess]]
