"""The one-shot child: hello, exactly one execution request, shutdown.

Run as `python -I -m burrow.child --binding NAME --distribution DIST` (the parent's form: only
that binding is loaded, found through that distribution's entry-point metadata) or with no
options (every binding in the environment is discovered; slower, for diagnostics).
"""

from __future__ import annotations

# _signal, not signal: the signal module converts each handler to and from an enum (about ten
# copied pages per call in a child forked from the zygote), and importing it imports enum.
import _signal  # type: ignore[import-not-found]
import _thread
import os
import resource
import sys
import time

from burrow.bindings.spec import ENTRY_POINT_GROUP, Binding, Collector, import_module, resolve
from burrow.child.context import Canceled, ExecutionContext
from burrow.rpc.child_session import BlockingSession
from burrow.rpc.codec import Notification, Request, Response
from burrow.rpc.errors import (
    ConnectionClosed,
    ErrorCode,
    ProtocolError,
    RpcError,
    describe_exception,
    shown,
)

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any

PROTOCOL_VERSIONS = (1,)
EXIT_OK = 0
EXIT_PROTOCOL = 2
EXIT_IDENTITY = 3  # could not become the account given with --user

USAGE = "usage: python -m burrow.child [--binding NAME --distribution DIST] [--user UID:GID]"

CPU_SECONDS_MAX = 10**10  # about 317 years
# How long extension code runs before a reader thread watches the stream for a `$/cancel`
# (BlockingSession.start): the longest a cancel can wait to be read, and what an execution
# must last to pay for a thread.
READER_DELAY = 0.05
# $/hello `limits` keys and the resource each sets; docs/protocol.md lists them.
LIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "memory_bytes": resource.RLIMIT_DATA,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}


def drop_privileges(uid: int, gid: int) -> None:
    """Become uid:gid for good, with no supplementary groups; raise OSError if that fails.

    The order matters: groups and gid can only be changed while still root. Afterwards
    setuid(0) must fail, or the drop did not hold and the child must not go on.
    """
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise PermissionError(f"setuid(0) succeeded after dropping to uid {uid}")
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise PermissionError(
            f"the drop did not hold: uids {os.getresuid()}, gids {os.getresgid()}, "
            f"groups {os.getgroups()}"
        )
    # No setuid or file-capability program the extension runs can give back what was dropped.
    import ctypes  # only here: the child's import path stays lean when nothing is dropped

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise PermissionError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: errno {ctypes.get_errno()}")


PR_SET_NO_NEW_PRIVS = 38  # linux/prctl.h


def no_new_privs() -> bool:
    """Whether this process has the no_new_privs bit (from /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            return any(line.split() == ["NoNewPrivs:", "1"] for line in status)
    except OSError:
        return False


def identity_report(dropped: bool) -> dict[str, Any]:
    """Who this child is, for `$/hello`: the parent checks it against what it asked for."""
    uid, euid, suid = os.getresuid()
    gid, egid, sgid = os.getresgid()
    report: dict[str, Any] = {
        "uid": uid,
        "euid": euid,
        "suid": suid,
        "gid": gid,
        "egid": egid,
        "sgid": sgid,
        "groups": sorted(os.getgroups()),
    }
    if dropped:
        report["regained_root"] = False  # drop_privileges() saw setuid(0) fail
        report["no_new_privs"] = no_new_privs()
        report["cwd_readable"] = os.access(".", os.R_OK | os.X_OK)
    return report


def apply_limits(limits: dict[str, Any]) -> None:
    """Set the `$/hello` limits (soft and hard) on this process; ValueError if one cannot be."""
    # A core file would hold the child's environment, secrets included: never write one.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, which in LIMITS.items():
        value = limits.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            continue
        soft, hard = value, value
        if which == resource.RLIMIT_CPU:
            # Linux turns a CPU limit of 2**62 s or more into one that has already passed
            # (SIGXCPU at once); anything over CPU_SECONDS_MAX is no limit in practice.
            soft = min(value, CPU_SECONDS_MAX)
            hard = soft + 1  # SIGXCPU at the limit (reported as such), SIGKILL a second later
        _, current = resource.getrlimit(which)
        if current != resource.RLIM_INFINITY:  # never above the robot's own hard limit
            soft, hard = min(soft, current), min(hard, current)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OverflowError, OSError) as exc:  # 2**63 overflows an rlim_t
            raise ValueError(f"cannot set the {name} limit to {value}: {exc}") from None


def replace_environ(env: dict[str, str]) -> None:
    """Make `env` the whole environment of this process: os.environ and the C environment
    (getenv, what subprocesses get); time.tzset() when TZ changes.

    Through os.environ's own dict of encoded entries when it has one (CPython's), beside
    os.putenv and os.unsetenv, as its own methods do: clear() and update() are
    MutableMapping's generic ones (popitem in a loop, an ABC check), which in a child forked
    from the zygote touched, and so copied, about 40 pages more.
    """
    environ = os.environ
    old_tz = environ.get("TZ")
    data = getattr(environ, "_data", None)
    if isinstance(data, dict):
        for key in list(data):
            os.unsetenv(key)
        data.clear()
        encodekey, encodevalue = environ.encodekey, environ.encodevalue
        for name, value in env.items():
            key, encoded = encodekey(name), encodevalue(value)
            os.putenv(key, encoded)
            data[key] = encoded
    else:
        environ.clear()
        environ.update(env)
    if env.get("TZ") != old_tz:
        time.tzset()


def take_stdio() -> tuple[int, int]:
    """Move the RPC streams off fd 0/1 and point fd 1 at stderr before any extension code runs.

    Afterwards `print()`, `io.write`, `console.log` or a subprocess inheriting fd 1 all write
    to stderr (the task log), and nothing but this module can reach the protocol streams: the
    duplicates are non-inheritable, so subprocesses of the extension do not get them either.
    """
    rfd = os.dup(0)
    wfd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout.flush()
    os.dup2(2, 1)
    return rfd, wfd


class _Discovered:
    """The bindings this child found, and why any it was asked for could not load."""

    def __init__(self) -> None:
        self.bindings: dict[str, Binding] = {}
        self.errors: dict[str, str] = {}
        self._described: dict[str, Any] | None = None

    def described(self) -> dict[str, Any]:
        """The `bindings` map of the `$/hello` answer (made once)."""
        if self._described is None:
            self._described = {
                b.name: {
                    "version": b.version,
                    "methods": sorted(b.methods),
                    "suffixes": list(b.suffixes),
                }
                for b in self.bindings.values()
            }
        return self._described

    def add_from(self, target: str, distribution: str, version: str, source: str) -> None:
        """Import an entry point's target and run its `register_bindings` with a collector."""
        collector = Collector(distribution, version)
        try:
            module_name, _, attr = target.partition(":")
            plugin = resolve(target) if attr else import_module(module_name)
            register_bindings = getattr(plugin, "register_bindings")  # noqa: B009 - clearer error
            register_bindings(collector)
        except Exception as exc:  # noqa: BLE001 - a broken binding is reported, never fatal
            self.errors[source] = f"{type(exc).__name__}: {exc}"
            return
        for binding in collector.bindings:
            self.bindings[binding.name] = binding


# Entry points found by `locate`, by (distribution, binding name). The zygote fills it for the
# child it is about to fork (`locate`), so that no fork reads the same metadata again.
_located: dict[tuple[str, str], Any] = {}


def locate(binding: str, distribution: str) -> Any:
    """The entry point of `binding` in `distribution` (a FoundEntryPoint), or None.

    Found once per process and remembered: the zygote's forks inherit what it found (the same
    interpreter and sys.path, the same installed files as its preloaded modules). A binding
    that is not installed is looked for again each time.
    """
    entry = _located.get((distribution, binding))
    if entry is None:
        from burrow.bindings.locate import find_entry_point

        entry = find_entry_point(distribution, ENTRY_POINT_GROUP, binding)
        if entry is not None:
            _located[(distribution, binding)] = entry
    return entry


# What `register` found, by (distribution, binding name): the zygote registers the binding of
# the child it is about to fork, so that the fork finds it done (`discover`).
_registered: dict[tuple[str, str], _Discovered] = {}


def register(binding: str, distribution: str) -> bool:
    """In the zygote, before a fork: register `binding` of `distribution` now, for the fork to
    inherit (its registration cost each child about 0.25 ms of CPU and 90 copied pages);
    whether it is registered.

    Only when its entry point's module is imported already (preloaded): the zygote imports
    nothing for it, so a binding that starts a thread at import cannot make the zygote unsafe
    to fork. A binding that fails to register is left for the child to report.
    """
    if (distribution, binding) in _registered:
        return True
    entry = locate(binding, distribution)
    if entry is None or entry.value.partition(":")[0] not in sys.modules:
        return False
    found = discover(binding, distribution)
    if binding not in found.bindings or found.errors:
        return False
    found.described()
    _registered[(distribution, binding)] = found
    return True


def discover(binding: str | None, distribution: str | None) -> _Discovered:
    """Load exactly the requested binding, or every installed one when none is named."""
    found = _Discovered()
    if binding is not None and distribution is not None:
        registered = _registered.get((distribution, binding))
        if registered is not None:
            return registered
        entry = locate(binding, distribution)
        if entry is None:
            found.errors[binding] = (
                f"binding {binding!r} is not installed in this environment "
                f"(no {ENTRY_POINT_GROUP} entry point {binding!r} in distribution "
                f"{distribution!r})"
            )
        else:
            found.add_from(entry.value, entry.distribution, entry.version, binding)
            found.bindings = {k: v for k, v in found.bindings.items() if k == binding}
        return found
    from importlib.metadata import entry_points  # slow path: a full scan

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else ""
        version = ep.dist.version if ep.dist is not None else ""
        found.add_from(ep.value, dist, version, ep.name)
    return found


class Child:
    """Serves one parent: the hello exchange, one execution request, then shutdown."""

    def __init__(
        self,
        rfd: int,
        wfd: int,
        binding: str | None,
        distribution: str | None,
        dropped: bool = False,
    ):
        self._binding_name = binding
        self._dropped = dropped
        self._distribution = distribution
        self._session = BlockingSession(rfd, wfd, on_urgent=self._urgent)
        self._discovered: _Discovered | None = None
        self._context: ExecutionContext | None = None
        # $/cancel may arrive in the same read as the request it cancels, before the
        # execution starts, so cancelled msgids are remembered, not only flagged on a context.
        self._canceled: set[int] = set()
        self._executed = False
        self._setup = ""  # "" until $/setup; then "done", or why it failed
        self._main_thread = _thread.get_ident()

    def serve(self) -> int:
        """Run the lifecycle and return the exit status.

        This thread reads the stream itself until extension code is about to run (`_execute`
        starts the reader thread): the hello, `$/setup` and the request need no thread, and a
        request that is refused never starts one.
        """
        try:
            if not self._hello():
                return EXIT_PROTOCOL
            while True:
                message = self._session.next_message()
                if isinstance(message, Request):
                    if message.method == "$/shutdown":
                        self._session.send(Response(message.msgid, None, {"ok": True}))
                        return EXIT_OK
                    self._handle(message)
                elif isinstance(message, Response):
                    _warn(f"ignoring a response to msgid {message.msgid} nobody awaits")
        except ConnectionClosed:
            return EXIT_OK
        except ProtocolError as exc:
            _warn(f"protocol failure: {exc.message}")
            return EXIT_PROTOCOL

    def _hello(self) -> bool:
        try:
            first = self._session.next_message()
        except ConnectionClosed:
            return True  # EOF before anything: nothing to do, exit 0 like any EOF
        if not isinstance(first, Request) or first.method != "$/hello":
            _warn("the first message was not a $/hello request")
            if isinstance(first, Request):
                self._session.send(
                    _error(
                        first.msgid, ErrorCode.PROTOCOL_ERROR, "the first request must be $/hello"
                    )
                )
            return False
        params = _one_map(first.params)
        versions = params.get("versions") if params is not None else None
        common = [v for v in PROTOCOL_VERSIONS if isinstance(versions, list) and v in versions]
        if not common:
            self._session.send(
                _error(
                    first.msgid,
                    ErrorCode.UNSUPPORTED_VERSION,
                    f"this child speaks protocol versions {list(PROTOCOL_VERSIONS)}, "
                    f"the parent offered {shown(versions, 80)}",
                    {"supported": list(PROTOCOL_VERSIONS)},
                )
            )
            return False
        assert params is not None
        try:
            self._apply_hello(params)
        except ValueError as exc:
            self._session.send(_error(first.msgid, ErrorCode.INVALID_PARAMS, str(exc)))
            return False
        self._discovered = discover(self._binding_name, self._distribution)
        result = self._hello_result(max(common))
        if params.get("prepare") is True:
            # A spare: set up each binding's runtime now, before any request (and so before
            # any environment, working directory or extension code of one) reaches us.
            result["prepared"] = self._prepare(params)
        self._session.send(Response(first.msgid, None, result))
        return True

    def _prepare(self, hello: dict[str, Any]) -> list[str]:
        """Run each loaded binding's `prepare` hook; return the names of those that did."""
        assert self._discovered is not None
        prepared = []
        for binding in self._discovered.bindings.values():
            if binding.prepare is None:
                continue
            try:
                resolve(binding.prepare)(hello)  # type: ignore[operator]
            except Exception as exc:  # noqa: BLE001 - the method prepares itself at the request
                _warn(f"binding {binding.name!r} could not prepare: {describe_exception(exc)}")
                continue
            prepared.append(binding.name)
        return prepared

    def _apply_hello(self, params: dict[str, Any]) -> None:
        limit = params.get("max_message_size")
        if isinstance(limit, int) and limit > 0:
            # Safe here: the parent sends nothing more until it has our hello answer.
            self._session.set_max_size(limit)
        limits = params.get("limits")
        # Before any binding is loaded. RLIMIT_DATA, not RLIMIT_AS, bounds memory: V8 reserves
        # large address ranges it never touches.
        apply_limits(limits if isinstance(limits, dict) else {})

    def _hello_result(self, version: int) -> dict[str, Any]:
        assert self._discovered is not None
        result: dict[str, Any] = {
            "version": version,
            "pid": os.getpid(),
            "bindings": self._discovered.described(),
            "identity": identity_report(self._dropped),
        }
        if self._discovered.errors:
            result["binding_errors"] = self._discovered.errors
        return result

    def _handle(self, request: Request) -> None:
        assert self._discovered is not None
        if request.method == "$/setup":
            self._session.send(self._apply_setup(request))
            return
        if request.method.startswith("$/"):
            self._session.send(_error(request.msgid, ErrorCode.METHOD_NOT_FOUND, request.method))
            return
        if self._executed:
            self._session.send(
                _error(request.msgid, ErrorCode.INVALID_STATE, "a child serves one execution")
            )
            return
        target = None
        for binding in self._discovered.bindings.values():
            target = binding.methods.get(request.method, target)
        params = _one_map(request.params)
        if target is None:
            known = sorted(m for b in self._discovered.bindings.values() for m in b.methods)
            self._session.send(
                _error(
                    request.msgid,
                    ErrorCode.METHOD_NOT_FOUND,
                    f"no binding in this child serves {shown(request.method, 80)} (known: {known})",
                )
            )
            return
        if params is None:
            self._session.send(
                _error(request.msgid, ErrorCode.INVALID_PARAMS, "params must be [ {map} ]")
            )
            return
        if self._setup not in ("", "done"):
            self._executed = True
            self._session.send(
                _error(request.msgid, ErrorCode.INVALID_STATE, f"$/setup failed: {self._setup}")
            )
            return
        self._executed = True
        self._session.send_response(self._execute(request, target, params))

    def _apply_setup(self, request: Request) -> Response:
        """`$/setup` {env, cwd}: become the request's process (a spare gets them only now)."""
        if self._executed or self._setup:
            return _error(
                request.msgid,
                ErrorCode.INVALID_STATE,
                "$/setup comes at most once, before the execution request",
            )
        params = _one_map(request.params) or {}
        env, cwd = params.get("env"), params.get("cwd")
        problem = _setup_problem(env, cwd)
        if problem is None and isinstance(env, dict) and isinstance(cwd, str):
            try:
                os.chdir(cwd)
            except OSError as exc:
                problem = f"cannot enter the working directory {cwd}: {exc.strerror or exc}"
        if problem is not None or not isinstance(env, dict):
            self._setup = problem or "env must be a map"
            return _error(request.msgid, ErrorCode.INVALID_PARAMS, self._setup)
        replace_environ(env)
        self._setup = "done"
        return Response(request.msgid, None, {"ok": True})

    def _execute(self, request: Request, target: str, params: dict[str, Any]) -> Response:
        context = ExecutionContext(self._session, request.msgid, request.method)
        self._context = context
        previous = _signal.signal(_signal.SIGUSR1, self._interrupt)
        # From now on a `$/cancel` must reach us while extension code runs: the reader thread
        # reads it and interrupts this thread (`_urgent`). It starts only if the execution
        # lasts READER_DELAY, so a quick one never pays for a thread; a cancel that comes
        # meanwhile is read when it starts, or by a robot call, which reads its own answer.
        # One that came before or with the request was read by this thread and noted in
        # `_canceled`, checked below.
        self._session.start(after=READER_DELAY)
        try:
            handler = resolve(target)
            context.interruptible = True
            if request.msgid in self._canceled:
                raise Canceled()
            result = handler(params, context)  # type: ignore[operator]
            context.interruptible = False
        except Canceled as exc:
            return Response(request.msgid, exc.to_map(), None)
        except RpcError as exc:
            return Response(request.msgid, exc.to_map(), None)
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: the child must answer
            import traceback

            return _error(
                request.msgid,
                ErrorCode.EXTENSION_ERROR,
                f"{request.method} raised {describe_exception(exc)}",
                {"language": "python", "traceback": traceback.format_exc()},
            )
        finally:
            context.interruptible = False
            self._session.stop_timer()  # this thread reads what comes next itself
            _signal.signal(_signal.SIGUSR1, previous)
        if context.canceled:
            return Response(request.msgid, Canceled().to_map(), None)
        if not isinstance(result, dict):
            return _error(
                request.msgid,
                ErrorCode.INTERNAL_ERROR,
                f"{request.method} returned {type(result).__name__}, not a result map",
            )
        return Response(request.msgid, None, result)

    def _urgent(self, notification: Notification) -> None:
        # Runs on the reader thread while the main thread may be deep in extension code.
        if notification.method != "$/cancel":
            return
        params = _one_map(notification.params) or {}
        msgid = params.get("msgid")
        if not isinstance(msgid, int):
            return
        self._canceled.add(msgid)
        context = self._context
        if context is None or msgid != context.msgid:
            return
        context.canceled = True
        pause = 0.001
        while context.interruptible and _thread.get_ident() != self._main_thread:
            # Python runs a handler at its next check for signals: one that lands between that
            # check and a blocking call (time.sleep, a socket wait) is seen only when the call
            # returns. So it is sent until the main thread has taken it (`_interrupt` clears
            # `interruptible`, as do a robot call and the end of the execution).
            _signal.pthread_kill(self._main_thread, _signal.SIGUSR1)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _interrupt(self, signum: int, frame: object) -> None:
        context = self._context
        if context is not None and context.canceled and context.interruptible:
            context.interruptible = False
            raise Canceled()


def _setup_problem(env: Any, cwd: Any) -> str | None:
    """Why `$/setup` params cannot be applied, or None."""
    if not isinstance(cwd, str) or not cwd.startswith("/") or "\0" in cwd:
        return f"cwd must be an absolute path, got {shown(cwd, 80)}"
    if not isinstance(env, dict):
        return f"env must be a map of strings, got {shown(env, 80)}"
    for name, value in env.items():
        if (
            not isinstance(name, str)
            or not isinstance(value, str)
            or not name
            or "=" in name
            or "\0" in name
            or "\0" in value
        ):
            return f"invalid environment entry {shown(name, 80)}"
    return None


def _one_map(params: list[Any]) -> dict[str, Any] | None:
    if len(params) == 1 and isinstance(params[0], dict):
        return params[0]
    return None


def _error(msgid: int, code: ErrorCode, message: str, data: Any = None) -> Response:
    return Response(msgid, RpcError(code, message, data).to_map(), None)


def _warn(message: str) -> None:
    os.write(2, f"burrow.child[{os.getpid()}]: {message}\n".encode())


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m burrow.child`."""
    args = sys.argv[1:] if argv is None else argv
    options: dict[str, str] = {}
    while args:
        if args[0] in ("--binding", "--distribution", "--user") and len(args) > 1:
            options[args[0][2:]] = args[1]
            args = args[2:]
        else:
            print(USAGE, file=sys.stderr)
            return EXIT_PROTOCOL
    if ("binding" in options) != ("distribution" in options):
        print(USAGE, file=sys.stderr)
        return EXIT_PROTOCOL
    if "user" in options:
        # Before a byte from the parent is read, so nothing the child parses runs as root.
        try:
            uid, _, gid = options["user"].partition(":")
            drop_privileges(int(uid), int(gid))
        except (ValueError, OSError) as exc:
            _warn(f"cannot become {options['user']}: {exc}")
            return EXIT_IDENTITY
    rfd, wfd = take_stdio()
    child = Child(rfd, wfd, options.get("binding"), options.get("distribution"), "user" in options)
    return child.serve()
