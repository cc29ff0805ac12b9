"""`go_run` and `go_get_config`: build (or find) the extension's program and relay to it.

The Python child has done the handshake, dropped privileges, set the limits, the environment
and the working directory; it then starts the compiled program as its own child (same
process group, so the robot's SIGTERM/SIGKILL escalation reaches it), with fd 0 on /dev/null,
fd 1 and 2 on the task log, and the protocol on two pipes named on its command line. It sends
the program the execution request and serves its `robot_call` requests through
`ctx.robot_call`, one at a time, until the program answers. A cancel interrupts the relay (a
blocked robot call or a read), which kills the program. docs/go.md explains the choice.
"""

from __future__ import annotations

import os
import signal
import subprocess

import msgpack

from burrow.child.context import Canceled
from burrow.rpc.errors import ErrorCode, RpcError
from burrow_go.build import BuildError, NoToolchain, program_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from burrow.child.context import ExecutionContext

__all__ = ["get_config", "run"]

_LOG_ERROR = 5


def run(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Run the extension's handler for params["kind"] and answer its TaskRetVal."""
    return _Relay(params, ctx).execute("go_run")


def get_config(params: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    """Build the extension (at robot start) and answer what its Configure() returns."""
    result = _Relay(params, ctx).execute("go_get_config")
    if not isinstance(result.get("config"), str):
        raise RpcError(ErrorCode.EXTENSION_ERROR, "Configure() answered no configuration")
    return result


def _failure(message: str, path: str, line: int | None = None, trace: str = "") -> RpcError:
    data: dict[str, Any] = {"language": "go", "file": path}
    if line:
        data["line"] = line
    if trace:
        data["traceback"] = trace
    return RpcError(ErrorCode.EXTENSION_ERROR, message, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Relay:
    def __init__(self, params: dict[str, Any], ctx: ExecutionContext) -> None:
        path = params.get("path")
        if not isinstance(path, str) or not path:
            raise RpcError(ErrorCode.INVALID_PARAMS, "a Go execution needs 'path' (a string)")
        self.path = os.path.abspath(path)
        self.params = params
        self.ctx = ctx
        self.kind = str(params.get("kind") or "plugin")

    def program(self) -> str:
        try:
            return program_for(self.path, self.kind)
        except NoToolchain as exc:
            raise _failure(str(exc), self.path) from None
        except BuildError as exc:
            if self.ctx.method.endswith("_run"):
                self.ctx.log(_LOG_ERROR, f"go build failed:\n{exc.output.strip()}")
            raise _failure(str(exc), self.path, exc.line, exc.output) from None
        except OSError as exc:
            raise _failure(f"{self.path}: cannot build: {exc}", self.path) from None

    def execute(self, method: str) -> dict[str, Any]:
        program = self.program()
        to_go_r, to_go_w = os.pipe()
        from_go_r, from_go_w = os.pipe()
        try:
            process = subprocess.Popen(
                [program, str(to_go_r), str(from_go_w)],
                stdin=subprocess.DEVNULL,
                stdout=2,  # the task log, as the child's own fd 1
                pass_fds=(to_go_r, from_go_w),
                close_fds=True,
            )
        except OSError as exc:
            for fd in (to_go_r, to_go_w, from_go_r, from_go_w):
                os.close(fd)
            raise _failure(f"cannot start the built program: {exc}", self.path) from None
        os.close(to_go_r)
        os.close(from_go_w)
        try:
            return self._serve(method, process, to_go_w, from_go_r)
        except BaseException:
            # A cancel (or anything else) ends the program at once; the robot's escalation
            # would reach it too, as it runs in the child's process group.
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            raise
        finally:
            os.close(to_go_w)
            os.close(from_go_r)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _serve(
        self, method: str, process: subprocess.Popen[bytes], wfd: int, rfd: int
    ) -> dict[str, Any]:
        request = [0, 0, method, [self.params]]
        _write_all(wfd, msgpack.packb(request, use_bin_type=True))
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=64 * 1024 * 1024)
        while True:
            for message in unpacker:
                answer = self._handle(message, wfd)
                if answer is not None:
                    return answer
            data = os.read(rfd, 65536)
            if not data:
                status = process.wait()
                raise _failure(
                    f"{self.path}: the Go program exited (status {status}) without answering",
                    self.path,
                )
            unpacker.feed(data)

    def _handle(self, message: Any, wfd: int) -> dict[str, Any] | None:
        if not isinstance(message, list) or not message:
            raise RpcError(ErrorCode.PROTOCOL_ERROR, "the Go program sent a malformed message")
        if message[0] == 1 and len(message) == 4 and message[1] == 0:
            error, result = message[2], message[3]
            if isinstance(error, dict):
                data = error.get("data")
                if isinstance(data, dict):
                    data.setdefault("file", self.path)
                code = str(error.get("code") or "extension_error")
                known = code if code in ErrorCode._value2member_map_ else "extension_error"
                raise RpcError(ErrorCode(known), str(error.get("message")), data)
            if not isinstance(result, dict):
                raise RpcError(ErrorCode.PROTOCOL_ERROR, "the Go program answered no result map")
            return result
        if message[0] == 0 and len(message) == 4 and message[2] == "robot_call":
            msgid, call = message[1], (message[3] or [{}])[0]
            try:
                result = self.ctx.robot_call(
                    str(call.get("method")), list(call.get("args") or []), call.get("options")
                )
            except Canceled:
                raise
            except RpcError as exc:
                self.ctx.log(_LOG_ERROR, f"robot call {call.get('method')} failed: {exc}")
                reply = [1, msgid, exc.to_map(), None]
            else:
                reply = [1, msgid, None, result]
            _write_all(wfd, msgpack.packb(reply, use_bin_type=True))
            return None
        if message[0] == 2 and len(message) == 3 and message[1] == "$/log":
            entry = (message[2] or [{}])[0]
            self.ctx.log(int(entry.get("level", 2)), str(entry.get("message", "")))
            return None
        raise RpcError(ErrorCode.PROTOCOL_ERROR, "the Go program sent an unexpected message")
