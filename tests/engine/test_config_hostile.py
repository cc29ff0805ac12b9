"""Specification: hostile YAML in any configuration document is a located problem, never a crash.

The same inputs go to the three places a document comes from: `conf/robot.yaml` (the robot
refuses to start with a one-line error and exit 2), a `conf/plugins/NAME.yaml` file and an
extension's `_configure` answer (only that plugin is disabled, naming the file; the rest start).
"""

from __future__ import annotations

import re
import time
import tracemalloc
from pathlib import Path

import pytest

from burrow.engine.config import ConfigError, LoadedRobot, load_robot, loader
from burrow.engine.config.loader import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_EXPANDED_CHARS,
    MAX_EXPANDED_NODES,
    parse_config,
)
from support import burrow, catalog_problems


def _billion_laughs(levels: int = 8, refs: int = 10) -> str:
    """The classic alias bomb: each level repeats the previous one `refs` times."""
    lines = ["Config:", '  l0: &l0 "lol"']
    for level in range(1, levels + 1):
        items = ", ".join([f"*l{level - 1}"] * refs)
        lines.append(f"  l{level}: &l{level} [{items}]")
    return "\n".join(lines) + "\n"


def _text_bomb() -> str:
    """Few nodes, but a long string repeated: 100 copies of 100,000 characters."""
    return (
        "Config:\n"
        f"  a: &a {'x' * 100_000}\n"
        "  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "  c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    )


def _deep_block_mapping(levels: int) -> str:
    return (
        "Config:\n"
        + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, levels))
        + "  " * levels
        + "x\n"
    )


# Every hostile input, and what the problem about it must say.
HOSTILE = {
    "nul": ("Help: a\x00b\n", "control character U+0000 (NUL)"),
    "esc": ("Help: \x1b[31mred\x1b[0m\n", "control character U+001B (ESC)"),
    "bell": ("Help: ring\x07\n", "control character U+0007 (BEL)"),
    "backspace": ("Help: x\x08\n", "control character U+0008 (BS)"),
    "delete": ("Help: x\x7f\n", "control character U+007F (DEL)"),
    "c1-csi": ("Help: x\x9b\n", "control character U+009B"),
    "deep-flow": ("Config: " + "[" * 5000 + "]" * 5000 + "\n", f"more than {MAX_DEPTH} levels"),
    "deep-flow-open": ("Config: " + "[" * 5000 + "\n", f"more than {MAX_DEPTH} levels"),
    "deep-flow-map": ("Config: " + "{a: " * 3000 + "}" * 3000 + "\n", f"more than {MAX_DEPTH}"),
    "deep-block-seq": ("Config:\n  " + "- " * 5000 + "x\n", f"more than {MAX_DEPTH} levels"),
    "deep-block-map": (_deep_block_mapping(600), f"more than {MAX_DEPTH} levels"),
    "alias-bomb": (_billion_laughs(), f"more than {MAX_EXPANDED_NODES:,} values"),
    "alias-text-bomb": (_text_bomb(), f"more than {MAX_EXPANDED_CHARS:,} characters"),
    "alias-deep": (
        # Shallow as written, but each alias nests the one before: 8 * 20 levels expanded.
        "Config:\n  d0: &d0 "
        + "[" * 20
        + "]" * 20
        + "\n"
        + "".join(
            f"  d{i}: &d{i} " + "[" * 19 + f"*d{i - 1}" + "]" * 19 + "\n" for i in range(1, 8)
        ),
        f"more than {MAX_DEPTH} levels",
    ),
    "recursive-alias": ("Config: &a [x, *a]\n", "the alias *a is inside the node it refers to"),
    "oversized": ("Help: " + "x" * MAX_DOCUMENT_BYTES + "\n", "more than the limit of 1 MiB"),
    "bad-date": ("Config: {Since: !!timestamp 2001-02-30}\n", "day is out of range"),
    "bad-timestamp": ("Config: {At: !!timestamp noon}\n", "cannot read the timestamp value"),
    "bad-float": ("Config: {F: !!float x}\n", "cannot read the float value"),
    "huge-int": ("Config: {N: " + "1" * 5000 + "}\n", "cannot read the int value"),
}
CASES = sorted(HOSTILE)


# --- one document ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_parse_config_reports_hostile_input_as_one_located_problem(case: str) -> None:
    text, expected = HOSTILE[case]

    raw = parse_config(text, "conf/plugins/x.yaml", {})

    assert raw.data == {}
    assert len(raw.problems) == 1, raw.problems
    problem = raw.problems[0]
    assert problem.file == "conf/plugins/x.yaml"
    assert expected in problem.message, str(problem)
    assert problem.hint, "every problem says what to do"
    assert "\n" not in str(problem) and "\x1b" not in str(problem)


def test_a_lone_surrogate_is_refused_like_a_control_character() -> None:
    # Neither a UTF-8 file nor a msgpack string can hold one, but a str handed in directly can.
    problem = parse_config("Help: x\ud800\n", "f.yaml", {}).problems[0]

    assert "U+D800 is not allowed in YAML" in problem.message


def test_control_characters_are_located_at_their_line_and_column() -> None:
    problem = parse_config("Help: ok\nUsers: [al\x1bice]\n", "f.yaml", {}).problems[0]

    assert (problem.line, problem.column) == (2, 11)


def test_control_characters_may_be_written_as_escapes_in_double_quoted_strings() -> None:
    raw = parse_config('Config: {Red: "\\e[31m", Nul: "\\0"}\n', "f.yaml", {})

    assert raw.problems == ()
    assert raw.data == {"Config": {"Red": "\x1b[31m", "Nul": "\x00"}}


def test_documents_at_the_limits_are_accepted() -> None:
    nested = "Config: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    shared = "Config:\n  a: &a [1, 2, 3]\n  b: [*a, *a, *a]\n"

    assert parse_config(nested, "f.yaml", {}).problems == ()
    assert parse_config(shared, "f.yaml", {}).data["Config"]["b"] == [[1, 2, 3]] * 3


def test_an_alias_bomb_is_refused_fast_and_before_it_is_expanded() -> None:
    bomb = _billion_laughs(levels=9)  # 10**9 strings if expanded
    tracemalloc.start()
    try:
        started = time.perf_counter()
        raw = parse_config(bomb, "conf/robot.yaml", {})
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert raw.problems and "values" in raw.problems[0].message
    assert elapsed < 2.0
    assert peak < 5 * 1024 * 1024, f"{peak:,} bytes allocated refusing a bomb"


def test_a_document_just_over_the_node_limit_names_the_limit() -> None:
    items = ", ".join(["1"] * MAX_EXPANDED_NODES)
    problem = parse_config(f"Config: [{items}]\n", "f.yaml", {}).problems[0]

    assert f"more than {MAX_EXPANDED_NODES:,} values" in problem.message
    assert problem.line == 1


# --- robot.yaml --------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")


@pytest.mark.parametrize("case", CASES)
def test_hostile_robot_yaml_is_a_config_error(tmp_path: Path, case: str) -> None:
    text, expected = HOSTILE[case]
    _write(tmp_path, {"conf/robot.yaml": text})

    with pytest.raises(ConfigError) as raised:
        load_robot(tmp_path, {})

    assert str(raised.value).startswith("conf/robot.yaml")
    assert expected in str(raised.value)


def test_an_oversized_robot_yaml_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    with (tmp_path / "conf" / "robot.yaml").open("wb") as handle:
        handle.truncate(8 * 1024**3)  # a sparse 8 GiB file

    with pytest.raises(ConfigError, match=r"conf/robot.yaml: the document is 8,589,934,592 bytes"):
        load_robot(tmp_path, {})


def test_a_folder_in_place_of_robot_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "conf" / "robot.yaml").mkdir(parents=True)

    with pytest.raises(ConfigError, match=r"conf/robot\.yaml: not a regular file"):
        load_robot(tmp_path, {})


@pytest.mark.parametrize("case", ["nul", "esc", "deep-flow", "deep-block-seq", "alias-bomb"])
def test_burrow_run_refuses_hostile_robot_yaml_in_one_line_with_status_2(
    tmp_path: Path, case: str
) -> None:
    text, expected = HOSTILE[case]
    _write(tmp_path, {"conf/robot.yaml": text})

    result = burrow("run", str(tmp_path), "--state", str(tmp_path / "state"), timeout=60)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(r"burrow: the robot cannot start: conf/robot.yaml:\d+:\d+: ", lines[0])
    assert expected in lines[0]


# --- plugin files and _configure answers, through a real start-up --------------------------

_HEALTHY = "config: 'Commands: [{Command: hi, Regex: hi}]'\n"


def _double_quoted(text: str) -> str:
    """Spell `text` as a YAML double-quoted scalar that only uses printable ASCII."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}")
    return '"' + "".join(out) + '"'


def _robot(root: Path, plugins: dict[str, str], conf: dict[str, str]) -> None:
    """A robot whose test-binding plugins answer `_configure` with the given YAML scripts."""
    declared = "".join(f"  {name}: {{Path: ext/{name}.test}}\n" for name in plugins)
    files = {"conf/robot.yaml": f"ExternalPlugins:\n{declared}"}
    files |= {f"ext/{name}.test": script for name, script in plugins.items()}
    files |= {f"conf/plugins/{name}.yaml": text for name, text in conf.items()}
    _write(root, files)


def test_a_hostile_plugin_file_disables_only_that_plugin(tmp_path: Path) -> None:
    robot = tmp_path / "robot"
    plugins = {"healthy": _HEALTHY} | {case: _HEALTHY for case in CASES}
    _robot(robot, plugins, {case: HOSTILE[case][0] for case in CASES})

    started = time.perf_counter()
    problems = catalog_problems(robot, tmp_path / "state")
    elapsed = time.perf_counter() - started

    assert set(problems) == set(CASES)
    for case in CASES:
        assert problems[case].startswith(f"conf/plugins/{case}.yaml"), problems[case]
        assert HOSTILE[case][1] in problems[case], problems[case]
    assert elapsed < 60


def test_a_hostile_configure_answer_disables_only_that_plugin(tmp_path: Path) -> None:
    robot = tmp_path / "robot"
    plugins = {"healthy": _HEALTHY} | {
        case: f"config: {_double_quoted(HOSTILE[case][0])}\n" for case in CASES
    }
    _robot(robot, plugins, {})

    problems = catalog_problems(robot, tmp_path / "state")

    assert set(problems) == set(CASES)
    for case in CASES:
        label = f"ext/{case}.test (default configuration)"
        assert problems[case].startswith(label), problems[case]
        assert HOSTILE[case][1] in problems[case], problems[case]


def test_burrow_run_starts_the_other_plugins_when_one_configure_answer_is_a_bomb(
    tmp_path: Path,
) -> None:
    robot = tmp_path / "robot"
    plugins = {
        "healthy": "config: 'Commands: [{Command: hi, Regex: hi}]'\n"
        "commands: {hi: [[Say, hello there]]}\n",
        "bomb": f"config: {_double_quoted(HOSTILE['alias-bomb'][0])}\n",
        "nul": f"config: {_double_quoted(HOSTILE['nul'][0])}\n",
    }
    _robot(robot, plugins, {})
    (robot / "conf" / "robot.yaml").write_text(
        "Alias: ';'\n" + (robot / "conf" / "robot.yaml").read_text()
    )

    result = burrow(
        "run", str(robot), "--state", str(tmp_path / "state"), stdin=";hi\n", timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "hello there" in result.stdout
    assert "burrow: bomb is disabled: ext/bomb.test (default configuration):" in result.stderr
    assert "burrow: nul is disabled: ext/nul.test (default configuration):1:" in result.stderr


def test_an_unexpected_loader_failure_disables_only_that_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: no known input makes finalizing raise any more; if a future bug does,
    # it must cost one plugin, not the robot's start-up.
    import burrow.engine.catalog as catalog

    real = catalog.finalize_plugin

    def failing(
        loaded: LoadedRobot, name: str, default: str | None = None, model: object = None
    ) -> object:
        if name == "broken":
            raise RecursionError("maximum recursion depth exceeded")
        return real(loaded, name, default, model)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "finalize_plugin", failing)
    robot = tmp_path / "robot"
    _robot(robot, {"healthy": _HEALTHY, "broken": _HEALTHY}, {})

    problems = catalog_problems(robot, tmp_path / "state")

    assert problems == {
        "broken": "its configuration could not be loaded:"
        " RecursionError: maximum recursion depth exceeded"
    }


VALID = {
    "flow": "Commands: [{Command: hi, Regex: 'hi (\\d+)'}]\nHelp: [{Keywords: [hi]}]\n",
    "block": "Commands:\n  - Command: hi\n    Regex: hi\nConfig:\n  a: &x [1, 2.5, true, ~]\n  b: *x\n",
    "merge-and-env": "Base: &b {A: 1}\nConfig:\n  <<: *b\n  Home: ${HOME:-none}\n  Since: 2020-01-01\n",
    "syntax": "Commands: [\n  {Command: hi\nHelp: x\n",
    "duplicate": "Help: a\nHelp: b\n",
}


@pytest.mark.parametrize("case", [*VALID, *HOSTILE])
def test_the_libyaml_and_python_parsers_read_every_document_alike(case: str) -> None:
    # PyYAML's wheels carry LibYAML, which the robot uses to read configuration fast; the
    # Python parser is what an installation without it falls back to. Both give the same
    # values, key lines and problems (a problem's column may differ: LibYAML may stop later).
    text = VALID[case] if case in VALID else HOSTILE[case][0]
    assert loader._Loader is loader._LibYAMLLoader, "PyYAML without LibYAML: see its wheels"
    results = []
    for chosen in (loader._LibYAMLLoader, loader._PythonLoader):
        previous, loader._Loader = loader._Loader, chosen
        try:
            raw = parse_config(text, "f.yaml", {"HOME": "/home/bot"})
        finally:
            loader._Loader = previous
        problems = [
            (p.file, p.line if "nested" not in p.message else 0, p.message, p.hint)
            for p in raw.problems
        ]
        results.append((raw.data, raw.lines, problems))
    if case not in ("syntax",):
        assert results[0] == results[1]
    else:  # the parsers word a syntax error their own way, at the same place
        assert results[0][2][0][1] == results[1][2][0][1]
