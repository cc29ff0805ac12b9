"""Every configured pattern is RE2: linear-time matching and Gopherbot's (Go regexp) syntax.

Python's re backtracks: `^(a+)+$` against forty `a`s and a `!` takes longer than anyone waits,
and it ran on the robot's event loop. These tests hold every place a configured pattern is
matched (commands, message matchers, reply matchers, job triggers, transcript expectations) to
a time bound, check that Python-only syntax is refused with a hint that names the file, key and
pattern, and that Go syntax Python lacks works.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from burrow.connectors.testing import SentMessage, TestConnector
from burrow.constants import RetVal
from burrow.engine.config import ConfigProblem, finalize_job, finalize_plugin, load_robot
from burrow.engine.matching import (
    CommandMatcher,
    MessageMatcher,
    PluginRoutes,
    compile_command,
    match_ambient,
    match_commands,
)
from burrow.engine.patterns import PatternError, compile_pattern
from burrow.engine.prompts import judge_reply, reply_pattern
from burrow.engine.robot import Robot
from burrow.transcript import Case, Expected, Input, TranscriptError, compare, load_suite
from support import catalog_problems, run

# A correctness bound, not a benchmark: RE2 takes microseconds, re takes forever (2**40 paths).
BOUND = 1.0
EVIL = "^(a+)+$"
SIZES = pytest.mark.parametrize("size", [40, 5000], ids=["40-chars", "5000-chars"])


T = TypeVar("T")


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    """What `call` returns, and how many seconds it took."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


# --- catastrophic backtracking is gone everywhere a configured pattern is matched -----------


@SIZES
def test_an_evil_command_regex_is_matched_in_linear_time(size: int) -> None:
    routes = PluginRoutes("evil", commands=(CommandMatcher("evil", EVIL),))

    result, elapsed = _timed(lambda: match_commands("a" * size + "!", [routes]))

    assert result.matches == ()
    assert elapsed < BOUND


@SIZES
def test_an_evil_message_matcher_is_searched_in_linear_time(size: int) -> None:
    routes = PluginRoutes("evil", message_matchers=(MessageMatcher("lurk", "(a+)+$"),))

    found, elapsed = _timed(lambda: match_ambient("a" * size + "!", [routes]))

    assert found == ()
    assert elapsed < BOUND


@SIZES
def test_an_evil_reply_matcher_is_judged_in_linear_time(size: int) -> None:
    pattern = reply_pattern("word", [("word", r"(\w+\s?)+\.")])
    assert pattern is not None

    verdict, elapsed = _timed(lambda: judge_reply("a" * size + "!", pattern))

    assert verdict == ("", RetVal.ReplyNotMatched)
    assert elapsed < BOUND


@SIZES
def test_an_evil_trigger_pattern_is_searched_in_linear_time(size: int) -> None:
    # The job-trigger search in Robot._triggered_jobs uses compile_pattern(...).search.
    found, elapsed = _timed(lambda: compile_pattern("(x+x+)+y").search("x" * size))

    assert found is None
    assert elapsed < BOUND


@SIZES
def test_an_evil_transcript_pattern_is_checked_in_linear_time(size: int) -> None:
    case = Case(
        input=Input(user="bob", text="hi"),
        replies=[Expected(text_pattern=EVIL, user="bob")],
    )
    sent = SentMessage(
        user="bob",
        channel="",
        threaded=False,
        thread_id="",
        text="a" * size + "!",
        format=0,
        hidden=False,
    )

    problems, elapsed = _timed(lambda: compare(case, [sent]))

    assert len(problems) == 1 and "text~/^(a+)+$/" in problems[0]
    assert elapsed < BOUND


# --- Python-only syntax is refused, with a hint --------------------------------------------


@pytest.mark.parametrize(
    ("regex", "hint"),
    [
        pytest.param("deploy (?=now)", "RE2 has no lookahead", id="lookahead"),
        pytest.param("deploy (?!prod)", "RE2 has no negative lookahead", id="negative-lookahead"),
        pytest.param("(?<=x)y", "RE2 has no lookbehind", id="lookbehind"),
        pytest.param("(?<!x)y", "RE2 has no negative lookbehind", id="negative-lookbehind"),
        pytest.param(r"(\w+) \1", r"RE2 has no backreferences (\1)", id="backreference"),
        pytest.param(
            r"(?P<w>\w+) (?P=w)", "RE2 has no backreferences (?P=name)", id="named-backref"
        ),
        pytest.param("a++", "RE2 has no possessive quantifiers (++)", id="possessive"),
        pytest.param("(?>a+)b", "RE2 has no atomic groups", id="atomic-group"),
        pytest.param(r"end\Z", r"RE2 writes the end of the text as \z", id="python-end-of-text"),
        pytest.param(r"caf\u00e9", r"\x{263A}", id="python-unicode-escape"),
        pytest.param("(?x) a b", "there is no verbose (?x)", id="verbose-flag"),
        pytest.param("a{1001}", "counts up to 1000", id="count-over-1000"),
        pytest.param(r"a\Cb", r"Go's regexp has no \C", id="any-byte"),
    ],
)
def test_python_only_syntax_is_refused_with_a_hint(regex: str, hint: str) -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern(regex)

    assert str(raised.value).startswith(f"RE2 cannot compile '{regex}': ")
    assert hint in raised.value.hint
    # Callers written for re.error or ValueError keep catching it.
    assert isinstance(raised.value, re.error) and isinstance(raised.value, ValueError)


def test_an_unprintable_pattern_is_shown_escaped() -> None:
    with pytest.raises(PatternError) as raised:
        compile_pattern("a\n(?=b)")

    assert str(raised.value).startswith("RE2 cannot compile 'a\\n(?=b)': ")


def test_a_bad_command_regex_fails_at_construction_naming_the_regex() -> None:
    with pytest.raises(PatternError, match=r"RE2 cannot compile 'ping \(\?=pong\)'"):
        CommandMatcher("ping", "ping (?=pong)")


def test_an_unterminated_literal_is_refused_for_a_command() -> None:
    # \Q without \E would swallow the whole-command wrapper's closing `\s*)$`.
    with pytest.raises(PatternError) as raised:
        compile_command(r"\Qa.b")

    assert raised.value.hint == r"end \Q... with \E"
    assert compile_command(r"\Qa.b\E").fullmatch("a.b") is not None


def test_an_escaped_backslash_before_c_is_not_the_any_byte_escape() -> None:
    assert compile_pattern(r"\\C").search(r"x\Cx") is not None
    assert compile_pattern(r"\Qa\Cb\E").search(r"a\Cb") is not None


# --- Go syntax that Python's re lacks works --------------------------------------------------


@pytest.mark.parametrize(
    ("regex", "text", "captures"),
    [
        pytest.param(r"weather in (\pL+)", "weather in Zürich", ("Zürich",), id="unicode-class"),
        pytest.param(r"say (\p{Greek}+)", "say αβγ", ("αβγ",), id="named-unicode-script"),
        pytest.param(r"(?U)(a+)(a*)", "aaa", ("a", "aa"), id="ungreedy-flag"),
        pytest.param(r"deploy (?<app>\w+)", "deploy api", ("api",), id="go-named-group"),
        pytest.param(r"x(?i)y(z)", "xYZ", ("Z",), id="flag-mid-pattern"),
        pytest.param(r"\Q1+1=2\E", "1+1=2", (), id="quoted-literal"),
        pytest.param(
            r"([[:alpha:]]+) ([[:digit:]]+)", "room 101", ("room", "101"), id="posix-class"
        ),
        pytest.param(r"end\z", "end", (), id="end-of-text"),
    ],
)
def test_go_syntax_that_python_lacks_matches_as_a_command(
    regex: str, text: str, captures: tuple[str, ...]
) -> None:
    routes = PluginRoutes("go", commands=(CommandMatcher("go", regex),))

    result = match_commands(text, [routes])

    assert result.match is not None
    assert result.match.captures == captures


def test_a_flag_mid_pattern_applies_only_after_it() -> None:
    assert compile_command(r"x(?i)y").fullmatch("Xy") is None


def test_perl_classes_are_ascii_as_in_go() -> None:
    # Python's \d would take Arabic-Indic digits; Go's (and RE2's) \d is [0-9].
    assert compile_command(r"\d+").fullmatch("١٢٣") is None
    assert compile_command(r"\d+").fullmatch("123") is not None


def test_text_with_a_lone_surrogate_is_matched_not_raised() -> None:
    # A connector can decode a JSON "\ud800" into text RE2's UTF-8 input cannot hold.
    routes = PluginRoutes("echo", commands=(CommandMatcher("echo", r"echo (.+)"),))

    result = match_commands("echo a\ud800b", [routes])

    assert result.match is not None and result.match.captures == ("a?b",)


# --- configuration: the pattern, the file and the key are named -----------------------------


def _robot(root: Path, robot_yaml: str = "", **files: str) -> Path:
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "robot.yaml").write_text(robot_yaml)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _problems(result: object) -> list[ConfigProblem]:
    assert isinstance(result, list), f"expected problems, got {result!r}"
    return result


def test_a_lookahead_in_a_plugin_file_is_a_located_config_problem(tmp_path: Path) -> None:
    robot = _robot(
        tmp_path,
        **{
            "conf/plugins/deploy.yaml": "Commands:\n- Command: deploy\n  Regex: 'deploy (?!prod)(\\w+)'\n"
        },
    )

    [problem] = _problems(finalize_plugin(load_robot(robot, {}), "deploy"))

    assert (problem.file, problem.line, problem.key) == (
        "conf/plugins/deploy.yaml",
        3,
        "Commands[0].Regex",
    )
    assert problem.message == (
        r"RE2 cannot compile 'deploy (?!prod)(\w+)': invalid perl operator: (?!"
    )
    assert problem.hint.startswith("RE2 has no negative lookahead")


def test_a_backreference_in_a_job_trigger_is_a_located_config_problem(tmp_path: Path) -> None:
    robot = _robot(
        tmp_path,
        "DefaultJobChannel: jobs\n",
        **{"conf/jobs/echo.yaml": "Triggers:\n- Regex: '(\\w+) \\1'\n"},
    )

    [problem] = _problems(finalize_job(load_robot(robot, {}), "echo"))

    assert (problem.file, problem.line, problem.key) == (
        "conf/jobs/echo.yaml",
        2,
        "Triggers[0].Regex",
    )
    assert r"RE2 cannot compile '(\w+) \1'" in problem.message
    assert "RE2 has no backreferences" in problem.hint


def test_an_uncompilable_pattern_disables_only_its_plugin(tmp_path: Path) -> None:
    robot = _robot(
        tmp_path,
        "ExternalPlugins:\n  peek: {Path: ext/peek.test}\n  fine: {Path: ext/fine.test}\n",
        **{
            "ext/peek.test": """\
                config: |
                  Commands: [{Command: peek, Regex: 'ping(?=pong)'}]
                commands: {}
                """,
            "ext/fine.test": """\
                config: |
                  Commands: [{Command: fine, Regex: 'fine'}]
                commands: {}
                """,
        },
    )

    problems = catalog_problems(robot, tmp_path / "state")

    assert list(problems) == ["peek"]
    assert problems["peek"].startswith(
        "ext/peek.test (default configuration):1: Commands[0].Regex:"
        " RE2 cannot compile 'ping(?=pong)': invalid perl operator: (?= — RE2 has no lookahead"
    )


def test_a_transcript_pattern_re2_refuses_is_a_transcript_error(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "cases:\n- input: {user: bob, text: hi}\n  replies: [{text_pattern: 'PONG(?!!)'}]\n"
    )

    with pytest.raises(TranscriptError) as raised:
        load_suite(suite)

    message = str(raised.value)
    assert message.startswith(f"{suite}: cases.0.replies.0.text_pattern: ")
    assert "RE2 cannot compile 'PONG(?!!)'" in message
    assert "RE2 has no negative lookahead" in message


# --- end to end: an evil pattern and evil text do not freeze the robot ----------------------

ROBOT_YAML = """\
Alias: ";"
UserRoster:
  - {UserName: alice, UserID: U001}
  - {UserName: bob, UserID: U002}
DefaultJobChannel: jobs
ExternalPlugins:
  evil: {Path: ext/evil.test}
ExternalJobs:
  evjob: {Path: ext/evjob.test}
"""

EVIL_PLUGIN = """\
config: |
  Commands: [{Command: evil, Regex: '^(a+)+$'}]
  MessageMatchers: [{Command: lurk, Regex: '(a+)+$'}]
commands:
  evil: [[Say, evil matched]]
  lurk: [[Say, lurk matched]]
"""

EVIL_JOB = """\
config: |
  Triggers: [{Regex: '(a+)+$'}]
commands:
  '*': [[Say, job triggered]]
"""


def test_evil_text_against_evil_patterns_leaves_the_robot_answering(tmp_path: Path) -> None:
    root = _robot(
        tmp_path / "robot",
        ROBOT_YAML,
        **{"ext/evil.test": EVIL_PLUGIN, "ext/evjob.test": EVIL_JOB},
    )
    evil = "a" * 40 + "!"

    async def main() -> tuple[list[SentMessage], float]:
        robot = Robot(root, state_dir=tmp_path / "state")
        await robot.load()
        assert robot.catalog.problems() == {}
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            await connector.inject("bob", ";" + evil, "general")  # command and trigger
            await connector.inject("bob", evil, "general")  # ambient matcher and trigger
            start = time.perf_counter()
            await connector.inject("alice", ";ping", "general")
            heard: list[SentMessage] = []
            while not any(m.text == "PONG" for m in heard):
                sent = await connector.next_sent(10.0)
                assert sent is not None, f"no PONG; heard {heard}"
                heard.append(sent)
            return heard, time.perf_counter() - start
        finally:
            await robot.stop(grace=2.0)

    heard, elapsed = run(main())

    # Nothing matched the evil text; bob is told so, and alice's ping is answered.
    assert [m.text for m in heard if m.user == "alice"] == ["PONG"]
    assert not any("matched" in m.text or "triggered" in m.text for m in heard)
    assert any(m.text.startswith("I couldn't match") for m in heard)
    assert elapsed < 5.0
