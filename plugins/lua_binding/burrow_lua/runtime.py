"""Runs one Lua extension in a sandboxed Lua 5.4 state: `lua_run` and `lua_get_config`.

Each child builds one state and runs one extension in it: lupa's Lua 5.4 engine with
Python's side closed (no `python` module, no eval, no builtins, no attribute access on Python
objects) and a memory limit; then lua/sandbox.lua reduces the standard library and installs
the `gopherbot_v1` library, whose Robot methods come back here as robot calls through
`_Bridge.call`. A spare child builds the state in `prepare`, before any request arrives; what
depends on the request (the message's GBOT, the lib paths, the Robot API itself, the memory
limit) is given to it when the request comes.
"""

from __future__ import annotations

import math
import os
import stat

# The explicit engine module: `import lupa` alone picks the newest bundled Lua (5.5), which
# rejects valid 5.4 code.
import lupa.lua54 as lua54

from burrow.child.context import Canceled
from burrow.rpc.errors import ErrorCode, RpcError
from burrow_lua._convert import to_lua, to_python

TYPE_CHECKING = False  # see burrow.rpc.codec: the child avoids importing typing
if TYPE_CHECKING:
    from typing import Any

    from burrow.child.context import ExecutionContext

__all__ = ["DEFAULT_MEMORY_LIMIT", "get_config", "prepare", "run", "zygote_preload"]

DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
"""Bytes a Lua state may allocate unless the request's `lua_memory_limit` says otherwise."""

_LIB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua")
_MECHANISM_FAIL = 2  # TaskRetVal; burrow.constants would import enum for one number
_LOG_WARN, _LOG_ERROR = 4, 5  # LogLevel
_MAX_MESSAGE = 500  # characters of the Lua error kept in the short `message`
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # a TaskRetVal is a Go int


_prepared: _Sandbox | None = None  # the state `prepare` built, for the one execution to come


def zygote_preload() -> None:
    """In the zygote: build the state every child of it would build first, once.

    Each fork inherits its own copy-on-write copy of this state, which has run nothing but
    lua/sandbox.lua (no extension, no request, no secret), and takes it as a spare takes the
    one `prepare` built; building it again cost every child about 0.6 ms of CPU. No thread is
    started: the zygote stays safe to fork.
    """
    global _prepared
    _prepared = _Sandbox(DEFAULT_MEMORY_LIMIT)
    # `table_from` asks whether its argument is a Mapping, an abstract class: for a list the
    # answer is a walk of Mapping's registered subclasses, cached in the class. Asked here,
    # the answer is in the cache each fork inherits; asked in each child, the walk and the
    # cache wrote to about 15 of the zygote's pages (copied).
    _prepared.runtime.table_from({}, [])


def prepare(hello: dict[str, Any]) -> None:
    """Build the Lua state with the default memory limit before the request arrives (a child
    of the zygote has one already)."""
    global _prepared
    if _prepared is None:
        _prepared = _Sandbox(DEFAULT_MEMORY_LIMIT)


def _sandbox(memory_limit: int) -> _Sandbox:
    """The prepared state, once, at the request's memory limit; else a new state."""
    global _prepared
    sandbox, _prepared = _prepared, None
    if sandbox is None or not memory_limit:
        return _Sandbox(memory_limit)  # 0: no limit, a state without the counting allocator
    if memory_limit != DEFAULT_MEMORY_LIMIT:
        # Counting what the state already uses, as a state built with this limit would.
        sandbox.runtime.set_max_memory(memory_limit, total=True)
    return sandbox


def run(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Run the extension with `arg[1..n]` = params["args"] and answer its TaskRetVal."""
    args = [str(a) for a in params.get("args") or []]
    execution = _Execution(params, ctx, robot_api=True)
    try:
        ret_val = execution.task_ret_val(execution.run(args))
    except _ExtensionError as exc:
        return {"ret_val": _MECHANISM_FAIL, "error": exc.to_map()}
    return {"ret_val": ret_val}


def get_config(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Run the extension with `arg[1] = "_configure"` and answer the YAML string it returns."""
    value = _Execution(params, ctx, robot_api=False).run(["_configure"])
    if not isinstance(value, str):
        kind = "nothing" if value is None else f"a {_lua_kind(value)}"
        raise RpcError(
            ErrorCode.EXTENSION_ERROR,
            f'{params.get("path")}: with arg[1] == "_configure" the script must return its '
            f"default configuration as a YAML string; it returned {kind}",
            {"language": "lua", "file": params.get("path")},
        )
    return {"config": value}


class _ExtensionError(RpcError):
    """The extension failed to load or raised; answered as `extension_error`."""


class _Execution:
    """One sandboxed Lua state serving one execution request."""

    def __init__(self, params: dict[str, Any], ctx: ExecutionContext, robot_api: bool) -> None:
        path = params.get("path")
        if not isinstance(path, str) or not path:
            raise RpcError(ErrorCode.INVALID_PARAMS, "a Lua execution needs 'path' (a string)")
        self.path = path
        self.ctx = ctx
        self.robot_api = robot_api
        self.memory_limit = _memory_limit(params.get("lua_memory_limit"))
        self.lib_paths = [str(p) for p in params.get("lib_paths") or []]
        self.http_client = params.get("http_client")  # the http module's limits, read when used
        bot = params.get("bot")
        # _configure runs with a blank bot, as upstream: its answer must not depend on who asked.
        self.bot = bot if isinstance(bot, dict) and robot_api else {}

    def run(self, args: list[str]) -> Any:
        """Run the script and return its first return value; raise _ExtensionError if it fails."""
        try:
            return self._run(args)
        except lua54.LuaMemoryError:
            # Raised when the limit is hit outside Lua's own error handling (building the
            # state, or converting a robot call's result).
            raise self._run_error("not enough memory") from None

    def task_ret_val(self, value: Any) -> int:
        """The chunk's first return value as a TaskRetVal: a number truncated toward zero (as
        upstream's Go conversion), which must fit Go's int; anything else is Normal (0)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return 0
        number = int(value) if isinstance(value, int) or math.isfinite(value) else None
        if number is None or not _INT64_MIN <= number <= _INT64_MAX:
            message = (
                f"return value {value!r} is not a valid TaskRetVal (a number from -2^63 to "
                "2^63-1 once truncated toward zero)"
            )
            raise self._report(message, {"language": "lua", "file": self.path})
        return number

    def _run(self, args: list[str]) -> Any:
        sandbox = _sandbox(self.memory_limit)
        runtime = sandbox.runtime
        runner = sandbox.start(
            self.ctx,
            self.robot_api,
            self._gbot(),
            self._package_path(),
            self._readable_dirs(),
            self.http_client,
        )
        runtime.globals().arg = runtime.table_from({0: self.path, **dict(enumerate(args, 1))})
        outcome = runner(self.path, *args)
        if outcome[0] == "load":
            raise self._load_error(outcome[1])
        _, ok, value = outcome
        if ok:
            return value
        if isinstance(value, lua54.LuaMemoryError):
            raise self._run_error("not enough memory")
        if isinstance(value, BaseException):
            raise value  # a Canceled, or a bug in the bridge: the child reports it as such
        raise self._run_error(value)

    def _gbot(self) -> dict[str, Any]:
        """The bot fields of the message, as upstream's GBOT offers them."""
        fields: dict[str, Any] = {}
        for name in ("user", "channel", "thread_id", "message_id", "protocol", "brain"):
            fields[name] = str(self.bot.get(name) or "")
        for name in ("user_id", "channel_id"):
            # Upstream strips the <...> some connectors put around ids.
            fields[name] = str(self.bot.get(name) or "").removeprefix("<").removesuffix(">")
        fields["threaded_message"] = bool(self.bot.get("threaded_message"))
        return fields

    def _readable_dirs(self) -> list[str]:
        """Folders whose Lua files loadfile, dofile and require may read: nothing else."""
        folders = [os.path.dirname(os.path.abspath(self.path))]
        folders += [os.path.abspath(p) for p in self.lib_paths if ";" not in p and "?" not in p]
        return folders

    def _package_path(self) -> str:
        templates = []
        for folder in self.lib_paths:
            if ";" in folder or "?" in folder:
                # Both are package.path syntax; such a folder cannot be expressed in it.
                self.ctx.log(_LOG_WARN, f"lua: lib path {folder!r} contains ';' or '?'; skipped")
                continue
            templates += [f"{folder}/?.lua", f"{folder}/?/init.lua"]
        return ";".join(templates)

    def _load_error(self, message: str) -> _ExtensionError:
        """A script that does not compile (or cannot be read)."""
        line = _line_of(message)
        data: dict[str, Any] = {"language": "lua", "file": self.path, "traceback": message}
        if line is not None:
            data["line"] = line
        return self._report(message, data)

    def _run_error(self, info: Any) -> _ExtensionError:
        """A script that raised: the handler's table, or the bare string of an out-of-memory
        error (which Lua raises without calling the handler)."""
        if lua54.lua_type(info) == "table":
            message = str(info["message"])
            data: dict[str, Any] = {
                "language": "lua",
                "file": info["file"] or self.path,
                # The frames below the extension's main chunk are the sandbox's runner.
                "traceback": str(info["traceback"]).split("\n\t[C]: in function 'xpcall'")[0],
            }
            if isinstance(info["line"], int):
                data["line"] = info["line"]
        else:
            message = str(info)
            if message == "not enough memory":
                message = f"not enough memory (the Lua memory limit is {self.memory_limit} bytes)"
            data = {"language": "lua", "file": self.path, "traceback": message}
        return self._report(message, data)

    def _report(self, message: str, data: dict[str, Any]) -> _ExtensionError:
        short = message.split("\n", 1)[0]
        if not short.strip():  # error("", 0)
            short = "the script raised an error without a message"
        if len(short) > _MAX_MESSAGE:
            short = short[: _MAX_MESSAGE - 3] + "..."
        self.ctx.log(_LOG_ERROR, f"Lua error in {self.path}: {data.get('traceback') or message}")
        return _ExtensionError(ErrorCode.EXTENSION_ERROR, short, data)


class _Sandbox:
    """A fresh Lua state prepared by lua/sandbox.lua, waiting for its one execution."""

    def __init__(self, memory_limit: int) -> None:
        self.runtime = runtime = lua54.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attribute,
            max_memory=memory_limit or None,
        )
        self._bridge = bridge = _Bridge(runtime)
        self._sources = sources = _Sources()
        with open(os.path.join(_LIB_DIR, "sandbox.lua"), "rb") as handle:
            prelude = runtime.compile(handle.read(), name="@" + handle.name, mode="t")
        self._start = prelude(
            bridge.call, bridge.log, bridge.codec, _LIB_DIR, sources.read, sources.find, bridge.http
        )

    def start(
        self,
        ctx: ExecutionContext,
        robot_api: bool,
        gbot: dict[str, Any],
        package_path: str,
        readable_dirs: list[str],
        http_client: Any = None,
    ) -> Any:
        """Give the state its request (once) and return the runner of the extension."""
        self._bridge.attach(ctx, robot_api, http_client)
        self._sources.allow(readable_dirs)
        table = self.runtime.table_from
        return self._start(table(gbot), package_path, table(readable_dirs))


class _Sources:
    """The files behind loadfile, dofile and require (docs/lua.md, "Sandbox").

    A file is read only when its real path, every symbolic link resolved, lies inside the real
    path of a readable folder: a link in a lib path may point anywhere (another folder, the
    robot's brain), and Lua's own loader would follow it and quote the target in its parse
    error. The JavaScript binding applies the same rule to `require`.
    """

    def __init__(self) -> None:
        self._roots: list[str] = []  # nothing is readable until the request says what is

    def allow(self, readable_dirs: list[str]) -> None:
        """Make the files under `readable_dirs` readable."""
        self._roots = [os.path.realpath(folder) for folder in readable_dirs]

    def read(self, filename: str) -> tuple[bytes | None, str | None]:
        """The Lua source of `filename` as Lua's loadfile would see it, or (None, why)."""
        if "\0" in filename:
            shown = filename.replace("\0", "\\0")
            return None, f"cannot read '{shown}': a file name cannot hold a NUL"
        real = os.path.realpath(filename)
        if not _inside(real, self._roots):
            return None, (
                f"cannot read '{filename}': its real path (symbolic links resolved) is outside "
                "the extension's own folder and the robot's lib paths"
            )
        try:
            # The resolved path, not the name, and never through a link (a link swapped in
            # since is refused). Non-blocking, or opening a FIFO would wait for a writer.
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            return None, f"cannot open {filename}: {exc.strerror}"
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None, f"cannot read '{filename}': not a regular file"
            chunks = []
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
        except OSError as exc:
            return None, f"cannot read {filename}: {exc.strerror}"
        finally:
            os.close(fd)
        return _skip_first_line_comment(b"".join(chunks)), None

    def find(self, name: str, search: str, sep: str, rep: str) -> tuple[str | None, str | None]:
        """package.searchpath: the first template of `search` naming a file that exists.

        Lua's own opens each candidate, which blocks on a FIFO; here existence is enough, and
        `read` decides whether the file can be loaded."""
        if sep:
            name = name.replace(sep, rep)
        tried = []
        for template in search.split(";"):
            filename = template.replace("?", name)
            if os.path.exists(filename):
                return filename, None
            tried.append(f"no file '{filename}'")
        return None, "\n\t".join(tried)


def _inside(real: str, roots: list[str]) -> bool:
    """Whether the real path `real` is one of the real paths `roots` or lies below one."""
    return bool(real) and any(
        real == root or real.startswith(root.rstrip("/") + "/") for root in roots
    )


def _skip_first_line_comment(source: bytes) -> bytes:
    """What luaL_loadfilex compiles: without a UTF-8 byte order mark, and with a first line
    starting with '#' (a "#!" line) blanked, so line numbers stay true."""
    source = source.removeprefix(b"\xef\xbb\xbf")
    if source.startswith(b"#"):
        end = source.find(b"\n")
        source = b"\n" + (source[end + 1 :] if end != -1 else b"")
    return source


class _Bridge:
    """The Python functions the sandbox holds: Robot API calls, the task log, JSON."""

    def __init__(self, runtime: lua54.LuaRuntime) -> None:
        self._runtime = runtime
        self._ctx: ExecutionContext | None = None  # set by attach(), at the request
        self._robot_api = False
        self._http_client: Any = None
        self._http_limits: Any = None  # burrow.child.http_client.Limits, at the first request

    def attach(self, ctx: ExecutionContext, robot_api: bool, http_client: Any = None) -> None:
        """Serve the execution of `ctx` (with the Robot API when `robot_api`); `http_client`
        is the request's `http_client` param (the http module's limits)."""
        self._ctx = ctx
        self._robot_api = robot_api
        self._http_client = http_client

    @property
    def ctx(self) -> ExecutionContext:
        if self._ctx is None:  # only reachable by Lua run before the request: never
            raise RuntimeError("no execution is attached to this Lua state")
        return self._ctx

    def call(
        self, method: str, direct: Any, threaded: Any, message_format: Any, *args: Any
    ) -> tuple[Any, Any]:
        """Make one robot call: (True, result), (False, None) when it failed, (None, why) for
        a bad argument, which the library raises at the extension's call site."""
        try:
            wire_args = [to_python(arg) for arg in args]
        except ValueError as exc:
            return None, str(exc)
        options: dict[str, Any] = {}
        if direct is not None:
            options["direct"] = bool(direct)
        if threaded is not None:
            options["threaded"] = bool(threaded)
        if message_format is not None:
            options["format"] = int(message_format)
        if not self._robot_api:
            self.ctx.log(_LOG_WARN, f"{method}: the Robot API is not available during _configure")
            return False, None
        try:
            result = self.ctx.robot_call(method, wire_args, options or None)
        except Canceled:
            raise  # ends the script (through Lua) and the execution
        except RpcError as exc:
            # The extension gets the method's zero value and carries on, as upstream's clients.
            self.ctx.log(_LOG_ERROR, f"robot call {method} failed: {exc}")
            return False, None
        return True, to_lua(self._runtime, result)

    def log(self, level: int, message: str) -> None:
        """Write a line into the task log (Lua's `print`)."""
        self.ctx.log(level, message)

    def http(self, *args: Any) -> Any:
        """One request of the http module (lua/http.lua): the response table, or (nil, err)."""
        from burrow.child.http_client import Limits  # only for extensions that make requests
        from burrow_lua import http

        if self._http_limits is None:
            self._http_limits = Limits.from_params(self._http_client)
        return http.fetch(self._runtime, self.ctx, self._http_limits, *args)

    def codec(self, operation: str, value: Any) -> Any:
        """`json.encode(value)` / `json.decode(text)`: the result, or (nil, error)."""
        import json  # only for extensions that use it

        try:
            if operation == "encode":
                data = to_python(value)
                return json.dumps(data, ensure_ascii=False, allow_nan=False)
            if not isinstance(value, str):
                return None, f"json.decode needs a string, got {_lua_kind(value)}"
            return to_lua(self._runtime, json.loads(value))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            return None, f"json.{operation}: {exc}"


def _deny_attribute(obj: object, name: object, is_setting: bool) -> str:
    """lupa's attribute filter: no Python attribute is readable or writable from Lua."""
    raise AttributeError("Python attributes are not accessible from Lua")


def _memory_limit(value: Any) -> int:
    """The request's `lua_memory_limit` in bytes (0 = no limit of the Lua allocator)."""
    if value is None:
        return DEFAULT_MEMORY_LIMIT
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RpcError(
            ErrorCode.INVALID_PARAMS,
            f"lua_memory_limit must be a number of bytes (0 = none), got {value!r}",
        )
    return value


def _line_of(message: str) -> int | None:
    """The line of a Lua error message "chunk:LINE: text"."""
    import re  # only on this error path: `re` costs a child about 5 ms to import

    found = re.search(r":(\d+):", message.split("\n", 1)[0])
    return int(found.group(1)) if found else None


def _lua_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return lua54.lua_type(value) or type(value).__name__
