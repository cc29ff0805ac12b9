"""One execution in a one-shot child: spawn, hello, the request, robot calls, shutdown.

The child is a new one, or a spare (burrow.runner.spares) that already answered `$/hello` and
prepared its binding: then the execution sends `$/setup` (environment, working directory)
and the request at once, and the rest is the same.

Every failure of the mechanism (the child would not start, broke the protocol, crashed, hung)
comes back as an `ExecutionResult` with TaskRetVal MechanismFail and a typed error; nothing
escapes to the caller as an exception.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from burrow.bindings.spec import Binding
from burrow.constants import TaskRetVal
from burrow.rpc.codec import DEFAULT_MAX_MESSAGE_SIZE, Notification, Request
from burrow.rpc.errors import ErrorCode, RpcError, describe_exception, shown
from burrow.rpc.parent_session import AsyncSession
from burrow.runner.environment import child_environment
from burrow.runner.limits import ChildLimits, cpu_limit_message
from burrow.runner.privsep import ChildIdentity, identity_problems
from burrow.runner.process import ChildProcess, SpawnedChild, Spawner, wait_any

if TYPE_CHECKING:
    from burrow.rpc.parent_session import AsyncRequestHandler, NotificationHandler

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
HELLO_TIMEOUT = 5.0
GET_CONFIG_TIMEOUT = 20.0
# How long a child that answered its execution has to exit once asked to ($/shutdown, then
# EOF) before it is stopped (SIGTERM, SIGKILL): the 2 s docs/protocol.md gives the $/shutdown
# answer, and 2 s for the exit after it.
SHUTDOWN_GRACE = 4.0


@dataclass(frozen=True)
class RobotCall:
    """One `robot_call` from an extension: a Robot API method, its args and options."""

    method: str
    args: list[Any]
    options: dict[str, Any]


class RobotCallDispatcher(Protocol):
    """What the engine implements to serve an execution's Robot API calls."""

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        """Serve `call` and return its result map, or raise RpcError with a protocol code."""


class NoRobotApi:
    """A dispatcher for executions that get no Robot API (answers `invalid_state`)."""

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        """Refuse every call."""
        raise RpcError(ErrorCode.INVALID_STATE, f"{call.method}: no Robot API in this execution")


@dataclass(frozen=True)
class ExecutionSpec:
    """Everything needed to run one execution request in a fresh child."""

    binding: Binding
    method: str
    params: dict[str, Any]
    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None  # the execution phase; hello has its own
    hello_timeout: float = HELLO_TIMEOUT
    cancel_grace: float = 2.0  # after $/cancel, before SIGTERM to the group
    term_grace: float = 2.0  # after SIGTERM, before SIGKILL
    limits: ChildLimits = field(default_factory=ChildLimits)  # the child sets them at $/hello
    identity: ChildIdentity | None = None  # an unprivileged account to drop to; None: ours
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    python: str = sys.executable

    @property
    def is_get_config(self) -> bool:
        """True for `<binding>_get_config`, during which no Robot API is served."""
        return self.method.endswith("_get_config")


@dataclass
class ExecutionResult:
    """How an execution ended: its TaskRetVal, its result map or error, and the child's traces."""

    ret_val: int
    result: dict[str, Any] | None = None
    error: RpcError | None = None
    # None when no child started, or when its status is unknown: a child that outlived the
    # zygote that forked it was reaped by someone else (docs/security.md, "Zygote failure").
    exit_status: int | None = None
    stderr_tail: str = ""
    pid: int | None = None
    hello: dict[str, Any] | None = None
    spare: bool = False  # the child was a spare, prepared before the request

    @property
    def config(self) -> str | None:
        """The YAML of a `_get_config` execution."""
        value = (self.result or {}).get("config")
        return value if isinstance(value, str) else None


LogSink = Callable[[int, str], None]


class Spare(Protocol):
    """A child that answered `$/hello` (and prepared its binding) before its request."""

    child: ChildProcess
    hello: dict[str, Any]

    def adopt(
        self,
        on_request: AsyncRequestHandler,
        on_notification: NotificationHandler,
        on_stderr_line: Callable[[str], None] | None,
    ) -> AsyncSession:
        """Hand the child's session to its execution; return it."""


class SpareSource(Protocol):
    """A spawner that may also have a spare ready for an execution (burrow.runner.spares)."""

    def take_spare(self, spec: ExecutionSpec) -> Spare | None:
        """A ready spare for exactly `spec`'s binding, account, limits and interpreter."""


class _SpareRefused(Exception):
    """A child forked with its binding's runtime set up beforehand (a spare, or by a zygote
    that started it) cannot serve the request as set up: run it in a new interpreter."""


def hello_params(
    max_message_size: int, limits: ChildLimits, prepare: bool = False
) -> dict[str, Any]:
    """The `$/hello` params for a child with these limits (`prepare`: for a spare)."""
    params: dict[str, Any] = {"versions": [PROTOCOL_VERSION], "max_message_size": max_message_size}
    hello_limits = limits.to_hello()
    if hello_limits:
        params["limits"] = hello_limits
    if prepare:
        params["prepare"] = True
    return params


def check_hello(
    hello: Any, binding: str, method: str | None, identity: ChildIdentity | None
) -> None:
    """Raise RpcError unless `hello` is a version-1 answer from a child that runs as
    `identity` and serves `method` of `binding` (any method of it when `method` is None)."""
    if not isinstance(hello, dict) or hello.get("version") != PROTOCOL_VERSION:
        raise RpcError(ErrorCode.PROTOCOL_ERROR, f"bad $/hello answer: {shown(hello)}")
    if identity is not None:
        # The child checks its own drop; the robot checks it again on every child.
        problems = identity_problems(hello, identity)
        if problems:
            raise RpcError(
                ErrorCode.CHILD_START,
                f"the child did not become {identity}: " + "; ".join(problems),
            )
    bindings = hello.get("bindings")
    info = bindings.get(binding) if isinstance(bindings, dict) else None
    methods = info.get("methods") if isinstance(info, dict) else None
    if not isinstance(methods, list) or (method is not None and method not in methods):
        errors = hello.get("binding_errors") or {}
        why = errors.get(binding) if isinstance(errors, dict) else None
        if not isinstance(why, str):  # the child's text, if it sent text at all
            why = shown(why) if why else None
        wanted = repr(method) if method is not None else f"binding {binding!r}"
        raise RpcError(
            ErrorCode.METHOD_NOT_FOUND,
            f"the child cannot serve {wanted}: "
            + (why or f"binding {binding!r} does not register it"),
            {"binding_errors": errors},
        )


def child_argv(spec: ExecutionSpec) -> list[str]:
    """The command line of a child that loads exactly `spec.binding`."""
    # -I: no PYTHON* variables, no user site, and the working directory (the extension's) is
    # not on sys.path, so a file there cannot shadow a module the child imports.
    argv = [
        spec.python,
        "-I",
        "-m",
        "burrow.child",
        "--binding",
        spec.binding.name,
        "--distribution",
        spec.binding.distribution,
    ]
    if spec.identity is not None:
        argv += ["--user", spec.identity.argument]  # dropped before the child reads anything
    return argv


class Execution:
    """Runs one execution request in a fresh child; cancellable from outside."""

    def __init__(
        self,
        spec: ExecutionSpec,
        dispatcher: RobotCallDispatcher | None = None,
        *,
        on_log: LogSink | None = None,
        on_stderr: Callable[[str], None] | None = None,
        spawner: Spawner | None = None,
    ) -> None:
        self.spec = spec
        self._spawner = spawner  # how the child starts: a new interpreter, or a zygote fork
        self._dispatcher = dispatcher or NoRobotApi()
        self._on_log = on_log
        self._on_stderr = on_stderr
        # Set by cancel() (or once the execution fails): robot calls are refused from then on,
        # and the phase being awaited ends at once with `_stop_error`.
        self._stopping = False
        self._stopped: asyncio.Future[None] | None = None  # done once stopping; made by _phase
        self._stop_error: RpcError | None = None
        self._child: ChildProcess | None = None
        self._session: AsyncSession | None = None
        self._exec_msgid: int | None = None
        self._exec_future: asyncio.Future[Any] | None = None
        self._calls_served = 0

    @property
    def pid(self) -> int | None:
        """The child's pid once spawned."""
        return self._child.pid if self._child is not None else None

    def cancel(
        self, reason: str = "cancelled by the robot", code: ErrorCode = ErrorCode.CANCELED
    ) -> None:
        """Stop the execution: `$/cancel`, then SIGTERM and SIGKILL to the group on our clock."""
        if self._stop_error is None:
            self._stop_error = RpcError(code, reason)
        self._stop()

    def _stop(self) -> None:
        self._stopping = True
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    async def run(self) -> ExecutionResult:
        """Run the execution to its end and report it; never raises for mechanism failures."""
        result = ExecutionResult(ret_val=TaskRetVal.MechanismFail)
        try:
            # A spare first; if it refuses, a child of the spawner (a zygote's fork); if that
            # refuses too, a new interpreter, which sets everything up for the request itself
            # and so never refuses: at most three tries.
            spare, fresh = self._take_spare(), False
            while True:
                try:
                    await self._run(result, spare, fresh)
                    break
                except _SpareRefused as refused:
                    log.info("%s; running it in a new child", refused)
                    await self._retire()
                    result = ExecutionResult(ret_val=TaskRetVal.MechanismFail)
                    spare, fresh = None, spare is None
        except RpcError as exc:
            result.ret_val, result.error = TaskRetVal.MechanismFail, exc
            await self._escalate()
        except Exception as exc:  # the parent must survive any failure here
            log.exception("execution of %s failed inside the robot", self.spec.params.get("path"))
            result.ret_val = TaskRetVal.MechanismFail
            result.error = RpcError(ErrorCode.INTERNAL_ERROR, describe_exception(exc))
            await self._escalate()
        finally:
            if self._child is not None:
                await self._child.close()
                result.exit_status = self._child.returncode
                result.stderr_tail = self._child.stderr.tail()
                result.pid = self._child.pid
            if self._session is not None:
                self._session.close(RpcError(ErrorCode.CHILD_EXIT, "the execution is over"))
        if result.error is not None and result.error.code == ErrorCode.CHILD_EXIT:
            data = result.error.data if isinstance(result.error.data, dict) else {}
            data.setdefault("stderr_tail", result.stderr_tail)
            result.error.data = data
        return result

    def _take_spare(self) -> Spare | None:
        take = getattr(self._spawner, "take_spare", None)
        if take is None or not self.spec.workdir.is_dir():
            return None  # a missing folder fails as it does for a new child, spending no spare
        spare: Spare | None = take(self.spec)
        return spare

    async def _run(self, result: ExecutionResult, spare: Spare | None, fresh: bool = False) -> None:
        spec = self.spec
        env = child_environment(spec.env)
        if spare is not None:
            # Its hello was answered for exactly this binding, account and limits; the
            # environment and working directory go to it now, over its own pipe.
            result.spare = True
            self._child = child = spare.child
            self._session = spare.adopt(self._serve, self._notified, self._on_stderr)
            result.hello = spare.hello
        else:
            # `$/hello` is written before the child exists, into its stdin: it finds it there
            # when it first reads, instead of sleeping until the robot, which learns of the
            # child only when the spawner answers, sends it.
            stdin = _StdinBeforeStart()
            self._session = AsyncSession(
                stdin.write,
                on_request=self._serve,
                on_notification=self._notified,
                max_size=spec.max_message_size,
            )
            _, hello = self._session.start_request(
                "$/hello", [hello_params(spec.max_message_size, spec.limits)]
            )
            hello.add_done_callback(_retrieve)  # a child that never started never answers
            spawn = SpawnedChild.spawn if fresh else (self._spawner or SpawnedChild.spawn)
            self._child = child = await spawn(
                child_argv(spec),
                env=env,
                cwd=spec.workdir,
                on_stdout=self._feed,
                on_stderr_line=self._on_stderr,
                stdin=stdin.take(),
            )
            stdin.attach(child.write)
        watch = _ExitWatch(self, child)
        try:
            if spare is None:
                result.hello = await self._phase(hello, spec.hello_timeout, "$/hello")
            check_hello(result.hello, spec.binding.name, spec.method, spec.identity)
            setup = None
            if spare is not None:
                _, setup = self._session.start_request(
                    "$/setup", [{"env": env, "cwd": str(spec.workdir)}]
                )
                setup.add_done_callback(_retrieve)
            # Sent without waiting for $/setup's answer: the child takes them in order, and
            # refuses the request (invalid_state) if $/setup failed.
            msgid, future = self._session.start_request(spec.method, [spec.params])
            self._exec_msgid, self._exec_future = msgid, future
            try:
                answer = await self._phase(future, spec.timeout, spec.method)
            except RpcError as exc:
                self._check_setup(setup)
                # A binding may refuse a request that the runtime it set up before the request
                # (in a spare, or in the zygote every fork inherits) does not fit, before
                # running anything: the request then goes to a new interpreter.
                refused = exc.code == ErrorCode.CHILD_START and not self._calls_served
                forked = spare is not None or not (fresh or self._spawner is None)
                if forked and refused:
                    how = "a spare" if spare is not None else "a forked child"
                    raise _SpareRefused(f"{how} refused {spec.method}: {exc.message}") from None
                raise
            self._exec_msgid = None
            self._accept(answer, result)
            await self._shutdown(child, self._session)
        finally:
            watch.end()

    def _check_setup(self, setup: asyncio.Future[Any] | None) -> None:
        """Raise child_start if the spare refused its `$/setup` (say, an unusable folder)."""
        if setup is None or not setup.done() or setup.cancelled():
            return
        error = setup.exception()
        if isinstance(error, RpcError) and error.code == ErrorCode.INVALID_PARAMS:
            raise RpcError(
                ErrorCode.CHILD_START,
                f"cannot start a child in {self.spec.workdir}: {error.message}",
                {"cwd": str(self.spec.workdir)},
            ) from None

    async def _retire(self) -> None:
        """End the child of a refused spare (it ran nothing) and forget it."""
        child, session = self._child, self._session
        self._child = self._session = None
        self._exec_msgid = self._exec_future = None
        if child is not None and session is not None:
            await self._shutdown(child, session)
        if session is not None:
            session.close(RpcError(ErrorCode.CHILD_EXIT, "the spare was retired"))
        if child is not None:
            await child.close()

    def _accept(self, answer: Any, result: ExecutionResult) -> None:
        if not isinstance(answer, dict):
            raise RpcError(ErrorCode.PROTOCOL_ERROR, f"{self.spec.method} answered {shown(answer)}")
        result.result = answer
        if self.spec.is_get_config:
            if not isinstance(answer.get("config"), str):
                raise RpcError(
                    ErrorCode.PROTOCOL_ERROR, "a _get_config result needs a 'config' string"
                )
            result.ret_val = TaskRetVal.Normal
            return
        ret_val = answer.get("ret_val")
        if not isinstance(ret_val, int) or isinstance(ret_val, bool):
            raise RpcError(
                ErrorCode.PROTOCOL_ERROR,
                f"a _run result needs an int 'ret_val', got {shown(ret_val, 80)}",
            )
        result.ret_val = ret_val
        error = answer.get("error")
        if error is not None:
            result.error = RpcError.from_map(error)

    async def _phase(self, future: asyncio.Future[Any], timeout: float | None, what: str) -> Any:
        """Await the answer of one phase, bounded by its timeout and by cancel().

        A phase that does not end with its answer cancels the answer's future (a late answer
        is then dropped). No task is made for this: the answer, cancel() and the timer each
        wake the one waiter.
        """
        if not future.done() and not self._stopping:
            if self._stopped is None:
                self._stopped = asyncio.get_running_loop().create_future()
            try:
                await wait_any((future, self._stopped), timeout)
            except BaseException:
                future.cancel()
                raise
        if future.done():
            return future.result()
        future.cancel()
        if self._stopping:
            assert self._stop_error is not None
            raise self._stop_error
        raise RpcError(ErrorCode.TIMEOUT, f"{what} did not answer within {timeout:g} s")

    async def _shutdown(self, child: ChildProcess, session: AsyncSession) -> None:
        """Ask the child to end: `$/shutdown` (it answers and exits 0), then EOF (which also
        makes it exit 0); one that has not exited within the time is stopped."""
        try:
            _, answer = session.start_request("$/shutdown", [{}])
        except RpcError:
            pass  # its stdin is closed: EOF and the wait below still apply
        else:
            # Nothing waits for the answer itself, only for the exit that follows it: an
            # error or no answer at all changes nothing here.
            answer.add_done_callback(_retrieve)
        child.close_stdin()
        if not await child.wait(SHUTDOWN_GRACE):
            await child.stop(self.spec.term_grace)

    async def _escalate(self) -> None:
        """After a failure or cancel: `$/cancel`, EOF, SIGTERM, SIGKILL; always reaped."""
        child, session = self._child, self._session
        self._stop()  # robot calls that still arrive are answered `interrupted`
        if child is None or child.has_exited:
            return
        if session is not None and self._exec_msgid is not None and session.closed is None:
            try:
                session.notify("$/cancel", [{"msgid": self._exec_msgid}])
            except RpcError:
                pass  # the pipe is gone; the signals below still apply
        child.close_stdin()
        if not await child.wait(self.spec.cancel_grace):
            await child.stop(self.spec.term_grace)

    def _feed(self, data: bytes) -> None:
        if self._session is not None:
            self._session.feed(data)

    def _child_exited(self, child: ChildProcess) -> None:
        """The child exited while the execution waited on it: fail what it still owes."""
        if self._session is not None:
            self._session.close(_child_exit(child.returncode, child.stderr.tail(), self.spec))

    async def _serve(self, request: Request) -> dict[str, Any]:
        if request.method != "robot_call":
            raise RpcError(
                ErrorCode.METHOD_NOT_FOUND,
                f"the robot serves no method {shown(request.method, 80)}",
            )
        if self._stopping:
            raise RpcError(ErrorCode.INTERRUPTED, "this execution is being stopped")
        if self.spec.is_get_config or self._exec_msgid is None:
            raise RpcError(
                ErrorCode.INVALID_STATE, "no Robot API is served outside a run execution"
            )
        params = request.params[0] if len(request.params) == 1 else None
        method = params.get("method") if isinstance(params, dict) else None
        args = params.get("args", []) if isinstance(params, dict) else None
        options = params.get("options") or {} if isinstance(params, dict) else None
        if (
            not isinstance(method, str)
            or not isinstance(args, list)
            or not isinstance(options, dict)
        ):
            raise RpcError(
                ErrorCode.INVALID_PARAMS, "robot_call params are [{method, args, options?}]"
            )
        self._calls_served += 1
        try:
            answer = await self._dispatcher.robot_call(RobotCall(method, args, options))
        except RpcError:
            raise
        except Exception as exc:  # a Robot API bug fails the call, not the robot
            log.exception("robot_call %s failed", shown(method, 80))
            raise RpcError(
                ErrorCode.ROBOT_CALL_FAILED, f"{method}: {describe_exception(exc)}"
            ) from exc
        if not isinstance(answer, dict):
            raise RpcError(ErrorCode.ROBOT_CALL_FAILED, f"{method} produced no result map")
        return answer

    def _notified(self, notification: Notification) -> None:
        if notification.method != "$/log" or self._on_log is None:
            return
        params = notification.params[0] if len(notification.params) == 1 else None
        if isinstance(params, dict):
            level = params.get("level")
            message = params.get("message", "")
            self._on_log(
                level if isinstance(level, int) and not isinstance(level, bool) else 2,
                message if isinstance(message, str) else shown(message),  # no str() of any depth
            )


class _ExitWatch:
    """Fails the execution's pending calls when its child exits, once the last of its stdout
    was read (closing the child, as `ChildProcess.close` does, at most a second later).

    Callbacks on the child's futures, not a task per execution: most children exit after
    they answered, with their stdout already read to its end, and then nothing waits.
    """

    def __init__(self, execution: Execution, child: ChildProcess) -> None:
        self._execution = execution
        self._child = child
        self._timer: asyncio.TimerHandle | None = None
        self._ended = False
        child.exited.add_done_callback(self._exited)

    def _exited(self, _: object = None) -> None:
        if self._ended:  # ran after end(): it was already on its way when end() came
            return
        child = self._child
        if child.close_drained():
            self._fire()
            return
        self._timer = asyncio.get_running_loop().call_later(1.0, self._drained)
        child.stdout_closed.add_done_callback(self._drained)

    def _drained(self, _: object = None) -> None:
        if not self._ended:
            self._child.finish_close()
            self._fire()

    def _fire(self) -> None:
        if not self._ended:
            self.end()
            self._execution._child_exited(self._child)

    def end(self) -> None:
        """Stop watching (the execution is over, or the child's end was handled)."""
        self._ended = True
        self._child.exited.remove_done_callback(self._exited)
        self._child.stdout_closed.remove_done_callback(self._drained)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _StdinBeforeStart:
    """A child's stdin before the child exists: what the session writes is kept (`take`
    gives it to the spawner, which puts it in the pipe before the child starts), and once the
    child is there (`attach`) goes to it."""

    def __init__(self) -> None:
        self._kept = bytearray()
        self._write: Callable[[bytes], None] | None = None

    def write(self, data: bytes) -> None:
        if self._write is None:
            self._kept += data
        else:
            self._write(data)

    def take(self) -> bytes:
        data = bytes(self._kept)
        self._kept.clear()
        return data

    def attach(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        if self._kept:  # written while the child was being started
            self.write(self.take())


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen: it is read, if at all, through another path."""
    if not future.cancelled():
        future.exception()


def _child_exit(status: int | None, stderr_tail: str, spec: ExecutionSpec) -> RpcError:
    data = {"status": status, "stderr_tail": stderr_tail}
    limit = cpu_limit_message(status, spec.limits)
    if limit is not None:
        return RpcError(ErrorCode.CHILD_EXIT, f"{limit} before it answered", data)
    if status is None:
        how = "ended (its exit status is unknown: it outlived the zygote that forked it)"
    elif status < 0:
        try:
            how = f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            how = f"was killed by signal {-status}"
    else:
        how = f"exited with status {status}"
    return RpcError(ErrorCode.CHILD_EXIT, f"the child {how} before answering", data)


async def run_execution(
    spec: ExecutionSpec,
    dispatcher: RobotCallDispatcher | None = None,
    *,
    on_log: LogSink | None = None,
) -> ExecutionResult:
    """Run one execution in a fresh child and return how it ended."""
    return await Execution(spec, dispatcher, on_log=on_log).run()
