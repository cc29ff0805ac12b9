"""JavaScript extensions through the whole robot, and where failures are reported."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from burrow.bindings.registry import BindingRegistry
from burrow.runner.execution import ExecutionSpec, run_execution
from support import ROOT, burrow, catalog_problems, run

JS_ROBOT = ROOT / "tests" / "robots" / "js"


def test_every_robot_method_group_from_javascript_transcript() -> None:
    result = burrow("transcript", str(JS_ROBOT), "tests/transcripts/js.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "21 passed, 0 failed" in result.stdout
    assert "tour.js:92:16: TypeError: Cannot read properties of undefined" in result.stderr


def test_javascript_syntax_error_is_reported_naming_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="burrow"):
        problems = catalog_problems(JS_ROBOT, tmp_path)
    # As upstream, a failing _configure disables nothing: the plugin keeps its file's config.
    assert problems == {}
    assert "broken.js:4" in caplog.text


def test_failed_require_is_reported_at_the_extensions_calling_line(tmp_path: Path) -> None:
    script = tmp_path / "needs.js"
    script.write_text(
        "// line 1\nfunction load() {\n  return require('no-such-module');\n}\nload();\n"
    )
    binding = BindingRegistry.discover(environ={}).bindings["js"]
    spec = ExecutionSpec(
        binding, "js_run", {"path": str(script), "args": ["go"], "lib_paths": []}, tmp_path
    )
    result = run(run_execution(spec))
    assert (
        result.error is not None and "Cannot find module 'no-such-module'" in result.error.message
    )
    assert (result.error.data["file"], result.error.data["line"]) == (str(script), 3)


def test_require_reads_only_the_extensions_folder_and_lib_paths(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.js").write_text('module.exports = "the secret";')
    ext = tmp_path / "ext"
    (ext / "helpers").mkdir(parents=True)
    (ext / "helpers" / "util.js").write_text('module.exports = "a helper";')
    script = ext / "main.js"
    script.write_text(
        "const out = [];\n"
        f"for (const p of ['{outside / 'secret.js'}', '../outside/secret', './helpers/util']) {{\n"
        "  try { out.push(require(p)); } catch (e) { out.push(String(e)); }\n"
        "}\n"
        "if (out.some((o) => o === 'the secret') || out[2] !== 'a helper') throw new Error(out.join(' | '));\n"
        "0;\n"
    )
    binding = BindingRegistry.discover(environ={}).bindings["js"]
    spec = ExecutionSpec(
        binding, "js_run", {"path": str(script), "args": ["go"], "lib_paths": []}, tmp_path
    )
    result = run(run_execution(spec))
    assert result.error is None, result.error
    assert result.ret_val == 0
