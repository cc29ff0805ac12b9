"""`go_run` and `go_get_config`: build (or find) the extension's program, then become it.

The Python child has done the handshake, dropped privileges, set the limits, the environment
and the working directory. It finds the extension's program in the build cache (building it
if needed), then replaces itself with it (`os.execv`): same pid, process group, account,
limits, environment and directory, fd 0 on /dev/null and fd 1 and 2 on the task log. The
program continues the session on the protocol descriptors, handed the state the Python
child held (the execution request, what it had read ahead, the message-size limit, the next
message id) in a memory file; it answers the request, serves nothing else, answers
`$/shutdown`, and stops at once at a `$/cancel` or at the end of the stream. docs/go.md
explains the choice, with the measurements.
"""

from __future__ import annotations

import os

import msgpack

from burrow.rpc.errors import ErrorCode, RpcError
from burrow_go.build import GOSRC, BuildError, Located, NoToolchain, static_config, warm

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from burrow.child.context import ExecutionContext

__all__ = ["get_config", "prepare", "run", "zygote_preload"]

_LOG_WARN, _LOG_ERROR = 4, 5
_TASK_FAIL = 1  # TaskRetVal Fail: the extension has spoken for itself
RUN_WAIT = 3.0  # seconds a command waits for a build started by it (a warm cache: under 1 s)
CONFIG_WAIT = 5.0  # ... the start-up read, when Configure() is known without the program
CONFIG_WAIT_COMPUTED = 15.0  # ... when it is not (below the robot's 20 s read)


def run(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Run the extension's handler for params["kind"]; the program answers its TaskRetVal.

    Not built yet (a cold cache, an edit the start-up read did not see): a build starts in the
    background; if it is not done within RUN_WAIT, the user is told to try again (ret_val Fail)
    instead of waiting seconds for the compiler. A plugin's `_init` (run at the robot's start,
    holding a child slot) is not retried: it is skipped with a warning in the log, nobody being
    there to tell; `python -m burrow_go build` before the start avoids that.
    """
    located = _locate(params)
    if not located.built():
        _known_failure(located, ctx)
        located.start_build()
        init = located.kind == "plugin" and (params.get("args") or [""])[0] == "_init"
        if not located.wait(RUN_WAIT):
            return _still_building(located, ctx, tell=not init)
        _known_failure(located, ctx)
    _become(located.target, params, ctx)


def get_config(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """The program answers what Configure() returns; at the robot's start it is being built.

    Not built yet: a build starts in the background (it outlives this child). When Configure()
    can be read from the source with certainty (build.static_config), that answer is given
    once the build has had CONFIG_WAIT to finish (so a compile error is still reported at
    start when the Go cache is warm); otherwise the build gets up to CONFIG_WAIT_COMPUTED,
    within the robot's 20 s read, and the configuration is read at the next start if the
    build is still running then.
    """
    located = _locate(params)
    if not located.built():
        _known_failure(located, ctx)
        located.start_build()
        static = static_config(located.source.decode("utf-8", "replace"))
        if not located.wait(CONFIG_WAIT if static is not None else CONFIG_WAIT_COMPUTED):
            if static is not None:
                return {"config": static}
            raise _failure(
                f"{located.path}: the Go program is still being built (a first build compiles "
                "Go's standard library); its configuration is read at the next start",
                located.path,
            )
        _known_failure(located, ctx)
    _become(located.target, params, ctx)


def prepare(hello: dict[str, Any]) -> None:
    """In a spare, before its request: take the way a request finds its program once (the
    toolchain, the cache's folder, reading and hashing a source, packing the hand-over).

    Nothing request-specific is done (the shipped robot module's own file is looked up, and
    nothing is built), but a fork runs that path for the first time here rather than at the
    request: its first run costs a fork about 0.3 ms, the pages it writes (Python's reference
    counts) being copied from the zygote's, and a second run 0.04 ms.
    """
    warm()
    try:
        Located(os.path.join(GOSRC, "robot", "robot.go"), "plugin").built()
    except (NoToolchain, OSError):
        pass  # the request reports it
    msgpack.packb({"params": {"path": "", "args": [""], "bot": {}}, "buffered": b""})


def zygote_preload() -> None:
    """In the zygote: find the toolchain and hash the robot module once, for every fork."""
    warm()


def _failure(message: str, path: str, line: int | None = None, trace: str = "") -> RpcError:
    data: dict[str, Any] = {"language": "go", "file": path}
    if line:
        data["line"] = line
    if trace:
        data["traceback"] = trace
    return RpcError(ErrorCode.EXTENSION_ERROR, message, data)


def _locate(params: dict[str, Any]) -> Located:
    path = params.get("path")
    if not isinstance(path, str) or not path:
        raise RpcError(ErrorCode.INVALID_PARAMS, "a Go execution needs 'path' (a string)")
    path = os.path.abspath(path)
    try:
        return Located(path, str(params.get("kind") or "plugin"))
    except NoToolchain as exc:
        raise _failure(str(exc), path) from None
    except BuildError as exc:
        raise _failure(str(exc), path, exc.line, exc.output) from None
    except OSError as exc:
        raise _failure(f"{path}: cannot read it: {exc}", path) from None


def _known_failure(located: Located, ctx: ExecutionContext) -> None:
    """Raise the compile error recorded for this source, if any (in the task log in full)."""
    exc = located.failure()
    if exc is None:
        return
    if ctx.method.endswith("_run"):
        ctx.log(_LOG_ERROR, f"go build failed:\n{exc.output.strip()}")
    raise _failure(str(exc), located.path, exc.line, exc.output)


def _still_building(located: Located, ctx: ExecutionContext, tell: bool) -> dict[str, Any]:
    name = os.path.basename(located.path)
    message = (
        f"{name} is still being built (the first build of a Go extension compiles Go's "
        "standard library and takes a while); try again in a moment"
    )
    ctx.log(_LOG_WARN, message)
    if tell:
        try:
            ctx.robot_call("Say", [message])
        except RpcError:
            pass  # nowhere to say it (the log has it)
    return {"ret_val": _TASK_FAIL}


def _become(program: str, params: dict[str, Any], ctx: ExecutionContext) -> NoReturn:
    """Replace this process with `program`, handing it the session (never returns)."""
    # A $/cancel from now on only marks the context (hand_over checks it): a SIGUSR1 pending
    # across the exec would kill the program with no handler for it.
    ctx.interruptible = False
    state = ctx.hand_over()
    packed = msgpack.packb(
        {
            "msgid": state["msgid"],
            "method": state["method"],
            "params": params,
            "max_message_size": state["max_message_size"],
            "next_msgid": state["next_msgid"],
            "buffered": state["buffered"],
        },
        use_bin_type=True,
    )
    fd = os.memfd_create("burrow-go-session", 0)  # inheritable: the program reads and closes it
    try:
        view = memoryview(packed)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        # Python ignores SIGPIPE and SIGXFSZ, and an exec keeps an ignored signal ignored; Go's
        # runtime installs its own handlers for both at start, so what the program starts gets
        # the defaults (tests/go/test_go_kinds.py) without resetting them here.
        argv = [program, "burrow-session", str(state["rfd"]), str(state["wfd"]), str(fd)]
        os.execv(program, argv)
    except OSError as exc:
        raise _failure(f"cannot start the built program: {exc}", str(params.get("path"))) from None
    finally:
        os.close(fd)  # reached only when the exec failed
