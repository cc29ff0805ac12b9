"""JavaScript extensions through the whole robot, and where failures are reported."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from burrow.bindings.registry import BindingRegistry
from burrow.engine.robot import Robot
from burrow.runner.execution import ExecutionSpec, run_execution
from support import run

ROOT = Path(__file__).resolve().parents[2]
JS_ROBOT = ROOT / "tests" / "robots" / "js"


def test_every_robot_method_group_from_javascript_transcript() -> None:
    env = {k: v for k, v in os.environ.items() if k != "BURROW_BINDINGS"}
    result = subprocess.run(
        [sys.executable, "-m", "burrow", "transcript", str(JS_ROBOT), "tests/transcripts/js.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "21 passed, 0 failed" in result.stdout
    assert "tour.js:92:16: TypeError: Cannot read properties of undefined" in result.stderr


def test_javascript_syntax_error_disables_that_plugin_naming_file_and_line(tmp_path: Path) -> None:
    async def load() -> dict[str, str]:
        robot = Robot(JS_ROBOT, state_dir=tmp_path)
        await robot.load()
        try:
            return robot.catalog.problems()
        finally:
            await robot.close_brain()

    problems = asyncio.run(load())
    assert set(problems) == {"broken"}
    assert "broken.js:4" in problems["broken"]


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
