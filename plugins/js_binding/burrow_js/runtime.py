"""Runs one JavaScript extension in this one-shot child: limits, V8, the script, its result.

The binding's two methods, `js_run` and `js_get_config`, start V8 (burrow_js._v8), run the
prelude (burrow_js/js/prelude.js) and then the extension file as a global script, as
Gopherbot does. The script's completion value is the result. While it runs, every Robot
method, `console` line and `require` reaches Python synchronously through the bridge and is
served here, on the V8 thread.

A spare child starts V8 in `prepare`, before any request: isolate, context and bridge, with
flags fitted to its data limit. The request then only sets its heap limit and its handler;
a request whose V8 flags would differ (a `js_heap_limit` that needs V8 interpreted where the
spare has the JIT, or the reverse) is refused with `child_start` before anything runs, and the
robot runs it in a new interpreter. The zygote loads the native library (`zygote_preload`)
and, when the robot told it the limits its children get, starts V8 with the flags they fit
before its first JavaScript child (`zygote_prefork`): every later fork inherits it, and a
request those flags do not serve is refused the same way.
"""

from __future__ import annotations

import json
import math
import os
import resource
import stat
import sys
import time

from burrow.child.context import Canceled, ExecutionContext
from burrow.rpc.errors import ErrorCode, RpcError
from burrow_js import _v8

TYPE_CHECKING = False  # like burrow.child: `typing` costs a one-shot child start-up time
if TYPE_CHECKING:
    from typing import Any

MiB = 1024 * 1024
# Defaults for request params the engine may set; docs/javascript.md explains each.
DEFAULT_HEAP_LIMIT = 128 * MiB  # params["js_heap_limit"], bytes of V8 heap
DEFAULT_DATA_LIMIT = 1024 * MiB  # RLIMIT_DATA when the parent set none (hello limits)
# What V8 needs beside the heap under RLIMIT_DATA (measured, docs/javascript.md): with the JIT
# its 512 MiB code range is reserved writable, which RLIMIT_DATA counts; interpreted
# (--jitless) it starts in about 30 MiB. A full heap commits up to about twice its live size
# while collecting, so the JIT is used when the data limit leaves room for twice the heap
# limit, and otherwise V8 runs interpreted with the heap limit lowered to fit: a heap bomb then
# always meets the heap limit (a clean error) before the data limit (a V8 crash).
JIT_DATA_NEEDED = 640 * MiB
JITLESS_DATA_NEEDED = 64 * MiB
MIN_HEAP_LIMIT = 8 * MiB
MAX_ARGS = 16384  # as Gopherbot: more arguments than this are refused
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # msgpack's and Go's integers

_LANGUAGE = "javascript"
_BINDING = "js"  # the name burrow_js registers this binding under
_BUILTIN_PREFIX = "burrow:"
_HERE = os.path.dirname(os.path.abspath(__file__))
_LOG_ERROR = 5  # LogLevel.Error


def zygote_preload(limits: dict[str, Any] | None = None) -> None:
    """In the zygote, after import: load mini-racer's native library (no V8, no thread), and
    keep the `$/hello` `limits` the robot gives its children for `zygote_prefork`."""
    global _zygote_limits
    if _v8.preload():
        _zygote_limits = limits


def zygote_prefork(binding: str) -> None:
    """In the zygote, before it forks a child of `binding`: at the first JavaScript child,
    start V8 (no isolate, no thread) with the flags a spare child takes under the limits
    `zygote_preload` was given, so that no fork starts V8 again (about 8 ms of CPU each).
    Without limits V8 waits for each child, which knows its own; a robot that runs no
    JavaScript never starts it."""
    global _zygote_limits, _zygote_plan
    limits, _zygote_limits = _zygote_limits, None
    if binding != _BINDING or limits is None:
        _zygote_limits = limits
        return
    plan = _Plan.for_spare(_expected_data_limit(limits))
    if _v8.preload(plan.flags()):  # BridgeError if V8 cannot start: each child tries itself
        _zygote_plan = plan


def _expected_data_limit(limits: dict[str, Any]) -> int:
    """The data limit `_limit_data` will find in a child given these `$/hello` limits: the
    memory limit as burrow.child.main.apply_limits sets it (never above the hard limit), else
    the one the child inherits, else the default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    value = limits.get("memory_bytes")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value if hard == resource.RLIM_INFINITY else min(value, hard)
    if soft != resource.RLIM_INFINITY:
        return soft
    return DEFAULT_DATA_LIMIT if hard == resource.RLIM_INFINITY else min(DEFAULT_DATA_LIMIT, hard)


class _Plan:
    """How V8 runs under a data limit for a heap limit: JIT or not, its flags."""

    __slots__ = ("heap_limit", "jit", "max_old_space", "note")

    def __init__(self, heap_limit: int, data_limit: int) -> None:
        heap = heap_limit
        self.jit = data_limit >= JIT_DATA_NEEDED + 2 * heap
        self.note = ""
        if not self.jit:
            room = (data_limit - JITLESS_DATA_NEEDED) // 2
            heap = max(MIN_HEAP_LIMIT, min(heap, room))
            if heap < heap_limit:
                self.note = f" (lowered to fit the {data_limit // MiB} MiB memory limit)"
        self.heap_limit = heap
        self.max_old_space = 2 * heap  # V8's own backstop, behind the heap limit

    @classmethod
    def for_spare(cls, data_limit: int) -> _Plan:
        """The default heap, with V8's backstop as high as the data limit allows in that mode,
        so that any request of the same mode fits the flags started before it."""
        plan = cls(DEFAULT_HEAP_LIMIT, data_limit)
        needed = JIT_DATA_NEEDED if plan.jit else JITLESS_DATA_NEEDED
        plan.max_old_space = max(plan.max_old_space, data_limit - needed)
        return plan

    def serves(self, request: _Plan) -> bool:
        """Whether V8 started with these flags runs `request` as its own flags would."""
        return self.jit == request.jit and self.max_old_space >= request.max_old_space

    def flags(self) -> list[str]:
        """V8's flags; set once per process, when V8 starts."""
        flags = ["--single-threaded", f"--max-old-space-size={max(16, self.max_old_space // MiB)}"]
        if not self.jit:
            flags.append("--jitless")
        return flags

    def __str__(self) -> str:
        mode = "with the JIT" if self.jit else "interpreted (--jitless)"
        return f"{mode}, up to {self.max_old_space // MiB} MiB of heap"


# V8 started by `prepare` in a spare child, taken by the one execution that follows.
_prepared: tuple[_Plan, _v8.Isolate] | None = None
# How the zygote started V8 (`zygote_prefork`), for every process it forks; None: not started.
_zygote_plan: _Plan | None = None
# The limits given to `zygote_preload`, until `zygote_prefork` starts V8 with them.
_zygote_limits: dict[str, Any] | None = None


def _started_plan(plan: _Plan) -> _Plan:
    """The plan V8 runs with for `plan`: the zygote's if it started V8 and serves `plan`."""
    started = _zygote_plan
    if started is None:
        return plan
    if not started.serves(plan):
        # V8's flags are set once per process: this child cannot give the request its own.
        # Nothing has run; the robot runs the request in a new interpreter.
        raise RpcError(
            ErrorCode.CHILD_START,
            f"V8 was started {started} in the zygote, before this request, which needs {plan}",
        )
    return started


def prepare(hello: dict[str, Any]) -> None:
    """Start V8 (isolate, context, bridge) before the request; its limits are already set."""
    global _prepared
    plan = _started_plan(_Plan.for_spare(_limit_data()))
    isolate = _v8.Isolate(_v8.check_installation(), plan.flags(), plan.heap_limit)
    isolate.install_bridge(None)  # the request's handler comes with it
    # One call through the bridge (refused: no handler yet) sets up its first-call costs (the
    # V8 thread's Python thread state) now rather than in the request's first robot call.
    isolate.eval("try { globalThis.__burrow_bridge('{}'); } catch (e) {}")
    _prepared = plan, isolate


def run(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """`js_run`: run the extension with its arguments and answer `{"ret_val": int}`."""
    return _Extension(params, ctx, configure=False).run()


def get_config(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """`js_get_config`: run the extension with `_configure` and answer `{"config": yaml}`."""
    return _Extension(params, ctx, configure=True).get_config()


class _Failure(Exception):
    """The extension failed; `error` is the structured error map for the answer."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


def _error(message: str, code: str = ErrorCode.EXTENSION_ERROR, **data: Any) -> _Failure:
    return _Failure(
        {"code": str(code), "message": message, "data": {"language": _LANGUAGE, **data}}
    )


class _Extension:
    """One execution of one extension file."""

    def __init__(self, params: dict[str, Any], ctx: ExecutionContext, configure: bool) -> None:
        self._params = params
        self._ctx = ctx
        self._configure = configure
        self._path = str(params.get("path") or "")
        self._deadline: float | None = None
        self._heap_limit = DEFAULT_HEAP_LIMIT
        self._heap_note = ""
        self._http_limits: Any = None  # burrow.child.http_client.Limits, at the first request

    def run(self) -> dict[str, Any]:
        """Run the script and map its completion value to a TaskRetVal."""
        try:
            value = self._execute()
            return {"ret_val": self._ret_val(value)}
        except _Failure as failure:
            self._log_failure(failure)
            return {"ret_val": 2, "error": failure.error}

    def get_config(self) -> dict[str, Any]:
        """Run the script's `_configure` branch; it must complete with a YAML string."""
        try:
            value = self._execute()
            if not isinstance(value, str):
                raise _error(
                    f"{self._path}: _configure must complete with a YAML string, "
                    f"not {_describe(value)}",
                    file=self._path,
                )
            return {"config": value}
        except _Failure as failure:
            self._log_failure(failure)
            error = failure.error
            raise RpcError(error["code"], error["message"], error["data"]) from None

    # --- the execution ------------------------------------------------------------------------

    def _execute(self) -> Any:
        params = self._params
        args = params.get("args", [])
        if not self._path or not os.path.isabs(self._path):
            raise _error(f"params.path must be an absolute path, got {self._path!r}")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _error("params.args must be a list of strings")
        if len(args) > MAX_ARGS:
            raise _error(f"{len(args)} arguments; at most {MAX_ARGS} are accepted")
        try:
            with open(self._path, encoding="utf-8") as handle:
                source = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise _error(
                f"cannot read the extension {self._path}: {exc}", file=self._path
            ) from None
        self._heap_limit = _positive_int(params.get("js_heap_limit"), DEFAULT_HEAP_LIMIT)
        timeout = params.get("js_timeout")
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
            self._deadline = time.monotonic() + float(timeout)

        isolate = self._start_v8()
        isolate.serve_with(self._serve)
        argv = [sys.executable, self._path, *(["_configure"] if self._configure else args)]
        bot = params.get("bot")
        boot = {
            "argv": argv,
            "env": dict(os.environ),
            "platform": sys.platform,
            # _configure's answer must not depend on who asked: its GBOT is blank.
            "bot": bot if isinstance(bot, dict) and not self._configure else {},
            "configure": self._configure,
            "script_dir": os.path.dirname(self._path),
            "builtins": {"gopherbot_v1": _read_js("gopherbot_v1.js"), "http": _read_js("http.js")},
            "builtin_prefix": _BUILTIN_PREFIX,
        }
        try:
            # Named under the built-in prefix so an error thrown inside the prelude (a failed
            # `require`) is reported at the extension's calling line, not the prelude's.
            self._eval(
                isolate,
                f"{_read_js('prelude.js')}({json.dumps(boot)})\n"
                f"//# sourceURL={_BUILTIN_PREFIX}prelude.js",
            )
            # A global script, as in Gopherbot: its completion value is the result. The
            # sourceURL names it in stack traces and error reports.
            return self._eval(isolate, f"{source}\n//# sourceURL={self._path}")
        finally:
            isolate.close_bridge()

    def _start_v8(self) -> _v8.Isolate:
        global _prepared
        try:
            folder = _v8.check_installation()
        except _v8.BridgeError as exc:
            raise _error(str(exc), ErrorCode.INTERNAL_ERROR) from None
        plan = _Plan(self._heap_limit, _limit_data())
        self._heap_limit, self._heap_note = plan.heap_limit, plan.note
        prepared, _prepared = _prepared, None
        if prepared is not None:
            started, isolate = prepared
            if not started.serves(plan):
                # V8's flags are set once per process: this child cannot give the request
                # its own. Nothing has run; the robot runs the request in a new child.
                raise RpcError(
                    ErrorCode.CHILD_START,
                    f"V8 was started {started} before this request, which needs {plan}",
                )
            isolate.set_heap_limit(plan.heap_limit)
            return isolate
        started = _started_plan(plan)
        isolate = _v8.Isolate(folder, started.flags(), plan.heap_limit)
        isolate.install_bridge(None)
        return isolate

    def _eval(self, isolate: _v8.Isolate, code: str) -> Any:
        ctx = self._ctx
        try:
            return isolate.eval(code, self._deadline, lambda: ctx.canceled)
        except _v8.JSError as exc:
            if ctx.canceled:
                raise Canceled() from None
            if exc.kind == "oom":
                raise _error(
                    f"{self._path}: the script exceeded its JavaScript heap limit "
                    f"of {self._heap_limit // MiB} MiB{self._heap_note}",
                    file=self._path,
                    heap_limit=self._heap_limit,
                ) from None
            if exc.kind == "terminated" and self._deadline is not None:
                if time.monotonic() >= self._deadline:
                    raise _error(
                        f"{self._path}: the script ran longer than js_timeout "
                        f"({self._params.get('js_timeout')} s)",
                        ErrorCode.TIMEOUT,
                        file=self._path,
                    ) from None
            raise self._script_error(exc) from None

    def _ret_val(self, value: Any) -> int:
        if value is None or value is _v8.UNDEFINED or value is True:
            return 0  # Normal
        if value is False:
            return 1  # Fail
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # Truncated toward zero; it must fit Go's int, as upstream's conversion needs.
            number = int(value) if isinstance(value, int) or math.isfinite(value) else None
            if number is not None and INT64_MIN <= number <= INT64_MAX:
                return number
            raise _error(
                f"{self._path}: return value {_number(value)} is not a valid TaskRetVal (a "
                "number from -2^63 to 2^63-1 once truncated toward zero)",
                file=self._path,
            )
        raise _error(
            f"{self._path}: the script completed with {_describe(value)}; a TaskRetVal "
            "(a number), true, false, null or undefined was expected",
            file=self._path,
        )

    # --- errors -------------------------------------------------------------------------------

    def _script_error(self, exc: _v8.JSError) -> _Failure:
        """Turn V8's report ("file:line: message", source, carets, stack) into an error map."""
        head, _, stack = exc.text.partition("\n\n")
        lines = head.split("\n")
        where, line, message = _split_location(lines[0])
        column = 0
        if len(lines) >= 3 and lines[2].lstrip(" ").startswith("^"):
            column = len(lines[2]) - len(lines[2].lstrip(" ")) + 1
        file = self._path if where in ("", "<anonymous>") else where
        if file.startswith(_BUILTIN_PREFIX):
            # Thrown inside the library (a wrong-typed argument): point at the caller instead.
            for frame_file, frame_line, frame_column in _stack_frames(stack):
                if not frame_file.startswith(_BUILTIN_PREFIX):
                    file, line, column = frame_file, frame_line, frame_column
                    break
        if not message.strip():
            # `throw ""`: V8's report is then only the source line and its caret.
            message = "the script threw an error without a message"
        return _error(
            message,
            file=file,
            line=line,
            column=column,
            stack=stack.strip() or message,
        )

    def _log_failure(self, failure: _Failure) -> None:
        data = failure.error.get("data") or {}
        where = data.get("file") or self._path
        if data.get("line"):
            where = f"{where}:{data['line']}:{data.get('column', 0)}"
        self._safe_log(_LOG_ERROR, f"javascript: {where}: {failure.error['message']}")

    def _safe_log(self, level: int, message: str) -> None:
        try:
            self._ctx.log(level, message)
        except Exception:  # noqa: BLE001 - a closed pipe must not hide the extension's result
            sys.stderr.write(message + "\n")

    # --- the bridge: served on the V8 thread while JavaScript waits ---------------------------

    def _serve(self, request: str) -> str:
        # The request is built by the prelude, but an extension can still shape it (a toJSON
        # on Object.prototype rewrites what JSON.stringify sends), so nothing in it is trusted:
        # each field is checked here, and the robot checks every call it serves.
        try:
            message = _DECODER.decode(request)
        except RecursionError:
            raise MalformedRequest(f"a value nests deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise MalformedRequest(f"the request is not JSON ({exc})") from None
        if not isinstance(message, dict):
            raise MalformedRequest(
                "the request is not an object (was toJSON replaced on a prototype?)"
            )
        if request.count("[") + request.count("{") > MAX_DEPTH + 1:  # else it cannot be deeper
            _check_depth(message, MAX_DEPTH + 2)  # the request and its args wrap the values
        if "\\ud" in request or "\\uD" in request:
            # JSON.stringify escapes a lone surrogate ("\\ud800"); the wire carries UTF-8 only.
            message = _well_formed(message)
        op = message.get("op")
        if op == "call":
            answer = self._robot_call(message)
        elif op == "log":
            level, text = message.get("level", 2), message.get("message", "")
            if not isinstance(level, int) or isinstance(level, bool):
                raise MalformedRequest(f"a log level must be an integer, not {_json_kind(level)}")
            self._safe_log(level, text if isinstance(text, str) else json.dumps(text)[:200])
            answer = {}
        elif op == "require":
            name, base = message.get("name", ""), message.get("base", "")
            if not isinstance(name, str) or not isinstance(base, str):
                raise MalformedRequest("require takes a module name and a base folder (strings)")
            answer = self._require(name, base)
        elif op == "http":
            answer = self._http(message.get("request"))
        else:
            raise MalformedRequest(f"unknown operation {_json_kind(op)}")
        try:
            return _ENCODER.encode(answer)
        except ValueError:  # JSON.parse knows no NaN or Infinity: null, as JSON.stringify does
            return json.dumps(_finite(answer), default=_jsonable)

    def _robot_call(self, message: dict[str, Any]) -> dict[str, Any]:
        method, args = message.get("method", ""), message.get("args") or []
        options = message.get("options") or None
        if not isinstance(method, str) or not method:
            raise MalformedRequest(f"a Robot method name is a string, not {_json_kind(method)}")
        if not isinstance(args, list):
            raise MalformedRequest(f"{method}: arguments must be a list, not {_json_kind(args)}")
        if options is not None and not isinstance(options, dict):
            raise MalformedRequest(f"{method}: options are an object, not {_json_kind(options)}")
        if self._configure:
            raise RpcError(ErrorCode.INVALID_STATE, "no Robot API during _configure")
        try:
            return {"result": self._ctx.robot_call(method, args, options)}
        except Canceled:
            raise  # the script must stop, not carry on with a zero value
        except RpcError as exc:
            if exc.code == ErrorCode.CANCELED:
                raise
            self._safe_log(_LOG_ERROR, f"javascript: robot call {method} failed: {exc}")
            return {"error": {"code": str(exc.code), "message": exc.message}}

    def _http(self, request: Any) -> dict[str, Any]:
        """One request of the http module (js/http.js), served on the V8 thread: it stops
        when the execution is cancelled or js_timeout passes."""
        from burrow.child.http_client import Limits  # only for extensions that make requests
        from burrow_js import http

        if not isinstance(request, dict):
            raise MalformedRequest(f"an http request is an object, not {_json_kind(request)}")
        if self._http_limits is None:
            self._http_limits = Limits.from_params(self._params.get("http_client"))
        deadline, ctx = self._deadline, self._ctx

        def should_stop() -> bool:
            return ctx.canceled or (deadline is not None and time.monotonic() >= deadline)

        return http.serve(request, self._http_limits, should_stop)

    def _require(self, name: str, base: str) -> dict[str, Any]:
        relative = name.startswith(("./", "../", "/")) or name in (".", "..")
        lib_paths = self._params.get("lib_paths") or []
        roots = (
            [os.path.join(base, name)]
            if relative
            else [os.path.join(os.path.abspath(str(lib)), name) for lib in lib_paths]
        )
        # Only the extension's own folder and the lib paths may be read: with no `fs`, a
        # require of any path would be the one way to read the robot's files. The rule is the
        # Lua binding's: the real path (every link resolved) must lie inside the real path of
        # one of those folders, so a link in a lib path cannot lead anywhere else.
        allowed = [os.path.realpath(os.path.dirname(os.path.abspath(self._path)))]
        allowed += [os.path.realpath(os.path.abspath(str(lib))) for lib in lib_paths]
        for root in roots:
            for candidate in (root, f"{root}.js", f"{root}.json", os.path.join(root, "index.js")):
                if candidate.endswith((".js", ".json")) and os.path.isfile(candidate):
                    path = os.path.normpath(os.path.abspath(candidate))
                    real = os.path.realpath(path)
                    if not _inside(real, allowed):
                        return {
                            "error": f"cannot read module '{name}': its real path (symbolic "
                            "links resolved) is outside the extension's own folder and the "
                            "robot's lib paths"
                        }
                    try:
                        return {"path": path, "source": _read_regular_file(real)}
                    except (OSError, UnicodeDecodeError) as exc:
                        return {"error": f"cannot read module {path}: {exc}"}
        where = "relative to " + base if relative else f"in lib_paths {list(lib_paths)}"
        return {"error": f"Cannot find module '{name}' ({where})"}


# --- helpers ----------------------------------------------------------------------------------

MAX_DEPTH = 100  # levels of nesting in a value sent to the robot, as in the Lua binding


class MalformedRequest(ValueError):
    """A bridge request that the prelude would never send: thrown in JavaScript as an Error."""


def _json_kind(value: Any) -> str:
    """What a decoded JSON value is, in JavaScript's words, for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return "an array" if isinstance(value, list) else "an object"


def _check_depth(value: Any, limit: int) -> None:
    """Refuse a value nested deeper than `limit` levels, without recursing."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise MalformedRequest(f"a value nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _limit_data() -> int:
    """Bound the data segment (ArrayBuffers live outside the V8 heap) and return the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if soft != resource.RLIM_INFINITY:
        return soft  # the parent's limit, set at $/hello
    limit = DEFAULT_DATA_LIMIT if hard == resource.RLIM_INFINITY else min(DEFAULT_DATA_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return limit


def _inside(real: str, roots: list[str]) -> bool:
    """Whether the real path `real` is one of the real paths `roots` or lies below one."""
    return bool(real) and any(
        real == root or real.startswith(root.rstrip("/") + "/") for root in roots
    )


def _read_regular_file(real: str) -> str:
    """The UTF-8 text of the file at the resolved path `real`: opened never through a link (one
    swapped in since the check is refused) and without blocking, and only if it is a regular
    file (a FIFO or a device would block or never end)."""
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{real} is not a regular file")
        return handle.read().decode("utf-8")


def _read_js(name: str) -> str:
    with open(os.path.join(_HERE, "js", name), encoding="utf-8") as handle:
        return handle.read()


def _positive_int(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, _v8.Opaque):
        return f"a JavaScript {value.type_name}"
    return f"the number {value}" if isinstance(value, float) else repr(value)


def _split_location(first: str) -> tuple[str, int, str]:
    """Split V8's "name:line: message" into its parts; ("", 0, first) when it has none."""
    start = 0
    while (cut := first.find(": ", start)) != -1:
        name, sep, number = first[:cut].rpartition(":")
        if sep and number.isdigit():
            return name, int(number), first[cut + 2 :]
        start = cut + 1
    return "", 0, first


def _stack_frames(stack: str) -> list[tuple[str, int, int]]:
    """(file, line, column) of each `at ...` line of a V8 stack trace."""
    frames = []
    for raw in stack.splitlines():
        text = raw.strip()
        if not text.startswith("at "):
            continue
        if text.endswith(")") and "(" in text:
            text = text[text.rindex("(") + 1 : -1]
        else:
            text = text[3:]
        rest, _, column = text.rpartition(":")
        file, _, line = rest.rpartition(":")
        if line.isdigit() and column.isdigit():
            frames.append((file, int(line), int(column)))
    return frames


def _number(value: float) -> str:
    """A number as JavaScript shows it (1e+300, Infinity, NaN)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _wire_int(text: str) -> int | float:
    """A JSON integer from JavaScript: an integer when msgpack can carry it as one, else the
    double it was in JavaScript (2**64 is 18446744073709552000 in JSON)."""
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else float(value)


def _well_formed(value: Any) -> Any:
    """`value` with every lone surrogate in its strings replaced by U+FFFD, as a JavaScript
    string is encoded to UTF-8 (TextEncoder's rule)."""
    if isinstance(value, str):
        if not any("\ud800" <= char <= "\udfff" for char in value):
            return value
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in value)
    if isinstance(value, list):
        return [_well_formed(item) for item in value]
    if isinstance(value, dict):
        return {_well_formed(key): _well_formed(item) for key, item in value.items()}
    return value


def _finite(value: Any) -> Any:
    """`value` with every NaN and infinity replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def _jsonable(value: Any) -> Any:
    # msgpack may carry bytes; JSON (and JavaScript) has only strings.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


# Built once: json.loads and json.dumps with options build a new decoder or encoder per call.
_DECODER = json.JSONDecoder(parse_int=_wire_int)
_ENCODER = json.JSONEncoder(default=_jsonable, allow_nan=False)
