"""Memory: the robot, its zygotes, one running child of each language, and the spare pool.

    .venv/bin/python benchmarks/memory.py [--modes fresh,zygote,spare] [--json PATH]

For each child mode the engine offers, a new robot process with one trivial Lua and one
trivial JavaScript plugin (benchmarks/cold.py's) starts on the test connector, then reads from
/proc/<pid>/smaps_rollup: its own memory, each binding's zygote's, each spare child's (summed per
binding), and that of one child of each language while it runs — the `hold` command pauses
for 1.5 s in a robot call, and is measured 0.3 s into it. RSS counts every page a process
maps; PSS divides each shared page among the processes sharing it, so the PSS of a zygote and
its forks adds up to what they really cost together. Each figure is also shown as a ratio to
the same measure of a bare `python -I -S` measured in the same run (the time baseline of
spawning `python -I -S -c pass` is the section's first row, as everywhere).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import Section, child_modes, ensure_bytecode, write_section
from cold import command, installed_bindings, start_robot, write_robot

MiB = 1024 * 1024
SMAPS_SELF = "print(open('/proc/self/smaps_rollup').read())"


def smaps(pid: int | str) -> dict[str, int] | None:
    """{"rss", "pss"} in bytes of a live process (`"self"` for this one), or None once gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            return _parse(handle.read())
    except (OSError, KeyError, ValueError):
        return None


def _parse(text: str) -> dict[str, int]:
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            found[name.lower()] = int(rest.split()[0]) * 1024
    return {"rss": found["rss"], "pss": found["pss"]}


def bare_python() -> dict[str, int]:
    """RSS and PSS of `python -I -S` reading its own smaps_rollup."""
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", SMAPS_SELF], capture_output=True, text=True, check=True
    )
    return _parse(out.stdout)


async def _running_child(robot: Any, connector: Any, binding: str) -> dict[str, int] | None:
    """Send `<binding>hold`; the memory of its child 0.3 s in, and wait for its reply."""
    before = {p.execution.pid for p in robot.pipelines.values() if p.execution is not None}
    reply = asyncio.ensure_future(command(connector, f"{binding}hold", "hold"))
    memory = None
    for _ in range(100):
        await asyncio.sleep(0.01)
        pids = {p.execution.pid for p in robot.pipelines.values() if p.execution is not None}
        new = [pid for pid in pids - before if pid]
        if new:
            await asyncio.sleep(0.3)
            memory = smaps(new[0])
            break
    await reply
    return memory


async def _one(root: Path, mode: str) -> None:
    """Child mode: start the robot, print one JSON line of memory figures, stop."""
    bindings = installed_bindings()
    robot, connector = await start_robot(root, mode)
    await robot.plugins_initialized(60)  # a steady robot: its plugins' start-up _init ended
    figures: dict[str, Any] = {"robot": smaps("self")}
    try:
        spares = getattr(robot, "spares", None)
        for binding in bindings:
            if spares is not None:
                ready = [s.child.pid for s in spares.ready(binding) if s.child is not None]
                sizes = [m for pid in ready if (m := smaps(pid)) is not None]
                figures[f"spares.{binding}"] = {
                    "rss": sum(m["rss"] for m in sizes),
                    "pss": sum(m["pss"] for m in sizes),
                    "count": len(sizes),
                }
            figures[f"child.{binding}"] = await _running_child(robot, connector, binding)
        # Each binding's zygote, once its children have run (V8 starts at the first).
        for binding, pid in (robot.zygote.pids if robot.zygote is not None else {}).items():
            figures[f"zygote.{binding}"] = smaps(pid)
    finally:
        await robot.stop(grace=5)
    print(json.dumps(figures), flush=True)


def run_once(root: Path, mode: str) -> dict[str, Any]:
    """One robot process in `mode`; its figures."""
    argv = [sys.executable, __file__, "--one", str(root), mode]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"the robot process failed ({mode}):\n{proc.stderr}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


LABELS = {
    "robot": "the robot process",
    "zygote.lua": "the Lua zygote",
    "zygote.js": "the JavaScript zygote",
    "zygote.go": "the Go zygote",
    "child.lua": "one running Lua child",
    "child.js": "one running JavaScript child",
    "spares.lua": "the Lua spares",
    "spares.js": "the JavaScript spares",
}


def measure(modes: list[str]) -> Section:
    """The memory rows, beside a baseline measured first."""
    section = Section.start("memory", 30, modes=",".join(modes))
    bare = bare_python()
    section.ratio_to += "; memory: x the same measure of a bare `python -I -S`"
    for kind in ("rss", "pss"):
        section.add(
            f"python.{kind}", f"bare `python -I -S`, {kind.upper()}", bare[kind] / MiB, "MiB", 1.0
        )
    bindings = installed_bindings()
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            root = Path(tmp) / mode
            write_robot(root, bindings, mode)
            figures = run_once(root, mode)
            for what, label in LABELS.items():
                found = figures.get(what)
                if not found or found.get("count") == 0:
                    continue  # no zygote in fresh mode; no spares kept in zygote mode
                count = f" ({found['count']})" if "count" in found else ""
                for kind in ("rss", "pss"):
                    section.add(
                        f"{mode}.{what}.{kind}",
                        f"{mode}: {label}{count}, {kind.upper()}",
                        found[kind] / MiB,
                        "MiB",
                        found[kind] / bare[kind],
                    )
    return section


def section(quick: bool = False) -> Section:
    """For benchmarks/run.py (one robot per mode whatever `quick` says)."""
    return measure(child_modes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(child_modes()))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/memory.json"))
    parser.add_argument("--one", nargs=2, metavar=("ROOT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        logging.basicConfig(level=logging.ERROR)
        asyncio.run(_one(Path(args.one[0]), args.one[1]))
        return 0
    ensure_bytecode()  # as an installed robot has it: see _common
    modes = [mode for mode in args.modes.split(",") if mode in child_modes()]
    write_section(measure(modes), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
