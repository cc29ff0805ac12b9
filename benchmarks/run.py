"""The whole benchmark suite in one command: one table, one JSON file, the targets judged.

    .venv/bin/python benchmarks/run.py [--quick] [--only rpc,routing] [--json PATH]

Runs each benchmark module's `section()` in turn (each measures its own baseline first, then
its rows), prints one table — section, measure, value, unit, x baseline, target, verdict — and
writes benchmarks/results/all.json with the machine, the command and every row (and the
table in Markdown beside it, all.md). `--quick` runs far fewer rounds: a check that the
suite works, not figures to quote.

Every ratio is to a baseline measured in the same run, just before its section: the median
time to spawn `python -I -S -c pass` and wait for it (rates: x the rate of such spawns one
after the other; memory: x a bare `python -I -S`). docs/performance.md explains the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import BASELINE_LABEL, Row, Section, child_modes, ensure_bytecode, fmt  # noqa: E402

from burrow.bindings.registry import BindingRegistry  # noqa: E402


def e2e_section(quick: bool = False) -> Section:
    """benchmarks/e2e.py, run as a process of its own, its JSON read back as a section."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e2e.json"
        argv = [sys.executable, str(HERE / "e2e.py"), "--runs", "5" if quick else "30"]
        proc = subprocess.run([*argv, "--json", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"benchmarks/e2e.py failed:\n{proc.stderr[-2000:]}")
        data = json.loads(path.read_text())
    results = data["results"]
    base_ms = results[0]["median_ms"]
    meta = {k: v for k, v in data.items() if k != "results"}
    out = Section("e2e", base_ms, meta=meta)
    for result in results:
        ms, label = result["median_ms"], result["measure"]
        value, unit = (ms * 1000, "µs") if ms < 1 else (ms, "ms")
        out.rows.append(Row(_e2e_key(label), label, value, unit, ms / base_ms, data.get("runs", 1)))
    return out


def _e2e_key(label: str) -> str:
    """A stable key for a row of benchmarks/e2e.py, from its label."""
    patterns = (
        (r"^baseline", "baseline"),
        (r"^built-in ping", "ping"),
        (r"^(\w+) binding: one robot call", r"\1.call"),
        (r"^(\w+) binding, (\w+): first command", r"\1.\2.first"),
        (r"^(\w+) binding, (\w+): trivial command", r"\1.\2.warm"),
    )
    for pattern, key in patterns:
        match = re.match(pattern, label)
        if match:
            return match.expand(key)
    return re.sub(r"\W+", "_", label).strip("_")


def _module(name: str) -> Callable[[bool], Section]:
    def run(quick: bool) -> Section:
        module = __import__(name)
        section: Section = module.section(quick)
        return section

    return run


# (name, what it measures, bindings it needs, how to run it), cheapest first.
SECTIONS: list[tuple[str, str, tuple[str, ...], Callable[[bool], Section]]] = [
    ("rpc", "child start-up and robot calls, test binding", ("test",), _module("rpc")),
    ("routing", "routing cost by number of commands", (), _module("routing")),
    ("lua", "whole Lua executions per child mode", ("lua",), _module("lua")),
    ("js", "whole JavaScript executions per child mode", ("js",), _module("js")),
    ("e2e", "message in -> reply out per binding and mode", ("test",), e2e_section),
    ("cold", "process start -> first reply; first command", ("lua",), _module("cold")),
    ("concurrency", "bursts of 1-64 commands per language", ("lua",), _module("concurrency")),
    ("memory", "RSS/PSS of robot, zygote, children, spares", ("lua",), _module("memory")),
    ("datums", "datum round trips by size", ("lua",), _module("datums")),
    ("startup", "start-up with 10-1000 plugins", ("lua",), _module("startup")),
]


# -- targets ---------------------------------------------------------------------------------

Sections = dict[str, Section]


@dataclass
class Target:
    """A promise about the figures: `check` gives (figure, passed), None when not measured."""

    name: str
    goal: str
    rows: list[tuple[str, str]]  # (section, key) of the rows it judges
    check: Callable[[list[Row]], tuple[str, bool]]


def _default_mode() -> str:
    """How the robot starts children by default: spares when it keeps them, else the zygote."""
    return "spare" if "spare" in child_modes() else "zygote"


def _ratio_at_most(limit: float) -> Callable[[list[Row]], tuple[str, bool]]:
    def check(rows: list[Row]) -> tuple[str, bool]:
        ratio = rows[0].ratio or 0.0
        return f"{ratio:.3g}x baseline ({fmt(rows[0].value)} {rows[0].unit})", ratio <= limit

    return check


def _value_at_most(limit: float, unit: str) -> Callable[[list[Row]], tuple[str, bool]]:
    def check(rows: list[Row]) -> tuple[str, bool]:
        row = rows[0]
        value = row.value * (1000 if row.unit == "ms" and unit == "µs" else 1)
        return f"{value:.3g} {unit}", value <= limit

    return check


def _rate_at_least(limit: float) -> Callable[[list[Row]], tuple[str, bool]]:
    def check(rows: list[Row]) -> tuple[str, bool]:
        ratio = rows[0].ratio or 0.0
        return f"{ratio:.3g}x spawn rate ({rows[0].value:.4g}/s)", ratio >= limit

    return check


def _growth_at_most(limit: float) -> Callable[[list[Row]], tuple[str, bool]]:
    def check(rows: list[Row]) -> tuple[str, bool]:
        small, large = rows
        growth = large.value / small.value * _unit_scale(large.unit, small.unit)
        return f"{growth:.3g}x the figure with 10", growth <= limit

    return check


def _unit_scale(unit: str, other: str) -> float:
    """Multiply a value in `unit` by this to get it in `other` (ms and µs)."""
    return {("ms", "µs"): 1000.0, ("µs", "ms"): 0.001}.get((unit, other), 1.0)


def targets() -> list[Target]:
    """The targets of issue 10, item 6, in the default child mode."""
    mode = _default_mode()
    out = [
        Target(
            "trivial Lua command",
            "<= 0.3x",
            [("e2e", f"lua.{mode}.warm")],
            _ratio_at_most(0.3),
        ),
        Target(
            "trivial JavaScript command",
            "<= 1.0x",
            [("e2e", f"js.{mode}.warm")],
            _ratio_at_most(1.0),
        ),
        Target(  # issue 12
            "trivial Go command",
            "<= 0.5x",
            [("e2e", f"go.{mode}.warm")],
            _ratio_at_most(0.5),
        ),
    ]
    for lang, name in (("lua", "Lua"), ("js", "JavaScript")):
        out.append(
            Target(
                f"first {name} command after start",
                "<= 2x warm",
                [("cold", f"{lang}.{mode}.first_over_warm")],
                _value_at_most(2.0, "x warm"),
            )
        )
    out += [
        Target(
            "64 Lua commands at once: failures",
            "0",
            [("concurrency", "lua.64.failures")],
            _value_at_most(0, "failed"),
        ),
        Target(
            "64 Lua commands at once: p99",
            "<= 3x p50",
            [("concurrency", "lua.64.p99_over_p50")],
            _value_at_most(3.0, "x p50"),
        ),
        Target(
            "64 Lua commands at once: throughput",
            ">= 4x spawn rate",
            [("concurrency", "lua.64.rate")],
            _rate_at_least(4.0),
        ),
        Target(
            "64 JavaScript commands at once: failures",
            "0",
            [("concurrency", "js.64.failures")],
            _value_at_most(0, "failed"),
        ),
        Target(
            "64 JavaScript commands at once: throughput",
            ">= 1x spawn rate",
            [("concurrency", "js.64.rate")],
            _rate_at_least(1.0),
        ),
        Target(
            "addressed, unmatched, 1000 plugins",
            "<= 3x with 10",
            [("routing", "route.unmatched.10"), ("routing", "route.unmatched.1000")],
            _growth_at_most(3.0),
        ),
        Target(
            "restart, 1000 unchanged Lua plugins",
            "<= 150x",
            [("startup", "1000.cached.process")],
            _ratio_at_most(150.0),
        ),
        Target(
            "one robot call from Lua (median)",
            "<= 100 µs",
            [("e2e", "lua.call")],
            _value_at_most(100.0, "µs"),
        ),
        Target(
            "one robot call from JavaScript (median)",
            "<= 100 µs",
            [("e2e", "js.call")],
            _value_at_most(100.0, "µs"),
        ),
        Target(
            "one robot call from Go (median)",
            "<= 100 µs",
            [("e2e", "go.call")],
            _value_at_most(100.0, "µs"),
        ),
    ]
    return out


def judge(sections: Sections) -> list[dict[str, Any]]:
    """Every target with its figure and verdict ("pass", "FAIL", "not measured")."""
    verdicts = []
    for target in targets():
        found = [sections[s].get(k) if s in sections else None for s, k in target.rows]
        rows = [row for row in found if row is not None]
        if len(rows) < len(found):
            figure, verdict = "-", "not measured"
        else:
            figure, passed = target.check(rows)
            verdict = "pass" if passed else "FAIL"
        verdicts.append(
            {
                "target": target.name,
                "goal": target.goal,
                "figure": figure,
                "verdict": verdict,
                "rows": [f"{s}/{k}" for s, k in target.rows],
            }
        )
    return verdicts


# -- the machine, the table, the JSON --------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
    }
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu_model"] = model.group(1).strip() if model else platform.processor()
        meminfo = Path("/proc/meminfo").read_text()
        total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
        info["memory_gib"] = round(int(total.group(1)) / 1024 / 1024, 1) if total else None
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    info["commit"] = commit.stdout.strip() or None
    return info


def print_table(sections: Sections, verdicts: list[dict[str, Any]]) -> None:
    """One table of every row; a targeted row carries its goal and verdict."""
    marks: dict[str, tuple[str, str]] = {}
    for v in verdicts:
        for where in v["rows"][-1:]:  # the row that carries the figure
            marks[where] = (v["goal"], v["verdict"])
    rows = [(name, row) for name, section in sections.items() for row in section.rows]
    width = max((len(row.measure) for _, row in rows), default=10) + 1
    head = f"{'section':<12}{'measure':<{width}}{'value':>10} {'unit':<6}{'x base':>9}"
    print(f"{head}  {'target':<18}verdict")
    for name, row in rows:
        goal, verdict = marks.get(f"{name}/{row.key}", ("", ""))
        line = f"{name:<12}{row.measure:<{width}}{fmt(row.value):>10} {row.unit:<6}"
        print(f"{line}{fmt(row.ratio):>9}  {goal:<18}{verdict}".rstrip())
    print(f"\nx base: x {BASELINE_LABEL}, measured at the start of each section")
    print("(rates: x the rate of those spawns one after the other; memory: x a bare python)\n")
    width = max(len(v["target"]) for v in verdicts) + 2
    print(f"{'target':<{width}}{'goal':<19}{'figure':<40}verdict")
    for v in verdicts:
        print(f"{v['target']:<{width}}{v['goal']:<19}{v['figure']:<40}{v['verdict']}")


def markdown(sections: Sections, verdicts: list[dict[str, Any]]) -> str:
    """The same table and targets in Markdown, for docs/performance.md."""
    marks = {v["rows"][-1]: (v["goal"], v["verdict"]) for v in verdicts}
    lines = [
        "| section | measure | value | unit | x baseline | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, section in sections.items():
        for row in section.rows:
            goal, verdict = marks.get(f"{name}/{row.key}", ("", ""))
            measure = row.measure.replace("|", "\\|")
            cells = [name, measure, fmt(row.value), row.unit, fmt(row.ratio), goal, verdict]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| target | goal | figure | verdict |", "|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v['target']} | {v['goal']} | {v['figure']} | {v['verdict']} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a check, not figures")
    parser.add_argument("--only", default="", help="comma-separated sections (default: all)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "all.json")
    args = parser.parse_args()
    names = [name for name, *_ in SECTIONS]
    only = [name for name in args.only.split(",") if name] or names
    unknown = sorted(set(only) - set(names))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {','.join(names)}")
    installed = set(BindingRegistry.discover().bindings)
    started, clock = datetime.now(UTC), time.perf_counter()
    info = machine()
    info["bytecode_compiled"] = ensure_bytecode()  # before anything is timed: see _common
    sections: Sections = {}
    report: dict[str, Any] = {}
    for name, what, needs, run in SECTIONS:
        if name not in only:
            continue
        missing = [binding for binding in needs if binding not in installed]
        if missing:
            report[name] = {"skipped": f"bindings not installed: {', '.join(missing)}"}
            print(f"-- {name}: skipped ({report[name]['skipped']})", flush=True)
            continue
        print(f"-- {name}: {what} ...", flush=True)
        began = time.perf_counter()
        try:
            sections[name] = run(args.quick)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - one must not hide the rest
            error = "".join(traceback.format_exception_only(exc)).strip()
            report[name] = {"error": error[:2000]}
            print(f"-- {name}: FAILED\n{traceback.format_exc()[-4000:]}", flush=True)
            continue
        report[name] = sections[name].to_json()
        report[name]["elapsed_s"] = round(time.perf_counter() - began, 1)
        print(f"-- {name}: {report[name]['elapsed_s']} s", flush=True)
    verdicts = judge(sections)
    print()
    print_table(sections, verdicts)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    data = {
        "command": " ".join(["benchmarks/run.py", *sys.argv[1:]]),
        "quick": args.quick,
        "started": started.isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - clock, 1),
        "child_modes": child_modes(),
        "default_mode": _default_mode(),
        "baseline": BASELINE_LABEL,
        "machine": info,
        "sections": report,
        "targets": verdicts,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    args.json.with_suffix(".md").write_text(markdown(sections, verdicts))
    print(f"\nwrote {args.json} and {args.json.with_suffix('.md')}")
    return 1 if any("error" in section for section in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
