"""V8 through mini-racer's native library, with a synchronous JavaScript-to-Python bridge.

Why this module exists: Gopherbot's JavaScript API is synchronous (`bot.Say("hi")`, no
`await`), but mini-racer's public Python API calls Python only asynchronously (each call is a
Promise settled from an asyncio loop, about 0.75 ms, and every extension would need `await`).
Underneath, mini-racer's native library runs one registered C callback *synchronously on the V8
thread while JavaScript waits* and hands it a pointer into any ArrayBuffer it returns. This
module binds that library directly with ctypes and builds the bridge on it: a private
ArrayBuffer (the mailbox) that JavaScript fills with a request before calling the native
function; the callback reads it, runs the Python handler, writes the answer back and returns.
Going below the Python wrapper also skips its asyncio machinery: about 50 ms less start-up per
execution (docs/javascript.md has the measurements).

Everything here depends on mini-racer internals (function signatures, the value struct, type
codes), so the dependency is pinned exactly, the installed version is checked before the
library is loaded, and tests/js/test_js_bridge_guard.py compares these declarations with
mini-racer's own and fails loudly on an upgrade. No other module touches mini-racer.
"""

from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
import time

TYPE_CHECKING = False  # like burrow.child: `typing` costs a one-shot child start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MINI_RACER_VERSION = "0.14.1"
_PACKAGE = "py_mini_racer"
_LIBRARY = "libmini_racer.dylib" if sys.platform == "darwin" else "libmini_racer.so"
_ICU_DATA = "icudtl.dat"


class BridgeError(Exception):
    """mini-racer is missing, the wrong version, or shares its package with py-mini-racer."""


class JSError(Exception):
    """A script failed: `kind` is parse, execute, oom or terminated; `text` is V8's report."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(f"{kind}: {text}")
        self.kind = kind
        self.text = text


class Undefined:
    """JavaScript `undefined` as a completion value."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = Undefined()


class Opaque:
    """A completion value that is neither a primitive nor undefined (an object, array...)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<JavaScript {self.type_name}>"


# --- mini-racer 0.14.1's C ABI, as declared by py_mini_racer/_dll.py and _objects.py --------


class _RawValueUnion(ctypes.Union):
    _fields_ = [
        ("value_ptr", ctypes.c_void_p),
        ("bytes_val", ctypes.POINTER(ctypes.c_char)),
        ("char_p_val", ctypes.c_char_p),
        ("int_val", ctypes.c_int64),
        ("double_val", ctypes.c_double),
    ]


class _RawValue(ctypes.Structure):
    _fields_ = [
        ("value", _RawValueUnion),
        ("len", ctypes.c_size_t),
        ("type", ctypes.c_uint8),
    ]
    _pack_ = 1


_Handle = ctypes.POINTER(_RawValue)
_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_uint64, _Handle)

# Only the functions used here: name -> (argtypes, restype); restype None = void.
SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "mr_init_v8": ([ctypes.c_char_p, ctypes.c_char_p], None),
    "mr_init_context": ([_CALLBACK], ctypes.c_uint64),
    "mr_eval": ([ctypes.c_uint64, _Handle, ctypes.c_uint64], ctypes.c_uint64),
    "mr_cancel_task": ([ctypes.c_uint64, ctypes.c_uint64], None),
    "mr_free_value": ([ctypes.c_uint64, _Handle], None),
    "mr_alloc_string_val": (
        [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_uint8],
        _Handle,
    ),
    "mr_make_js_callback": ([ctypes.c_uint64, ctypes.c_uint64], _Handle),
    "mr_set_object_item": ([ctypes.c_uint64, _Handle, _Handle, _Handle], _Handle),
    "mr_set_hard_memory_limit": ([ctypes.c_uint64, ctypes.c_size_t], None),
}

# Value type codes (py_mini_racer._objects._MiniRacerTypes).
TYPE_NAMES = {
    0: "invalid",
    1: "null",
    2: "bool",
    3: "integer",
    4: "double",
    5: "str_utf8",
    6: "array",
    7: "hash",
    8: "date",
    9: "symbol",
    10: "object",
    11: "undefined",
    100: "function",
    101: "shared_array_buffer",
    102: "array_buffer",
    103: "promise",
    200: "execute_exception",
    201: "parse_exception",
    202: "oom_exception",
    203: "timeout_exception",
    204: "terminated_exception",
    205: "value_exception",
    206: "key_exception",
}
_NULL, _BOOL, _INTEGER, _DOUBLE, _STR, _UNDEFINED = 1, 2, 3, 4, 5, 11
_ARRAY_BUFFER = 102
_ERROR_KINDS = {200: "execute", 201: "parse", 202: "oom", 203: "timeout", 204: "terminated"}
_ERROR_KINDS.update({205: "execute", 206: "execute"})


def _site_of_package() -> str:
    for entry in sys.path:
        folder = os.path.join(entry or ".", _PACKAGE)
        if os.path.isfile(os.path.join(folder, _LIBRARY)):
            return entry or "."
    raise BridgeError(
        f"mini-racer is not installed in this environment (no {_PACKAGE}/{_LIBRARY} on "
        f"sys.path): pip install 'mini-racer=={MINI_RACER_VERSION}'"
    )


# (folder, library) once `preload` has loaded the library in this process (the zygote).
_preloaded: tuple[str, ctypes.CDLL] | None = None


def preload(flags: list[str] | None = None) -> bool:
    """Check the installation and load the native library now; with `flags`, start V8 too.

    Called in the zygote, so that its forks find the library loaded (its pages shared, its
    relocations done) instead of spending tens of milliseconds on that each. Loading starts no
    thread. Starting V8 (`start`: process-wide state, no isolate) starts none either with
    --single-threaded, and saves each fork about 8 ms of CPU, but it fixes the process's V8
    flags for good: the zygote does it only when it knows the flags its children will need
    (burrow_js.runtime.zygote_preload). A broken installation is left for the child to report:
    False.
    """
    global _preloaded
    if _preloaded is None:
        try:
            folder = check_installation()
            _preloaded = (folder, load_library(folder))
        except (BridgeError, OSError):
            return False
    if flags is not None:
        start(_preloaded[0], flags)
    return True


# The flags V8 was started with in this process: V8's flags are process-wide, set once.
_started: list[str] | None = None


def start(folder: str, flags: list[str]) -> None:
    """Start V8 in this process with `flags`, unless it already runs with exactly those.

    Raises BridgeError if it was started with other flags (say, by the zygote this process
    was forked from): those can no longer change.
    """
    global _started
    if _started is not None:
        if flags != _started:
            raise BridgeError(
                f"V8 was started with {' '.join(_started)} in this process, not {' '.join(flags)}"
            )
        return
    load_library(folder).mr_init_v8(
        " ".join(flags).encode(), os.path.join(folder, _ICU_DATA).encode()
    )
    _started = list(flags)


def started_flags() -> list[str] | None:
    """The flags V8 runs with in this process, or None before it starts."""
    return None if _started is None else list(_started)


def check_installation() -> str:
    """Return the `py_mini_racer` folder, checking its version and that py-mini-racer is absent."""
    if _preloaded is not None:
        return _preloaded[0]  # checked when it was preloaded
    site = _site_of_package()
    versions: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # zip files and missing folders hold no installed distributions
        for name in names:
            if name.endswith(".dist-info"):
                dist, _, version = name[: -len(".dist-info")].partition("-")
                versions.setdefault(dist.lower().replace("-", "_"), version)
    if "py_mini_racer" in versions:
        raise BridgeError(
            f"py-mini-racer {versions['py_mini_racer']} is installed beside mini-racer; both "
            f"install the package {_PACKAGE!r} and overwrite each other's native library: "
            "pip uninstall py-mini-racer mini-racer && "
            f"pip install 'mini-racer=={MINI_RACER_VERSION}'"
        )
    found = versions.get("mini_racer")
    if found != MINI_RACER_VERSION:
        raise BridgeError(
            f"burrowbot-js needs mini-racer {MINI_RACER_VERSION} exactly (its native bridge "
            f"depends on that build), found {found or 'no mini-racer metadata'}: "
            f"pip install 'mini-racer=={MINI_RACER_VERSION}'"
        )
    return os.path.join(site, _PACKAGE)


def load_library(folder: str) -> ctypes.CDLL:
    """Load mini-racer's native library and declare the functions used here."""
    if _preloaded is not None and _preloaded[0] == folder:
        return _preloaded[1]
    dll = ctypes.CDLL(os.path.join(folder, _LIBRARY))
    for name, (argtypes, restype) in SIGNATURES.items():
        try:
            function = getattr(dll, name)
        except AttributeError as exc:
            raise BridgeError(f"mini-racer's native library has no {name}: {exc}") from exc
        function.argtypes = argtypes
        function.restype = restype
    return dll


# Threads of V8's that keep a Python thread state between callbacks (see _keep_thread_state).
_kept_threads: set[int] = set()


def _keep_thread_state() -> None:
    """Let the calling thread (V8's, inside a ctypes callback) keep its Python thread state.

    ctypes runs a callback from a thread Python did not start under PyGILState_Ensure and
    Release: the first creates a thread state for the thread, the last deletes it, so every
    callback built and tore down one (about 8 of the 11 microseconds a bridge call cost in
    Python). One more Ensure, never released, keeps the count above zero: the state lives on,
    and each later callback only takes and gives back the GIL, as a thread Python started
    does. It is deleted with the interpreter; a callback arriving while Python finalizes ends
    V8's thread as it would any daemon thread's (CPython's take_gil checks for that).
    """
    ctypes.pythonapi.PyGILState_Ensure()
    _kept_threads.add(threading.get_ident())


# --- The mailbox: a private ArrayBuffer shared by the two sides of the synchronous bridge ----
# Header: four int32 [op, units in this chunk, more chunks follow, status]; then UTF-16 units.
# Requests and answers larger than the mailbox travel in chunks (PART... CALL, then NEXT...).
_OP_PART, _OP_CALL, _OP_NEXT = 1, 2, 3
_HEADER_BYTES = 16
MAILBOX_BYTES = 256 * 1024
_BRIDGE_CALLBACK_ID = 1
_NOTHING = memoryview(b"")
_MAILBOX_JS = """(() => {
  "use strict";
  // Captured before any extension code runs, so that nothing an extension patches later
  // (Function.prototype.apply, TypedArray or String methods...) ever receives a view of the
  // mailbox or runs in the middle of a call.
  const native = globalThis.__burrow_native;
  delete globalThis.__burrow_native;
  const apply = Reflect.apply;
  const codeAt = Function.prototype.call.bind(String.prototype.charCodeAt);
  const fromCharCode = String.fromCharCode;
  const subarray = Object.getPrototypeOf(Uint16Array.prototype).subarray;
  const ErrorType = Error;
  const buffer = new ArrayBuffer(%(bytes)d);
  const header = new Int32Array(buffer, 0, 4);
  const data = new Uint16Array(buffer, %(header)d);
  const units = data.length;
  globalThis.__burrow_bridge = (request) => {
    const n = request.length;
    let sent = 0;
    do {
      const m = n - sent < units ? n - sent : units;
      for (let i = 0; i < m; i++) data[i] = codeAt(request, sent + i);
      sent += m;
      header[0] = sent < n ? %(part)d : %(call)d;
      header[1] = m;
      native();
    } while (sent < n);
    let answer = "";
    for (;;) {
      const m = header[1];
      for (let i = 0; i < m; i += 8192) {
        const end = i + 8192 < m ? i + 8192 : m;
        answer += apply(fromCharCode, null, apply(subarray, data, [i, end]));
      }
      if (header[2] === 0) break;
      header[0] = %(next)d;
      native();
    }
    if (header[3] !== 0) throw new ErrorType(answer);
    return answer;
  };
  return buffer;
})()"""


class Isolate:
    """One V8 isolate and context for this process, with the synchronous bridge installed."""

    def __init__(self, folder: str, flags: list[str], heap_limit: int) -> None:
        self._dll = dll = load_library(folder)
        start(folder, flags)
        self._results: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        # Kept referenced for the life of the process: V8 calls it until the process exits.
        self._callback = _CALLBACK(self._on_callback)
        self._ctx: int = dll.mr_init_context(self._callback)
        if heap_limit > 0:
            # Checked after each GC: past it V8 terminates the script (an "oom" JSError).
            dll.mr_set_hard_memory_limit(self._ctx, heap_limit)
        self._next_id = _BRIDGE_CALLBACK_ID + 1
        self._lock = threading.Lock()  # held by the V8 thread while it serves a bridge call
        self._handler: Callable[[str], str] | None = None
        self._mailbox: Any = None  # the ArrayBuffer's value handle, never freed
        self._header: Any = None  # the mailbox's four int32, as a memoryview
        self._data: Any = None  # the rest of it, bytes, as a memoryview
        self._request: list[bytes] = []
        self._answer = _NOTHING
        self._status = 0

    def set_heap_limit(self, heap_limit: int) -> None:
        """Change the heap limit (checked after each GC) before the script runs."""
        self._dll.mr_set_hard_memory_limit(self._ctx, heap_limit)

    def serve_with(self, handler: Callable[[str], str]) -> None:
        """Answer bridge calls with `handler` (a prepared isolate gets it at the request)."""
        with self._lock:
            self._handler = handler

    def install_bridge(self, handler: Callable[[str], str] | None) -> None:
        """Define `globalThis.__burrow_bridge(request)`, answered synchronously by `handler`.

        A handler that raises makes the JavaScript call throw an Error with the exception's text.
        None: every call fails until `serve_with` gives one.
        """
        dll, ctx = self._dll, self._ctx
        self._handler = handler
        global_object = self._eval_raw("globalThis", None, None)
        function = dll.mr_make_js_callback(ctx, _BRIDGE_CALLBACK_ID)
        key = self._string("__burrow_native")
        dll.mr_free_value(ctx, dll.mr_set_object_item(ctx, global_object, key, function))
        for handle in (key, function, global_object):
            dll.mr_free_value(ctx, handle)
        code = _MAILBOX_JS % {
            "bytes": MAILBOX_BYTES,
            "header": _HEADER_BYTES,
            "part": _OP_PART,
            "call": _OP_CALL,
            "next": _OP_NEXT,
        }
        mailbox = self._eval_raw(code, None, None)
        value = mailbox.contents
        if value.type != _ARRAY_BUFFER or value.len != MAILBOX_BYTES:
            raise BridgeError(f"the bridge mailbox came back as {TYPE_NAMES.get(value.type)}")
        # The handle keeps a V8 Global on the buffer, and the bridge closure references it, so
        # its backing store (what the pointer below addresses) lives as long as the process.
        self._mailbox = mailbox
        # Read and written through memoryviews: no ctypes call per access.
        buffer = (ctypes.c_ubyte * MAILBOX_BYTES).from_address(value.value.value_ptr)
        whole = memoryview(buffer).cast("B")
        self._header = whole[:_HEADER_BYTES].cast("i")
        self._data = whole[_HEADER_BYTES:]

    def eval(
        self,
        code: str,
        deadline: float | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Any:
        """Run `code` as a script; return its completion value (primitive, UNDEFINED or Opaque).

        Raises JSError for a syntax or runtime error, the heap limit ("oom") or termination,
        which happens when `deadline` (time.monotonic) passes or `should_stop()` turns true.
        """
        raw = self._eval_raw(code, deadline, should_stop)
        try:
            return self._convert(raw)
        finally:
            self._dll.mr_free_value(self._ctx, raw)
            # mini-racer runs promise jobs (microtasks) after the task that queued them, once
            # its result is delivered. A no-op task queued behind runs only after they are
            # done, so once it answers nothing the script started is still running.
            self._dll.mr_free_value(self._ctx, self._eval_raw("undefined", deadline, should_stop))

    def close_bridge(self) -> None:
        """Refuse every later bridge call, after the one in progress (if any) has returned.

        Called when the execution is over: JavaScript still running then (a promise job that
        outlived termination) can no longer reach the robot through a session that the
        child's main thread is using again.
        """
        with self._lock:
            self._handler = None

    def _eval_raw(
        self, code: str, deadline: float | None, should_stop: Callable[[], bool] | None
    ) -> Any:
        dll, ctx = self._dll, self._ctx
        callback_id = self._next_id
        self._next_id += 1
        code_handle = self._string(code)
        task = dll.mr_eval(ctx, code_handle, callback_id)
        raw = self._wait(callback_id, task, deadline, should_stop)
        dll.mr_free_value(ctx, code_handle)
        return raw

    def _wait(
        self,
        callback_id: int,
        task: int,
        deadline: float | None,
        should_stop: Callable[[], bool] | None,
    ) -> Any:
        """Wait for the task's result, terminating the script on deadline, stop or exception."""
        stopped_at: float | None = None
        try:
            while True:
                timeout = 0.05
                if deadline is not None and stopped_at is None:
                    timeout = max(0.0, min(timeout, deadline - time.monotonic()))
                try:
                    got_id, raw = self._results.get(timeout=timeout)
                except queue.Empty:
                    pass
                else:
                    if got_id == callback_id:
                        return raw
                    self._dll.mr_free_value(self._ctx, raw)  # a result nobody awaits any more
                    continue
                now = time.monotonic()
                if stopped_at is None:
                    late = deadline is not None and now >= deadline
                    if late or (should_stop is not None and should_stop()):
                        self._dll.mr_cancel_task(self._ctx, task)
                        stopped_at = now
                elif now - stopped_at > 5.0 and not self._lock.locked():
                    # Still running but not in a bridge call: promise jobs, which only end
                    # with the process. (A bridge call in progress is waited for: the robot
                    # call it makes returns at the latest when the robot cancels.)
                    raise JSError("terminated", "the script did not stop when terminated")
        except BaseException:
            # Canceled raised by the SIGUSR1 handler (or anything else): stop the script before
            # leaving, so V8 is idle and never calls into a Python that is shutting down.
            if stopped_at is None:
                self._dll.mr_cancel_task(self._ctx, task)
                self._drain(callback_id, 2.0)
            raise

    def _drain(self, callback_id: int, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                got_id, raw = self._results.get(timeout=left)
            except queue.Empty:
                return
            self._dll.mr_free_value(self._ctx, raw)
            if got_id == callback_id:
                return

    def _convert(self, raw: Any) -> Any:
        value = raw.contents
        kind = value.type
        if kind in _ERROR_KINDS:
            text = ctypes.string_at(value.value.value_ptr, value.len).decode("utf-8", "replace")
            raise JSError(_ERROR_KINDS[kind], text)
        if kind == _NULL:
            return None
        if kind == _UNDEFINED:
            return UNDEFINED
        if kind == _BOOL:
            return value.value.int_val == 1
        if kind == _INTEGER:
            return int(value.value.int_val)
        if kind == _DOUBLE:
            return float(value.value.double_val)
        if kind == _STR:
            return ctypes.string_at(value.value.value_ptr, value.len).decode("utf-8", "replace")
        return Opaque(TYPE_NAMES.get(kind, f"type {kind}"))

    def _string(self, text: str) -> Any:
        data = text.encode("utf-8", "surrogatepass")
        return self._dll.mr_alloc_string_val(self._ctx, data, len(data), _STR)

    def _on_callback(self, callback_id: int, raw: Any) -> None:
        # Runs on the V8 thread. Results of evaluations go to the waiting thread; bridge calls
        # are served right here while JavaScript waits. Nothing may escape: ctypes would print
        # and drop the exception, and JavaScript would read a stale mailbox.
        if threading.get_ident() not in _kept_threads:
            _keep_thread_state()
        if callback_id != _BRIDGE_CALLBACK_ID:
            self._results.put((callback_id, raw))
            return
        try:
            with self._lock:
                self._serve_bridge()
        except BaseException as exc:  # noqa: BLE001 - see above
            self._reply(f"bridge failure: {type(exc).__name__}: {exc}", 1)
        finally:
            self._dll.mr_free_value(self._ctx, raw)  # the (empty) arguments array

    def _serve_bridge(self) -> None:
        header = self._header
        op, units = header[0], header[1]
        if op == _OP_NEXT:
            self._send_chunk()
            return
        if not 0 <= units <= (MAILBOX_BYTES - _HEADER_BYTES) // 2:
            raise ValueError(f"bad chunk length {units}")
        chunk = bytes(self._data[: 2 * units])
        if op == _OP_PART:
            self._request.append(chunk)
            header[1] = 0
            header[2] = 0
            return
        if self._request:
            self._request.append(chunk)
            chunk = b"".join(self._request)
            self._request = []
        request = chunk.decode("utf-16-le", "surrogatepass")
        handler = self._handler
        try:
            if handler is None:
                raise RuntimeError("the execution is over; the robot is out of reach")
            answer, status = handler(request), 0
        except BaseException as exc:  # noqa: BLE001 - it becomes an Error thrown in JavaScript
            answer, status = f"{type(exc).__name__}: {exc}", 1
        self._reply(answer, status)

    def _reply(self, answer: str, status: int) -> None:
        self._request = []
        data = answer.encode("utf-16-le", "surrogatepass")
        header = self._header
        if len(data) <= MAILBOX_BYTES - _HEADER_BYTES:  # the usual case: one chunk
            self._answer = _NOTHING
            self._data[: len(data)] = data
            header[1] = len(data) // 2
            header[2] = 0
            header[3] = status
            return
        self._answer = memoryview(data)
        self._status = status
        self._send_chunk()

    def _send_chunk(self) -> None:
        capacity = MAILBOX_BYTES - _HEADER_BYTES
        chunk, self._answer = self._answer[:capacity], self._answer[capacity:]
        self._data[: len(chunk)] = chunk
        header = self._header
        header[1] = len(chunk) // 2
        header[2] = 1 if len(self._answer) else 0
        header[3] = self._status
