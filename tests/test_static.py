"""Lint and strict typing are part of the suite, so CI holds every distribution to them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "core", "plugins", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = _run("ruff", "format", "--check", "core", "plugins", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("package", "config"),
    [
        ("core/burrow", "pyproject.toml"),
        # Each binding's own configuration: it knows which of its libraries ship no types.
        ("plugins/lua_binding/burrow_lua", "plugins/lua_binding/pyproject.toml"),
        ("plugins/js_binding/burrow_js", "pyproject.toml"),
        ("plugins/matrix_connector/burrow_matrix", "plugins/matrix_connector/pyproject.toml"),
    ],
    ids=["core", "lua", "js", "matrix"],
)
def test_mypy_strict_passes(package: str, config: str) -> None:
    result = _run("mypy", "--strict", "--config-file", config, package)
    assert result.returncode == 0, result.stdout + result.stderr
