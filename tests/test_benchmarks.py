"""The benchmark suite runs and writes well-formed JSON (its figures are not judged here)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def quick_suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`benchmarks/run.py --quick` on the sections that need only the test binding."""
    path = tmp_path_factory.mktemp("bench") / "all.json"
    result = _run(
        str(BENCHMARKS / "run.py"), "--quick", "--only", "rpc,routing", "--json", str(path)
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "verdict" in result.stdout
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_the_json_says_what_was_run_and_on_what(quick_suite: dict[str, Any]) -> None:
    assert quick_suite["quick"] is True
    assert quick_suite["command"].startswith("benchmarks/run.py")
    assert set(quick_suite["sections"]) == {"rpc", "routing"}
    machine = quick_suite["machine"]
    for key in ("cpus", "kernel", "python", "memory_gib"):
        assert machine[key], key
    assert quick_suite["default_mode"] in quick_suite["child_modes"]


def test_every_section_starts_with_its_baseline_and_every_row_is_a_number(
    quick_suite: dict[str, Any],
) -> None:
    for name, section in quick_suite["sections"].items():
        rows = section["rows"]
        assert rows[0]["key"] == "baseline" and rows[0]["ratio"] == 1.0, name
        assert _number(section["baseline_ms"]) and section["baseline_ms"] > 0, name
        keys = [row["key"] for row in rows]
        assert len(keys) == len(set(keys)), name
        for row in rows:
            assert _number(row["value"]) and row["value"] >= 0, (name, row)
            assert row["ratio"] is None or _number(row["ratio"]), (name, row)
            assert row["unit"] and row["measure"], (name, row)


def test_whole_executions_are_measured_per_child_mode_first_apart(
    quick_suite: dict[str, Any],
) -> None:
    keys = {row["key"] for row in quick_suite["sections"]["rpc"]["rows"]}
    assert quick_suite["child_modes"][:2] == ["fresh", "zygote"]
    for mode in quick_suite["child_modes"]:
        assert {f"whole.{mode}.first", f"whole.{mode}.warm"} <= keys, mode
    assert "call" in keys


def test_targets_are_judged_or_said_unmeasured(quick_suite: dict[str, Any]) -> None:
    verdicts = {v["target"]: v for v in quick_suite["targets"]}
    assert len(verdicts) >= 10
    routed = verdicts["addressed, unmatched, 1000 plugins"]
    assert routed["verdict"] in ("pass", "FAIL") and routed["figure"] != "-"
    assert verdicts["trivial Lua command"]["verdict"] == "not measured"


def test_a_module_still_runs_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    argv = ["--sizes", "10,100", "--runs", "5", "--budget", "0.1", "--json", str(path)]
    result = _run(str(BENCHMARKS / "routing.py"), *argv)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(path.read_text())["results"]


def test_an_unknown_section_is_refused() -> None:
    result = _run(str(BENCHMARKS / "run.py"), "--only", "nonesuch")
    assert result.returncode == 2 and "unknown sections" in result.stderr
