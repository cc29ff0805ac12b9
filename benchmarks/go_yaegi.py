"""Go extensions compiled (the go binding) against interpreted by yaegi (what Gopherbot does).

    .venv/bin/python benchmarks/go_yaegi.py [--runs 20] [--json PATH]

The same extension, the same generated main and the same robot module, run as the program a
Go child becomes (docs/go.md): once compiled by the binding, once by `yaegi run` from source
(Debian's `yaegi` package, `apt-get install yaegi`; a measurement tool, not a dependency).
Each sample starts the program with the protocol descriptors and the session state the Python
child hands over, serves its robot calls like the robot, and stops at its answer: the part of
a command's time that differs between the two. Rows: a trivial command (one Say), a CPU-bound
one (a loop of 10^7 additions, then a Say), and the binding's build, cold (Go's own packages
compiled) and warm (an edited extension), which yaegi does not need. Without yaegi on PATH the
yaegi rows are left out, and it says so.

For yaegi 0.14 (Debian 12) the copy of the robot module it reads defines `min` (a Go 1.21
built-in it does not know) and is run with -syscall -unsafe -unrestricted (the module reads
its descriptors and exits with os.Exit, which yaegi otherwise turns into a panic; with
-unrestricted the program sees yaegi's own command line, so the copy keeps its last four
arguments). Its robot call is GetParameter: yaegi 0.14 crashes (nil dereference) calling a
variadic method such as Say through the robot.Robot interface.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
from _common import BASELINE_LABEL, report, spawn_baseline
from burrow_go.build import GOSRC, ROBOT_MODULE, Located, cache_root, generated_main

EXTENSION = """\
package main

import (
	"strconv"

	"github.com/lnxjedi/gopherbot/robot"
)

var config = []byte(`Commands: [{Command: hi, Regex: hi}, {Command: spin, Regex: spin}]`)

func Configure() *[]byte { return &config }

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {
	if command == "spin" {
		n := 0
		for i := 0; i < 10000000; i++ {
			n += i % 7
		}
		r.GetParameter(strconv.Itoa(n))
		return robot.Normal
	}
	r.GetParameter("X")
	return robot.Normal
}
"""

YAEGI_COMPAT = """\
package burrowchild

import "os"

// Only in the copy yaegi 0.14 reads. -unrestricted shows the program yaegi's own command line
// (and os.Args cannot be assigned): Main reads the program's part of it from here.
func yaegiArgs() []string {
	if n := len(os.Args); n >= 4 {
		return append([]string{"burrowext"}, os.Args[n-4:]...)
	}
	return os.Args
}

// Go 1.21's min built-in, which yaegi 0.14 does not know.
func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
"""


def yaegi_tree(root: Path, source: str) -> Path:
    """A GOPATH holding the robot module (with the compatibility file) and the extension."""
    gopath = root / "gopath"
    module = gopath / "src" / ROBOT_MODULE
    shutil.copytree(os.path.join(GOSRC, "robot"), module)
    session = module / "burrowchild" / "session.go"
    text = session.read_text().replace("min(n, int64(1)<<40)", "min64(n, 1<<40)")
    text = text.replace("os.Args", "yaegiArgs()")
    session.write_text(text)
    (module / "burrowchild" / "zz_yaegi_compat.go").write_text(YAEGI_COMPAT)
    ext = gopath / "src" / "burrowext"
    ext.mkdir(parents=True)
    (ext / "extension.go").write_text(source)
    (ext / "zz_burrow_main.go").write_text(generated_main(str(ext / "extension.go"), "plugin"))
    return gopath


def one_run(argv: list[str], command: str, env: dict[str, str], cwd: Path) -> float:
    """Seconds from starting the program to its answer, its robot calls served at once."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    state = os.memfd_create("burrow-go-session", 0)
    params = {"path": "x.go", "name": "x", "kind": "plugin", "args": [command], "bot": {}}
    packed = msgpack.packb(
        {
            "msgid": 0,
            "method": "go_run",
            "params": params,
            "max_message_size": 16 << 20,
            "next_msgid": 0,
            "buffered": b"",
        },
        use_bin_type=True,
    )
    os.write(state, packed)
    os.lseek(state, 0, os.SEEK_SET)
    fds = [str(to_r), str(from_w), str(state)]
    start = time.perf_counter()
    process = subprocess.Popen(
        [*argv, "burrow-session", *fds],
        pass_fds=(to_r, from_w, state),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    for fd in (to_r, from_w, state):
        os.close(fd)
    unpacker = msgpack.Unpacker(raw=False)
    try:
        while True:
            data = os.read(from_r, 65536)
            if not data:
                raise RuntimeError(f"{argv[0]} ended without answering")
            unpacker.feed(data)
            for message in unpacker:
                if message[0] == 0:  # a robot call: answered as the robot would
                    reply = [1, message[1], None, {"ret_val": 0}]
                    os.write(to_w, msgpack.packb(reply, use_bin_type=True))
                elif message[0] == 1 and message[1] == 0:
                    took = time.perf_counter() - start
                    if message[2] is not None:
                        raise RuntimeError(f"{argv[0]} failed: {message[2]}")
                    os.write(to_w, msgpack.packb([0, 1, "$/shutdown", [{}]]))
                    return took
    finally:
        os.close(to_w)
        os.close(from_r)
        process.wait(timeout=60)


def build_times(source: str, runs: int) -> tuple[list[float], list[float]]:
    """The binding's build: cold (a new Go cache) and warm (an edit), in seconds."""
    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="burrow-go-build-") as tmp:
        path, root = Path(tmp) / "ext.go", str(Path(tmp) / "cache")  # a new, empty cache
        for n in range(runs):
            path.write_text(source + f"\n// edit {n}\n")
            start = time.perf_counter()
            Located(str(path), "plugin", root).build()
            (cold if n < 1 else warm).append(time.perf_counter() - start)
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/go_yaegi.json"))
    args = parser.parse_args()
    base = spawn_baseline(args.runs)
    rows: list[tuple[str, list[float]]] = [(BASELINE_LABEL, base)]
    yaegi = shutil.which("yaegi")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    with tempfile.TemporaryDirectory(prefix="burrow-go-yaegi-") as tmp:
        source = Path(tmp) / "ext.go"
        source.write_text(EXTENSION)
        program = Located(str(source), "plugin", cache_root()).build()
        gopath = yaegi_tree(Path(tmp), EXTENSION) if yaegi else None
        ways = [("compiled", [program], Path(tmp))]
        if yaegi and gopath is not None:
            flags = ["run", "-syscall", "-unsafe", "-unrestricted", "burrowext"]
            ways.append(("yaegi", [yaegi, *flags], gopath / "src"))
        kinds = (("hi", "trivial command (one robot call)"), ("spin", "10^7-step loop"))
        for command, what in kinds:
            for way, argv, cwd in ways:
                runs = args.runs if command == "hi" else max(3, args.runs // 4)
                way_env = dict(env, GOPATH=str(gopath), GO111MODULE="off") if gopath else env
                samples = [one_run(argv, command, way_env, cwd) for _ in range(runs)]
                rows.append((f"{way}: {what}, start to answer", samples))
    cold, warm = build_times(EXTENSION, max(3, args.runs // 5))
    rows.append(("compiled: build, cold cache (Go's own packages too)", cold))
    rows.append(("compiled: build after an edit (warm cache)", warm))
    report(rows, args.json, runs=args.runs, yaegi=yaegi_version(yaegi))
    if not yaegi:
        print("yaegi is not on PATH (apt-get install yaegi): its rows are left out")
    return 0


def yaegi_version(yaegi: str | None) -> str:
    if yaegi is None:
        return "none"
    done = subprocess.run([yaegi, "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
