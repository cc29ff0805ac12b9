"""benchmarks/matrix.py runs and writes well-formed JSON (its figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_matrix_benchmark_runs_and_counts_every_answer(tmp_path: Path) -> None:
    out = tmp_path / "matrix.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "matrix.py"),
            *("--runs", "3", "--users", "2", "--messages", "3", "--json", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    measures = [row["measure"] for row in data["results"]]
    assert measures[0].startswith("baseline")
    assert "matrix via Synapse: built-in ping" in measures
    assert "test connector: trivial Lua command (echo)" in measures
    for row in data["results"]:
        assert row["samples"] >= 3 and row["p99_ms"] >= row["median_ms"] > 0
    assert data["burst"]["answered"] == 6
    assert (data["burst"]["duplicated"], data["burst"]["lost"]) == (0, 0)
    assert "2 users x 3 messages at once: 6 answered" in result.stdout
