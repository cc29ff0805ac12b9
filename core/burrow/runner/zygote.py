"""The robot's side of the zygote (burrow.runner.zygote_main): children in a millisecond.

`Zygote.spawn` has the signature of `SpawnedChild.spawn`, so an Execution takes either. The
child it returns is a fork of the pre-warmed zygote that behaves like a freshly started
`python -I -m burrow.child`: its own session, fds 0-2 only, the environment and working
directory asked for. The zygote reports its children's exits, because it is their parent.

If the zygote dies (docs/security.md, "Zygote failure"), nothing it owed is lost: requests it
had not answered are sent again to a new zygote (a new interpreter after repeated failures),
and children it had forked run on under the robot, which holds their pipes and watches and
signals each through a pidfd (a handle on a process that is not the robot's child). Their
exit status can no longer be known — init reaps them — so it is reported as unknown.

A zygote that finds itself with more than one thread (a preloaded module started one) says so
and exits; forking it would be unsafe, so children start as new interpreters from then on.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgpack

from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.environment import child_environment
from burrow.runner.process import ChildProcess, SpawnedChild, StderrBuffer

log = logging.getLogger(__name__)

SETUP_LIMIT = 60 * 1024  # below Linux's default pipe capacity (64 KiB)
FORK_ATTEMPTS = 3  # zygotes that may die under one request before a new interpreter is used
FORK_TIMEOUT = 10.0  # seconds a zygote may take to answer a request before it is replaced


@functools.cache
def pidfds_work() -> bool:
    """Whether this kernel has pidfds (Linux 5.3+), without which no zygote is used."""
    try:
        fd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):
        return False
    os.close(fd)
    return True


class _ZygoteLost(Exception):
    """The zygote died before answering a request: nothing was started, ask again."""


READ_SIZE = 256 * 1024  # what asyncio's pipe transports read at once


class _PipeIn:
    """The robot's read end of one of a child's pipes, watched by the event loop.

    What an asyncio read-pipe transport does for a pipe, without one: a transport is set up
    over three turns of the loop, and a child has three pipes. Each read goes to `on_data`;
    at the end (EOF, an error, or `close`) the fd is closed and `closed` is set.
    """

    __slots__ = ("_closed", "_fd", "_loop", "_on_data")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        on_data: Callable[[bytes], None],
        closed: asyncio.Future[None] | None,
    ) -> None:
        self._loop = loop
        self._fd = fd
        self._on_data = on_data
        self._closed = closed
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._on_data(data)
        else:
            self.close()

    def close(self) -> None:
        """Stop reading and close the fd (again: nothing)."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)


class _PipeOut:
    """The robot's write end of a child's stdin: what an asyncio write-pipe transport does.

    A write goes out at once; what the pipe does not take waits in a buffer, written as the
    pipe drains. A write to a child that closed its end is dropped and closes this end (the
    child's exit says the rest).
    """

    __slots__ = ("_buffer", "_closing", "_fd", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop = loop
        self._fd = fd
        self._buffer = bytearray()
        self._closing = False
        os.set_blocking(fd, False)

    def is_closing(self) -> bool:
        """True once closed or closing: nothing more may be written."""
        return self._closing

    def write(self, data: bytes) -> None:
        """Write `data`, now or as the pipe drains."""
        if self._closing or not data:
            return
        if not self._buffer:
            try:
                written = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError:  # EPIPE: the child closed its end
                self.abort()
                return
            if written == len(data):
                return
            self._loop.add_writer(self._fd, self._writable)
            self._buffer += memoryview(data)[written:]
        else:
            self._buffer += data

    def _writable(self) -> None:
        try:
            written = os.write(self._fd, self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.abort()
            return
        del self._buffer[:written]
        if not self._buffer:
            self._loop.remove_writer(self._fd)
            if self._closing:
                self.abort()

    def close(self) -> None:
        """Close once the buffer is written (EOF for the child)."""
        self._closing = True
        if not self._buffer:
            self.abort()

    def abort(self) -> None:
        """Close now, dropping what is buffered."""
        self._closing = True
        if self._fd >= 0:
            if self._buffer:
                self._loop.remove_writer(self._fd)
                self._buffer.clear()
            os.close(self._fd)
            self._fd = -1


class ForkedChild(ChildProcess):
    """A child forked by the zygote: its pipes are ours, its exit status comes from the zygote.

    Should the zygote die first, the child is watched through its pidfd instead (`orphan`).
    """

    def __init__(self, pid: int, stderr: StderrBuffer, pidfd: int | None = None) -> None:
        super().__init__(pid, stderr)
        self._status: int | None = None
        self._stdout: _PipeIn | None = None
        self._stderr: _PipeIn | None = None
        self._stdin: _PipeOut | None = None
        self._pidfd = pidfd
        self._watching = False
        self._pipes_closed = False
        self.orphaned = False

    def connect(
        self, stdin_w: int, stdout_r: int, stderr_r: int, on_stdout: Callable[[bytes], None]
    ) -> None:
        """Give the robot's ends of the child's pipes to the event loop (this object closes
        them from now on, even if this fails)."""
        loop = asyncio.get_running_loop()
        left = [stdin_w, stdout_r, stderr_r]  # not yet owned by a pipe object
        try:
            self._stdin = _PipeOut(loop, left[0])
            left.pop(0)
            self._stdout = _PipeIn(loop, left[0], on_stdout, self.stdout_closed)
            left.pop(0)
            self._stderr = _PipeIn(loop, left[0], self.stderr.feed, None)
            left.pop(0)
        except BaseException:
            self._close_pipes()
            _close_all(left)
            raise

    def exited_with(self, status: int | None) -> None:
        """Record the exit status the zygote reported (None: it cannot be known)."""
        self._status = status
        if not self.exited.done():
            self.exited.set_result(None)
        self._unwatch()
        if self._pipes_closed:
            self._close_pidfd()

    def orphan(self) -> None:
        """The zygote died: from now on the pidfd says when the child exits (status unknown)."""
        self.orphaned = True
        if self.exited.done():
            return
        if self._pidfd is None:  # not reached: no zygote is used without pidfds
            self.exited_with(None)
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self.exited_with, None)
        self._watching = True

    def _unwatch(self) -> None:
        if self._watching and self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
        self._watching = False

    def signal_group(self, signum: int) -> None:
        """Signal the child through its pidfd (never a recycled pid), then its whole group."""
        if self._pidfd is not None and not self.exited.done():
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:
                pass  # it has exited; the group may still hold grandchildren
        super().signal_group(signum)

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
        """The exit status (negative for a signal); None while running, or if it is unknown."""
        return self._status

    def _close_pipes(self) -> None:
        if self._stdin is not None:
            self._stdin.abort()
        for pipe in (self._stdout, self._stderr):
            if pipe is not None:
                pipe.close()
        self._pipes_closed = True
        if self.exited.done():  # else when it exits: the pidfd may still be needed till then
            self._close_pidfd()

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class _Server:
    """One zygote process and what the robot expects of it."""

    def __init__(self, process: asyncio.subprocess.Process, control: socket.socket) -> None:
        self.process = process
        self.control = control
        self.pending: dict[int, asyncio.Future[tuple[dict[str, Any], list[int]]]] = {}
        # When each pending request is overdue (loop time), oldest first; one timer for all.
        self.deadlines: dict[int, float] = {}
        self.watchdog: asyncio.TimerHandle | None = None
        self.children: dict[int, ForkedChild] = {}
        self.early_exits: dict[int, int] = {}
        self.lost = False

    @property
    def alive(self) -> bool:
        """Still able to take requests, as far as the robot knows."""
        return not self.lost and self.process.returncode is None


class Zygote:
    """One pre-warmed fork server, started on first use and replaced whenever it dies."""

    def __init__(
        self,
        python: str = sys.executable,
        preload: Sequence[str] = (),
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self._python = python
        self._preload = list(preload)
        # The `$/hello` limits of the children, for preload hooks that prepare for them (the
        # JavaScript binding starts V8 with the flags they fit); None: the hooks get none.
        self._limits = None if limits is None else dict(limits)
        self._server: _Server | None = None
        self._ids = itertools.count(1)
        self._starting: asyncio.Lock | None = None
        self._closed = False
        self.unusable: str | None = None  # why forking a zygote is unsafe, once one said so
        self.started = 0  # zygote processes started so far

    @property
    def pid(self) -> int | None:
        """The running zygote's pid, if one runs."""
        server = self._server
        return server.process.pid if server is not None and server.alive else None

    async def _ensure(self) -> _Server:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._closed:
                raise RpcError(ErrorCode.CHILD_START, "the zygote is closed")
            if self.unusable is not None:
                raise RpcError(ErrorCode.CHILD_START, self.unusable)
            server = self._server
            if server is not None and server.alive:
                return server
            if server is not None:
                self._readable(server)  # it exited: read what it said before it went
                self._lost(server)
                if self.unusable is not None:
                    raise RpcError(ErrorCode.CHILD_START, self.unusable)
            self._server = await self._start()
            return self._server

    async def _start(self) -> _Server:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [self._python, "-I", "-m", "burrow.runner.zygote_main", str(theirs.fileno())]
        for module in self._preload:
            argv += ["--preload", module]
        if self._limits is not None:
            from burrow.runner.zygote_main import limits_arg  # the format zygote_main reads

            argv += ["--limits", limits_arg(self._limits)]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=child_environment(),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        server = _Server(process, ours)
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable, server)
        self.started += 1
        log.info("zygote started (pid %d)", process.pid)
        return server

    def _readable(self, server: _Server) -> None:
        reset = False
        while not server.lost:
            try:
                data, fds, _, _ = socket.recv_fds(server.control, 65536, 1)
            except BlockingIOError:
                return
            except ConnectionResetError:
                # A zygote that exits with a request unread in its socket leaves us this error,
                # reported once, before the messages it sent first (say, why it exited).
                if not reset:
                    reset = True
                    continue
                data, fds = b"", []
            except OSError:
                data, fds = b"", []
            if not data:
                _close_all(fds)
                self._lost(server)
                return
            try:
                message = msgpack.unpackb(data, raw=False, strict_map_key=False)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                _close_all(fds)
                log.error("zygote (pid %d) sent an undecodable message", server.process.pid)
                continue
            if "unsafe" in message:
                _close_all(fds)
                self.unusable = str(message["unsafe"])
                log.error("zygote (pid %d): %s", server.process.pid, self.unusable)
                self._lost(server)
                return
            if "exit" in message:
                _close_all(fds)
                child = server.children.pop(message["exit"], None)
                if child is not None:
                    child.exited_with(message["status"])
                else:
                    server.early_exits[message["exit"]] = message["status"]
                continue
            future = server.pending.pop(message["id"], None)
            server.deadlines.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result((message, fds))
            else:
                _close_all(fds)  # a request given up on; its child sees EOF and exits

    def _lost(self, server: _Server) -> None:
        """The zygote is gone: re-ask what it owed; watch what it forked through pidfds."""
        if server.lost:
            return
        server.lost = True
        asyncio.get_running_loop().remove_reader(server.control.fileno())
        server.control.close()
        if server.watchdog is not None:
            server.watchdog.cancel()
            server.watchdog = None
        for future in server.pending.values():
            if not future.done():
                future.set_exception(_ZygoteLost())
        server.pending.clear()
        server.deadlines.clear()
        if server.children:
            log.warning(
                "the zygote (pid %d) is gone; %d running children stay supervised by pidfd",
                server.process.pid,
                len(server.children),
            )
        for child in server.children.values():
            child.orphan()
        server.children.clear()

    async def spawn(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        on_stdout: Callable[[bytes], None],
        on_stderr_line: Callable[[str], None] | None = None,
        stdin: bytes = b"",
    ) -> ChildProcess:
        """Fork a child running `python -I -m burrow.child <argv after the module>`, with
        `stdin` waiting on its standard input."""

        async def new_interpreter() -> ChildProcess:
            return await SpawnedChild.spawn(
                argv,
                env=env,
                cwd=cwd,
                on_stdout=on_stdout,
                on_stderr_line=on_stderr_line,
                stdin=stdin,
            )

        if (
            argv[0] != self._python
            or "burrow.child" not in argv
            or not pidfds_work()
            or self.unusable is not None
        ):
            # Another interpreter was asked for (only a new process can be that), the kernel
            # has no pidfds to watch children with should the zygote die, or forking a
            # zygote was found unsafe.
            return await new_interpreter()
        if not cwd.is_dir():
            raise RpcError(ErrorCode.CHILD_START, f"cannot start a child in {cwd}: no such folder")
        child_args = list(argv[argv.index("burrow.child") + 1 :])
        # The environment (which may hold secret parameters) goes to the child through its
        # own setup pipe, never through the zygote, whose memory every later fork inherits.
        setup = msgpack.packb({"env": env, "cwd": str(cwd)})
        if len(setup) > SETUP_LIMIT or len(stdin) > SETUP_LIMIT:
            return await new_interpreter()  # more than a pipe holds without a reader
        for attempt in range(1, FORK_ATTEMPTS + 1):
            try:
                server = await self._ensure()
            except (OSError, RpcError) as exc:
                log.error("no zygote (%s); starting a new interpreter instead", exc)
                break
            try:
                return await self._fork(server, child_args, setup, stdin, on_stdout, on_stderr_line)
            except _ZygoteLost:
                if self.unusable is not None:
                    break
                log.warning(
                    "the zygote died before forking a child (attempt %d of %d)",
                    attempt,
                    FORK_ATTEMPTS,
                )
        return await new_interpreter()

    async def _fork(
        self,
        server: _Server,
        child_args: list[str],
        setup: bytes,
        stdin: bytes,
        on_stdout: Callable[[bytes], None],
        on_stderr_line: Callable[[str], None] | None,
    ) -> ChildProcess:
        """One request to one zygote; _ZygoteLost if it died before answering."""
        stdin_r, stdin_w = os.pipe()
        # The child's first messages are in its stdin before it exists (they fit the pipe:
        # `spawn` checked), so it reads them at once instead of sleeping until they come.
        if stdin:
            os.write(stdin_w, stdin)
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        setup_r, setup_w = os.pipe()
        os.write(setup_w, setup)  # fits the pipe: checked by the caller
        os.close(setup_w)
        theirs = (stdin_r, stdout_w, stderr_w, setup_r)
        ours = (stdin_w, stdout_r, stderr_r)
        request_id = next(self._ids)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[dict[str, Any], list[int]]] = loop.create_future()
        server.pending[request_id] = future
        server.deadlines[request_id] = deadline = loop.time() + FORK_TIMEOUT
        if server.watchdog is None:
            server.watchdog = loop.call_at(deadline, self._overdue, server)
        try:
            try:
                payload = msgpack.packb({"id": request_id, "argv": child_args})
                socket.send_fds(server.control, [payload], list(theirs))
            except OSError as exc:
                server.pending.pop(request_id, None)
                server.deadlines.pop(request_id, None)
                self._readable(server)  # what it said before it went (it may be unusable)
                self._lost(server)  # a zygote that cannot take a request is gone
                raise _ZygoteLost() from exc
            finally:
                _close_all(theirs)  # the child's ends: the zygote has them now, or nobody
            # Answered, or _ZygoteLost: the zygote died, or was overdue and replaced.
            answer, fds = await future
        except BaseException:
            _close_all(ours)
            # Given up on (cancelled): an answer that comes later is closed as it arrives.
            server.pending.pop(request_id, None)
            server.deadlines.pop(request_id, None)
            raise
        if "error" in answer:
            _close_all((*ours, *fds))
            raise RpcError(ErrorCode.CHILD_START, f"the zygote could not fork: {answer['error']}")
        _close_all(fds[1:])
        child = ForkedChild(answer["pid"], StderrBuffer(on_stderr_line), fds[0] if fds else None)
        if child.pid in server.early_exits:  # it exited before we registered it
            child.exited_with(server.early_exits.pop(child.pid))
        elif server.lost:  # the zygote died right after answering
            child.orphan()
        else:
            server.children[child.pid] = child
        try:
            child.connect(stdin_w, stdout_r, stderr_r, on_stdout)
        except BaseException:
            child.signal_group(signal.SIGKILL)  # nobody will ever talk to it
            raise
        return child

    def _overdue(self, server: _Server) -> None:
        """The watchdog: replace a zygote that left a request unanswered for FORK_TIMEOUT."""
        server.watchdog = None
        if server.lost or not server.deadlines:
            return
        deadline = next(iter(server.deadlines.values()))  # the oldest request's
        loop = asyncio.get_running_loop()
        if deadline > loop.time():
            server.watchdog = loop.call_at(deadline, self._overdue, server)
            return
        log.error("the zygote did not answer within %g s; replacing it", FORK_TIMEOUT)
        if server.process.returncode is None:
            server.process.kill()
        self._lost(server)  # every request it owed is asked again of a new zygote

    async def close(self) -> None:
        """Stop the zygote; children it forked run on, watched through their pidfds."""
        self._closed = True
        server, self._server = self._server, None
        if server is None:
            return
        self._lost(server)  # closes the control socket, which makes the zygote exit
        if server.process.returncode is None:
            try:
                await asyncio.wait_for(server.process.wait(), 5)
            except TimeoutError:
                server.process.kill()
                await server.process.wait()


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)


class BindingZygotes:
    """One zygote per binding, each preloading that binding's modules only, each started at
    its binding's first child; `spawn` has the signature of `Zygote.spawn`.

    A fork maps every page of its zygote again and its exit unmaps them, so a child should
    carry its own runtime and no other: with one zygote for every binding, each Lua child of
    a robot that also runs JavaScript carried V8's library (about 25 MiB resident, about
    0.4 ms more CPU per child). A child asked for with no `--binding` (the diagnostic form)
    comes from a zygote that preloads nothing.
    """

    def __init__(
        self,
        preloads: Mapping[str, Sequence[str]],
        python: str = sys.executable,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        self._preloads = {name: list(modules) for name, modules in preloads.items()}
        self._python = python
        self._limits = limits
        self._zygotes: dict[str, Zygote] = {}
        self._closed = False

    def zygote(self, binding: str) -> Zygote:
        """The zygote of `binding` ("" for none), made (not started) on first use."""
        found = self._zygotes.get(binding)
        if found is None:
            preload = self._preloads.get(binding, [])
            found = self._zygotes[binding] = Zygote(self._python, preload, self._limits)
            if self._closed:
                found._closed = True
        return found

    @property
    def pids(self) -> dict[str, int]:
        """The pid of each running zygote, by binding ("" for the one of no binding)."""
        return {name: z.pid for name, z in self._zygotes.items() if z.pid is not None}

    async def spawn(self, argv: Sequence[str], **options: Any) -> ChildProcess:
        """Fork the child from the zygote of the binding its argv names (`--binding NAME`),
        with `Zygote.spawn`'s options passed as they came."""
        binding = ""
        for i, arg in enumerate(argv[:-1]):
            if arg == "--binding":
                binding = argv[i + 1]
        return await self.zygote(binding).spawn(argv, **options)

    async def close(self) -> None:
        """Stop every zygote; children they forked run on, watched through their pidfds."""
        self._closed = True
        await asyncio.gather(*(z.close() for z in self._zygotes.values()))
