"""The zygote: a pre-warmed, single-threaded fork server that starts one-shot children.

    python -I -m burrow.runner.zygote_main CONTROL_FD [--preload MODULE ...] [--limits N=V,...]

Started once by the robot. It imports what every child needs (the child's own modules and
the bindings' method modules) and then waits on a SOCK_SEQPACKET control socket. Each
request (a msgpack map) carries the child's argv and four descriptors (SCM_RIGHTS): its
stdin, stdout and stderr, and a setup pipe. The zygote forks; the fork reads its environment
and working directory from the setup pipe — written by the robot, never seen by the zygote,
so no child's environment (which may hold secret parameters) ever lies in the memory the
next fork inherits — and becomes exactly what `python -I -m burrow.child` would be: its own
session, fds 0-2 and nothing else, that environment and directory. The zygote answers with
the pid and a pidfd of the child (SCM_RIGHTS), by which the robot can still watch and signal
the child should the zygote die, and later reports each child's exit status, since it is the
children's parent. Limits and the account to run as reach the child as its own arguments
and `$/hello`, as they reach a new interpreter, so both start modes apply them the same way.

It never starts a thread and never imports asyncio, so forking it is safe; a child starts in
about a millisecond instead of the tens an interpreter start and imports cost. A preloaded
module may define `zygote_preload()`, called once after its import, or `zygote_preload(limits)`
to receive the `$/hello` limits the robot gives its children (`--limits name=value,...`; None
without it), and `zygote_prefork(binding)`, called before each fork of a child of `binding`
(the JavaScript binding loads V8's library in the first, and with limits starts V8 with the
flags those children fit in the second, at its first child). A hook must not start a thread
either. The zygote checks that it is
single-threaded (/proc/self/task) after each preload and before every fork that follows code
other than its own loop (a hook, a binding's first registration); if it is not, it tells the
robot (`{"unsafe": why}`), which starts children as new interpreters from then on, and exits
with status 3.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal's C half, which has no stub
import _socket
import gc
import os
import select
import sys

import msgpack

from burrow.child.main import locate, register, replace_environ
from burrow.child.main import main as child_main

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_REQUEST = 1 << 20
EXIT_UNSAFE = 3  # the zygote has more than one thread: forking it would be unsafe


def thread_count() -> int:
    """How many threads this process has (a fork copies only the calling one)."""
    return len(os.listdir("/proc/self/task"))


def _read_setup(fd: int) -> dict[str, Any]:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    setup = _unpack(b"".join(chunks))
    if not isinstance(setup, dict):
        raise ValueError("the setup is not one map")
    return setup


def _unpack(data: bytes) -> Any:
    """One msgpack object (a request, a setup): what the robot sends the zygote and its forks.

    msgpack rather than JSON, which this module imported for nothing else: json brings re,
    and with socket.py (enum conversions, selectors) and signal it was about 1.8 MiB of the
    zygote's memory that every fork mapped and every exit unmapped (docs/performance.md).
    """
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


# The signals a fork gives back to their default handling: through _signal, as the signal
# module's wrappers convert each handler to and from an enum, which touched about 20 pages of
# a fork for nothing (and importing it imports enum).
_DEFAULT_SIGNALS = (_signal.SIGCHLD, _signal.SIGTERM, _signal.SIGUSR1)


def _child(fds: list[int], argv: list[str]) -> None:
    """In the fork: become the requested child, run it, and never return."""
    # Every object inherited from the zygote goes to the collector's permanent generation: the
    # child's collections then never walk them, which would write to (and so copy) each page
    # of the zygote's heap they lie on.
    gc.freeze()
    try:
        os.setsid()
        setup = _read_setup(fds[3])
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for signum in _DEFAULT_SIGNALS:
            _signal.signal(signum, _signal.SIG_DFL)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        _signal.set_wakeup_fd(-1)
        os.chdir(setup["cwd"])
        replace_environ(setup["env"])
        del setup
        sys.argv = ["burrow.child", *argv]

        code = child_main(argv)
    except BaseException as exc:  # noqa: BLE001 - a fork must end here, whatever happened
        os.write(2, f"burrow zygote child: {type(exc).__name__}: {exc}\n".encode())
        code = 2
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code if isinstance(code, int) else 0)


def _send(control: _socket.socket, message: dict[str, Any]) -> None:
    control.send(msgpack.packb(message))


def serve(control: _socket.socket) -> None:
    """Answer spawn requests and report exits until the robot closes the control socket.

    Each page this loop writes to after a fork is copied (the child shares it), so a fork
    costs the zygote about one page fault per page the loop touches: it keeps to plain
    calls (poll, recvmsg, sendmsg) rather than selectors and socket.send_fds, and reads
    /proc/self/task only when code that could have started a thread has run since it last
    did (`_before_fork`).
    """
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, lambda signum, frame: None)
    poller = select.poll()
    poller.register(control.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == wake_r:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                _reap(control)
                continue
            payload, fds = _receive(control)
            if not payload:
                return  # the robot is gone; running children end on their stdin's EOF
            request = _decode(payload)
            if len(fds) != 4:
                for fd in fds:
                    os.close(fd)
                _send(control, {"id": request.get("id"), "error": "expected 4 descriptors"})
                continue
            if _before_fork(request.get("argv")):
                threads = thread_count()
                if threads != 1:  # a fork would hold locks of threads it does not have
                    for fd in fds:
                        os.close(fd)
                    _unsafe(control, f"the zygote has {threads} threads", request.get("id"))
            try:
                pid = os.fork()
            except OSError as exc:
                for fd in fds:
                    os.close(fd)
                _send(control, {"id": request["id"], "error": str(exc)})
                continue
            if pid == 0:
                _child(fds, [str(arg) for arg in request["argv"]])
            for fd in fds:
                os.close(fd)
            _answer(control, request["id"], pid)
        _reap(control)


_FD_BYTES = 4  # a descriptor in an SCM_RIGHTS message is a C int
_FDS_SPACE = _socket.CMSG_SPACE(4 * _FD_BYTES)


def _receive(control: _socket.socket) -> tuple[bytes, list[int]]:
    """One request and the descriptors that came with it (socket.recv_fds without array)."""
    payload, ancillary, _, _ = control.recvmsg(MAX_REQUEST, _FDS_SPACE)
    fds = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            for start in range(0, len(data) - _FD_BYTES + 1, _FD_BYTES):
                fds.append(int.from_bytes(data[start : start + _FD_BYTES], sys.byteorder))
    return payload, fds


def _decode(payload: bytes) -> dict[str, Any]:
    """A request: one msgpack map."""
    request = _unpack(payload)
    if not isinstance(request, dict):
        raise ValueError("a request is not one map")
    return request


# The preloaded modules' `zygote_prefork(binding)` hooks, called before every fork.
_prefork_hooks: list[Any] = []


# The argv of children whose binding `_before_fork` has found and registered already.
_prepared: set[tuple[object, ...]] = set()


def _before_fork(argv: object) -> bool:
    """What every child of this binding would repeat, done once here and inherited: where its
    binding's entry point is (burrow.child.main.locate; reading the metadata costs a child
    most of a millisecond) and what the binding registers (burrow.child.main.register), and
    what the binding's preloaded modules set up for it in their `zygote_prefork(binding)`
    (the JavaScript binding starts V8 at its first child). Anything amiss is left for the
    child to find and report.

    True when it ran code other than this module's (locating, registering, a hook), which
    could have started a thread; False when it only found everything done already. Nothing
    else the zygote runs between forks can start a thread, so the zygote checks that it
    has a single thread after a True only.
    """
    key = tuple(argv) if isinstance(argv, list) else None
    if key in _prepared and not _prefork_hooks:
        return False
    if not isinstance(argv, list):
        return False
    options = {
        argv[i]: argv[i + 1]
        for i in range(len(argv) - 1)
        if argv[i] in ("--binding", "--distribution") and isinstance(argv[i + 1], str)
    }
    binding, distribution = options.get("--binding"), options.get("--distribution")
    if binding is None or distribution is None:
        return False
    try:
        locate(binding, distribution)
        if register(binding, distribution):
            _prepared.add(tuple(argv))  # found and registered: nothing to do next time
    except Exception:  # noqa: BLE001 - the child reports what is wrong itself
        pass
    for hook in _prefork_hooks:
        try:
            hook(binding)
        except Exception as exc:  # noqa: BLE001 - the child sets itself up instead
            os.write(2, f"burrow zygote: {hook.__module__}.zygote_prefork: {exc}\n".encode())
    return True


def _unsafe(control: _socket.socket, why: str, request_id: object = None) -> None:
    """Tell the robot never to use this zygote again, and exit."""
    message = f"{why}; forking it is unsafe, children start as new interpreters"
    os.write(2, f"burrow zygote: {message}\n".encode())
    try:
        _send(control, {"unsafe": message, "id": request_id})
    finally:
        os._exit(EXIT_UNSAFE)


# The two messages the loop sends after every fork, formatted rather than packed: a packer
# is an object more, and each object a fork's parent makes is a page it copies. msgpack maps
# of a 64-bit unsigned id or pid (0xcf) and a signed status (0xd3).
_ANSWER = b"\x82\xa2id\xcf%s\xa3pid\xcf%s"
_EXIT = b"\x82\xa4exit\xcf%s\xa6status\xd3%s"


def _answer(control: _socket.socket, request_id: object, pid: int) -> None:
    """Send the new child's pid with a pidfd, opened before the child can have been reaped."""
    if type(request_id) is int and request_id >= 0:
        payload = _ANSWER % (request_id.to_bytes(8, "big"), pid.to_bytes(8, "big"))
    else:
        payload = msgpack.packb({"id": request_id, "pid": pid})
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # no pidfds (Linux < 5.3): the robot does not use a zygote there
        control.send(payload)
        return
    try:
        rights = pidfd.to_bytes(_FD_BYTES, sys.byteorder)
        control.sendmsg([payload], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
    finally:
        os.close(pidfd)


def _reap(control: _socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        control.send(_EXIT % (pid.to_bytes(8, "big"), code.to_bytes(8, "big", signed=True)))


def limits_arg(limits: dict[str, int]) -> str:
    """`--limits`' value for `limits` (the robot's side of `_limits`): `name=value,...`."""
    return ",".join(f"{name}={int(value)}" for name, value in limits.items())


def _limits(argv: list[str]) -> dict[str, Any] | None:
    """The `$/hello` limits the robot gives its children (`--limits name=value,...`, numbers),
    for the preload hooks that prepare for them; None when not given or not well formed."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "--limits":
            limits: dict[str, Any] = {}
            for pair in filter(None, argv[i + 1].split(",")):
                name, sep, value = pair.partition("=")
                if not sep or not name or not value.isdigit():
                    return None
                limits[name] = int(value)
            return limits
    return None


def main(argv: list[str]) -> int:
    """Preload, then serve."""
    control = _socket.socket(fileno=int(argv[0]))
    preload = [
        argv[i + 1] for i, arg in enumerate(argv) if arg == "--preload" and i + 1 < len(argv)
    ]
    unsafe = load(preload, _limits(argv))
    if unsafe is not None:
        _unsafe(control, unsafe)
    serve(control)
    return 0


def load(preload: list[str], limits: dict[str, Any] | None) -> str | None:
    """Import what every child needs and the `preload` modules, running their hooks; None,
    or why forking this process has become unsafe (a module started a thread)."""
    import burrow.bindings.locate  # noqa: F401
    from burrow.rpc.codec import make_decoder_ahead

    make_decoder_ahead()

    for module in preload:
        try:
            __import__(module)
            loaded = sys.modules[module]
            hook = getattr(loaded, "zygote_preload", None)
            if callable(hook):
                # zygote_preload(limits) if it takes an argument (None: not given), else ().
                takes = getattr(getattr(hook, "__code__", None), "co_argcount", 0)
                hook(limits) if takes else hook()
            prefork = getattr(loaded, "zygote_prefork", None)
            if callable(prefork):
                _prefork_hooks.append(prefork)
        except Exception as exc:  # noqa: BLE001 - a child will report the real error itself
            os.write(2, f"burrow zygote: cannot preload {module}: {exc}\n".encode())
        threads = thread_count()
        if threads != 1:
            return f"preloading {module} left the zygote with {threads} threads"
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
