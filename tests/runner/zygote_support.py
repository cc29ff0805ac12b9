"""A real zygote (burrow.runner.zygote_main) driven over its control socket without a robot,
and its children driven frame by frame, as tests/support.py's RawChild drives a new
interpreter."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

import msgpack

from support import FramedChild

TEST_ARGS = ["--binding", "test", "--distribution", "burrowbot-testbinding"]
LUA_ARGS = ["--binding", "lua", "--distribution", "burrowbot-lua"]


class ZygoteServer:
    """A zygote process preloading `preload`; `fork` starts a child of it."""

    def __init__(self, *preload: str, path: str | None = None) -> None:
        """`path`: a folder put first on the zygote's sys.path (for test modules to preload)."""
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-I", "-m", "burrow.runner.zygote_main", str(theirs.fileno())]
        if path is not None:
            main = (
                f"import sys; sys.path.insert(0, {path!r}); "
                "from burrow.runner.zygote_main import main; sys.exit(main(sys.argv[1:]))"
            )
            argv[2:4] = ["-c", main]
        for module in preload:
            argv += ["--preload", module]
        self.proc = subprocess.Popen(
            argv,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            start_new_session=True,
        )
        theirs.close()
        self.children: list[ForkedChild] = []
        self._next_id = 0

    def fork(self, *argv: str, cwd: str = "/", env: dict[str, str] | None = None) -> ForkedChild:
        """A new child running `burrow.child` with `argv`."""
        answer, pipes = self._request(list(argv), cwd, env)
        assert "pid" in answer, answer
        child = ForkedChild(answer["pid"], *pipes)
        self.children.append(child)
        return child

    def request_fork(self, *argv: str) -> dict[str, Any]:
        """The zygote's answer to a fork request (the child, if any, gets EOF at once)."""
        answer, pipes = self._request(list(argv), "/", None)
        if "pid" in answer:
            self.children.append(ForkedChild(answer["pid"], *pipes))
        else:
            for fd in pipes:
                os.close(fd)
        return answer

    def _request(
        self, argv: list[str], cwd: str, env: dict[str, str] | None
    ) -> tuple[dict[str, Any], tuple[int, int, int]]:
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        setup_r, setup_w = os.pipe()
        os.write(setup_w, msgpack.packb({"env": env or {}, "cwd": cwd}))
        os.close(setup_w)
        self._next_id += 1
        request = msgpack.packb({"id": self._next_id, "argv": argv})
        theirs = [stdin_r, stdout_w, stderr_w, setup_r]
        try:
            socket.send_fds(self.control, [request], theirs)
        finally:
            for fd in theirs:
                os.close(fd)
        while True:
            data, fds, _, _ = socket.recv_fds(self.control, 65536, 1)
            for fd in fds:
                os.close(fd)
            answer: dict[str, Any] = msgpack.unpackb(data)
            if answer.get("id") == self._next_id:
                return answer, (stdin_w, stdout_r, stderr_r)

    def close(self) -> None:
        for child in self.children:
            child.kill()
        self.control.close()
        self.proc.wait(10)


class ForkedChild(FramedChild):
    """A child of a ZygoteServer, driven frame by frame."""

    def __init__(self, pid: int, stdin: int, stdout: int, stderr: int) -> None:
        super().__init__(stdout)
        self.pid = pid
        self._stdin: int | None = stdin
        self._stdout = stdout
        self._stderr = stderr

    def send_bytes(self, data: bytes) -> None:
        assert self._stdin is not None
        os.write(self._stdin, data)

    def threads(self) -> int:
        """How many threads the child has now."""
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def close_stdin(self) -> None:
        if self._stdin is not None:
            os.close(self._stdin)
            self._stdin = None

    def kill(self) -> None:
        self.close_stdin()
        try:
            os.kill(self.pid, 9)
        except ProcessLookupError:
            pass
        for fd in (self._stdout, self._stderr):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stdout = self._stderr = -1
