"""Syntax and runtime errors of JavaScript extensions: structured, located, logged."""

from __future__ import annotations

from pathlib import Path

from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode


def _located(run, file: Path, line: int, column: int) -> dict:
    """Assert the shape every script error shares and return its data."""
    assert run.ret_val == TaskRetVal.MechanismFail
    error = run.result.error
    assert error.code == ErrorCode.EXTENSION_ERROR
    data = error.data
    assert data["language"] == "javascript"
    assert (data["file"], data["line"], data["column"]) == (str(file), line, column)
    assert any(
        level == 5 and f"{file}:{line}:{column}: {error.message}" in text
        for level, text in run.logs
    ), run.logs
    return data


def test_syntax_error_reports_file_line_and_column(run_js, tmp_path: Path) -> None:
    run = run_js("// a comment\nconst answer = ;\n")
    data = _located(run, tmp_path / "ext.js", 2, 16)
    assert run.result.error.message == "SyntaxError: Unexpected token ';'"
    assert data["stack"].startswith("SyntaxError")
    assert run.result.result == {"ret_val": 2, "error": run.result.error.to_map()}


def test_runtime_error_reports_where_it_was_thrown_with_the_stack(run_js, tmp_path: Path) -> None:
    run = run_js(
        """
        function handler(args) {
          const reply = null;
          return reply.text;
        }
        handler(process.argv);
        """
    )
    script = tmp_path / "ext.js"
    data = _located(run, script, 3, 16)
    assert run.result.error.message == "TypeError: Cannot read properties of null (reading 'text')"
    assert f"at handler ({script}:3:16)" in data["stack"]
    assert f"at {script}:5:1" in data["stack"]


def test_error_thrown_in_a_required_module_names_the_module(run_js, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "broken.js").write_text(
        "exports.run = () => {\n  throw new Error('module failed');\n};\n"
    )
    run = run_js('require("broken").run();', lib_paths=[str(lib)])
    data = _located(run, lib / "broken.js", 2, 3)  # the throw statement
    assert run.result.error.message == "Error: module failed"
    assert f"{tmp_path / 'ext.js'}:1:" in data["stack"]


def test_wrong_argument_to_a_robot_method_points_at_the_calling_line(
    run_js, tmp_path: Path
) -> None:
    run = run_js(
        """
        const { Robot } = require("gopherbot_v1")();
        const bot = new Robot();
        bot.Say({ text: "not a string" });
        """
    )
    _located(run, tmp_path / "ext.js", 3, 5)
    assert run.result.error.message == "TypeError: Say: message must be a string, got object"


def test_thrown_value_that_is_not_an_error_is_still_reported(run_js, tmp_path: Path) -> None:
    run = run_js('// first line\nthrow "plain string";\n')
    _located(run, tmp_path / "ext.js", 2, 1)
    assert run.result.error.message == "plain string"


def test_missing_extension_file_is_an_extension_error(run_js, tmp_path: Path) -> None:
    run = run_js("1;", params={"path": str(tmp_path / "gone.js")})
    assert run.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert "cannot read the extension" in run.result.error.message


def test_error_during_configure_is_an_error_answer_with_the_location(
    run_js, tmp_path: Path
) -> None:
    run = run_js("// first line\nundefinedFunction();\n", method="js_get_config")
    assert run.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert run.result.error.data["line"] == 2
    assert run.result.error.message == "ReferenceError: undefinedFunction is not defined"
