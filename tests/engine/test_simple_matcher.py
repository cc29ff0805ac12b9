"""SimpleMatcher (engine/simple_matcher.py): upstream's rules, case by case.

The cases carry the intent of upstream's bot/simple_matcher_test.go
(https://github.com/lnxjedi/gopherbot/blob/main/bot/simple_matcher_test.go): what the compiled
regex accepts, what the token matcher decides and passes as arguments, and the diagnostics for
a command whose words match but one value does not. Every exact match must also be accepted by
the regex (the robot finds candidates with it) and every diagnostic by the skeleton.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burrow.engine.matching import compile_command
from burrow.engine.simple_matcher import SimpleMatch, SimpleMatcherError, compile_simple

LEVELS = "set loglevel {to} (level:trace|debug|info|warn|error)"
BAD_LEVEL = 'Invalid value: "fine" for: "level"; valid values: trace, debug, info, warn, error.'
CONSOLE = "get console [-options:-spot|-branch:<token>] [<environment:token>]"
SPOT = "spot (type:bigrails|rails|ember|devops|config) up [<branch:token>]"
RAILS = "(type:bigrails|rails|ember|devops|config) up [<branch:token>]"


def regex_accepts(spec: str, text: str) -> tuple[str, ...] | None:
    """The regex's captures for `text`, as routing's candidate pass sees it, or None."""
    found = compile_command(compile_simple(spec).regex).fullmatch(text)
    return None if found is None else tuple(found.groups(default=""))


def match(spec: str, text: str) -> SimpleMatch | None:
    """What the token matcher decides, checked against the regex and the skeleton."""
    compiled = compile_simple(spec)
    result = compiled.match(text)
    if result is not None and result.exact:
        assert compile_command(compiled.regex).fullmatch(text) is not None, (spec, text)
    if result is not None:
        assert compile_command(compiled.skeleton).fullmatch(text) is not None, (spec, text)
    return result


def args(spec: str, text: str) -> tuple[str, ...] | None:
    result = match(spec, text)
    return result.args if result is not None and result.exact else None


def diagnostic(spec: str, text: str) -> str | None:
    result = match(spec, text)
    return result.diagnostic if result is not None and not result.exact else None


# -- the regex --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["hello world", "HELLO WORLD", " hello   world ", "hello-world", "hello---world"]
)
def test_words_match_any_case_and_spaces_or_dashes(text: str) -> None:
    assert regex_accepts("hello world", text) == ()
    assert args("hello world", text) == ()


@pytest.mark.parametrize("text", ["hello", "world hello", "hello_world"])
def test_words_need_all_of_them_in_order(text: str) -> None:
    assert regex_accepts("hello world", text) is None and args("hello world", text) is None


@pytest.mark.parametrize(
    "text",
    [
        "tell me joke",
        "tell me another joke",
        "tell me knock-knock joke",
        "tell me another knock knock joke",
        "tell-me-another-knock-knock-joke",
    ],
)
def test_optional_words(text: str) -> None:
    assert regex_accepts("tell me {another} {knock-knock} joke", text) == ()
    if text != "tell me knock-knock joke":  # one phrase, two separators: see below
        assert args("tell me {another} {knock-knock} joke", text) == ()


def test_the_token_matcher_wants_one_separator_per_phrase_where_the_regex_does_not() -> None:
    # Upstream's rule: the words of a phrase share one separator, `-` written in the matcher
    # included; its regex is looser, which is why the token matcher decides.
    assert regex_accepts("set log-level <level:ident>", "set log-level debug") == ("debug",)
    assert match("set log-level <level:ident>", "set log-level debug") is None
    assert args("set log-level <level:ident>", "set-log-level debug") == ("debug",)
    assert args("set log-level <level:ident>", "set log level debug") == ("debug",)


def test_optional_words_do_not_make_the_rest_optional() -> None:
    assert args("tell me {another} {knock-knock} joke", "tell me another") is None


def test_typed_captures_through_the_regex() -> None:
    spec = "block /ticket|story/ <story:slug> [<reason:rest>]"
    assert regex_accepts(spec, "block story train-123 because prod is broken") == (
        "train-123",
        "because prod is broken",
    )
    assert regex_accepts(spec, "BLOCK ticket train-123") == ("train-123", "")
    assert args(spec, "block story train-123 because prod is broken") == (
        "train-123",
        "because prod is broken",
    )


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("token", "foo/bar", "foo bar"),
        ("ident", "slack-prod", "9slack"),
        ("slug", "train-123*", "train/123"),
        ("number", "-42", "4.2"),
        ("decimal", "-4.2", "nope"),
        ("bool", "on", "maybe"),
        ("dnsname", "api.example.com", "bad_host"),
        ("email", "ops@example.com", "nope"),
        ("url", "https://example.com/runbook", "example.com/runbook"),
        ("base64", "QUJDRA==", "nope!"),
        ("duration", "5m30s", "minutes"),
        ("cidr", "10.0.0.0/24", "10.0.0.0"),
        ("ip", "10.0.0.5", "not-an-ip"),
    ],
)
def test_value_types(kind: str, good: str, bad: str) -> None:
    assert regex_accepts(f"show <{kind}>", f"show {good}") == (good,)
    assert args(f"show <{kind}>", f"show {good}") == (good,)
    assert regex_accepts(f"show <{kind}>", f"show {bad}") is None
    assert args(f"show <{kind}>", f"show {bad}") is None


@pytest.mark.parametrize(
    ("spec", "text", "captured"),
    [
        (LEVELS.replace("loglevel", "log level"), "set log level to debug", ("debug",)),
        (LEVELS.replace("loglevel", "log level"), "set log level warn", ("warn",)),
        ("set target (:foo:bar|baz|frotz)", "set target foo:bar", ("foo:bar",)),
        ("set target (:foo:bar|baz|frotz)", "set target frotz", ("frotz",)),
        (
            "/remove|delete/ <user:token> from {the} <group:rest> group",
            "remove a from ops group",
            ("a", "ops"),
        ),
        (
            "/remove|delete/ <user:token> from {the} <group:rest> group",
            "delete alice from the ops group",
            ("alice", "ops"),
        ),
        ("/pick up|take|grab/ <item:rest>", "pick-up wrench", ("wrench",)),
        ("/pick up|take|grab/ <item:rest>", "grab wrench", ("wrench",)),
        (
            "set log-level <level:ident> [:disabled]",
            "set-log-level debug disabled",
            ("debug", "disabled"),
        ),
        ("set log-level <level:ident> [:disabled]", "set log level debug", ("debug", "")),
        ("enable {the} feature <name:ident>", "enable feature foo", ("foo",)),
        ("[:verbose] show {me} <name:ident>", "verbose show me foo", ("verbose", "foo")),
        ("[:verbose] show {me} <name:ident>", "show foo", ("", "foo")),
        ("show [<name:ident>]", "show debug", ("debug",)),
        ("show [<name:ident>]", "show", ("",)),
    ],
)
def test_captures_are_the_capturing_terms_in_order(
    spec: str, text: str, captured: tuple[str, ...]
) -> None:
    assert args(spec, text) == captured


@pytest.mark.parametrize(
    ("spec", "text", "captured"),
    [
        (LEVELS.replace("loglevel", "log level"), "set-log-level-to debug", ("debug",)),
        ("show /log|logs/ [page <page:number>]", "show logs page 2", ("2",)),
        ("show /log|logs/ [page <page:number>]", "show log", ("",)),
        ("set log lines {to} <lines:number>", "set log lines to 3", ("3",)),
        (
            "add <user:token> to {the} [<group:rest>] group",
            "add alice to the Helpdesk group",
            ("alice", "Helpdesk"),
        ),
        (
            "/remove|delete/ <user:token> from {the} [<group:rest>] group",
            "delete alice from the Helpdesk group",
            ("alice", "Helpdesk"),
        ),
        ("/switch|change/ branch <branch:token>", "change branch feature/test", ("feature/test",)),
        ("/git info|branch info|show branch/", "show branch", ()),
        ("{new|start|create} thread [<topic:rest>]", "new thread db migration", ("db migration",)),
        ("ps [<mode:token>]", "ps -v", ("-v",)),
    ],
)
def test_upstreams_shipped_matchers_pass_these_arguments(
    spec: str, text: str, captured: tuple[str, ...]
) -> None:
    assert args(spec, text) == captured


# -- separators and value boundaries ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "captured"),
    [
        ("rails up", ("rails", "")),
        ("rails-up", ("rails", "")),
        ("rails up dev", ("rails", "dev")),
        ("rails-up dev", ("rails", "dev")),
        ("rails up -spot", ("rails", "-spot")),
        ("rails-up -branch:dev", ("rails", "-branch:dev")),
    ],
)
def test_a_typed_value_follows_whitespace(text: str, captured: tuple[str, ...]) -> None:
    assert args(RAILS, text) == captured


@pytest.mark.parametrize("text", ["rails-up-dev", "rails-up-spot", "rails-up-branch:dev"])
def test_a_typed_value_joined_by_a_dash_is_not_one(text: str) -> None:
    assert match(RAILS, text) is None


@pytest.mark.parametrize(
    ("text", "captured"),
    [
        ("spot devops up", ("devops", "")),
        ("spot-devops-up", ("devops", "")),
        ("spot devops up dev", ("devops", "dev")),
        ("spot-devops-up dev", ("devops", "dev")),
    ],
)
def test_a_phrase_with_one_separator_style(text: str, captured: tuple[str, ...]) -> None:
    assert args(SPOT, text) == captured


@pytest.mark.parametrize(
    "text",
    [
        "spot devops-up",
        "spot-devops up",
        "spot devops-up dev",
        "spot-devops up dev",
        "spot devops up-dev",
    ],
)
def test_a_phrase_mixing_separators_does_not_match(text: str) -> None:
    assert match(SPOT, text) is None
    assert regex_accepts(SPOT, text) is not None or text.endswith("up-dev")  # the regex is looser


def test_a_hyphenated_phrase_tells_words_from_arguments() -> None:
    dev = SPOT.replace(" [<branch:token>]", " dev")
    assert args(SPOT, "spot devops up dev") == ("devops", "dev")
    assert args(dev, "spot devops up dev") == ("devops",)
    assert args(SPOT, "spot-devops-up dev") == ("devops", "dev")
    assert args(dev, "spot-devops-up dev") is None
    assert args(SPOT, "spot-devops-up-dev") is None
    assert args(dev, "spot-devops-up-dev") == ("devops",)
    assert args(RAILS.replace(" [<branch:token>]", " dev"), "rails-up-dev") == ("rails",)


def test_a_final_choice_may_be_the_last_dash_word_or_a_value() -> None:
    assert args(LEVELS, "set-loglevel to debug") == ("debug",)
    assert args(LEVELS, "set-loglevel debug") == ("debug",)
    assert args(LEVELS, "set-loglevel-debug") == ("debug",)
    assert args(LEVELS, "set loglevel-debug") == ("debug",)
    assert match(LEVELS, "set log-level to debug") is None


def test_typed_values_are_whole_whitespace_fields() -> None:
    assert args("show <service:ident>", "show slack-prod") == ("slack-prod",)
    assert args("deploy <service:ident> status", "deploy api status") == ("api",)
    assert match("deploy <service:ident> status", "deploy-api status") is None
    assert match("deploy <service:ident> status", "deploy api-status") is None
    assert match("show <service:ident>", "show develop develop") is None
    spec = "sidetrack {ticket|story} <story:slug> <siding:ident>"
    assert args(spec, "sidetrack-story develop develop") == ("develop", "develop")
    assert args(spec, "sidetrack-story slack-prod slack-prod") == ("slack-prod", "slack-prod")
    assert args("echo <words:rest>", "echo slack-prod   slack-prod") == ("slack-prod slack-prod",)


@pytest.mark.parametrize(
    ("spec", "text", "captured"),
    [
        (SPOT, "spot-devops-up qa", ("devops", "qa")),
        ("get (kind:console|tconsole) [<environment:ident>]", "get-console qa", ("console", "qa")),
        ("(mode:ping|prod) status", "ping-status", ("ping",)),
    ],
)
def test_a_choice_inside_a_hyphenated_phrase(spec: str, text: str, captured: tuple) -> None:
    assert args(spec, text) == captured


def test_an_optional_value_needs_whitespace_too() -> None:
    assert args("ps [<mode:token>]", "ps -v") == ("-v",)
    assert match("ps [<mode:token>]", "ps-v") is None


# -- options blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "captured"),
    [
        ("get console qa", ("qa",)),
        ("get-console -spot qa", ("-spot", "qa")),
        ("get console -branch:feature/foo qa", ("-branch:feature/foo", "qa")),
        ("get-console -branch:feature/foo -spot qa", ("-branch:feature/foo", "-spot", "qa")),
        ("get console -spot -branch:feature/foo qa", ("-spot", "-branch:feature/foo", "qa")),
        ("get console -spot -spot qa", ("-spot", "-spot", "qa")),
        ("get console -spot", ("-spot", "")),
        ("get console", ("",)),
    ],
)
def test_options_are_passed_one_argument_each_in_the_order_typed(
    text: str, captured: tuple[str, ...]
) -> None:
    assert args(CONSOLE, text) == captured
    assert compile_simple(CONSOLE).variable_args


@pytest.mark.parametrize("text", ["get-console-spot qa", "get console qa -spot"])
def test_options_go_where_the_matcher_puts_them(text: str) -> None:
    assert match(CONSOLE, text) is None


def test_option_diagnostics() -> None:
    assert diagnostic(CONSOLE, "get console -spot-branch:feature/foo qa") == (
        'Invalid option: "-spot-branch:feature/foo" for: "options"; '
        "valid options: -spot, -branch:<token>."
    )
    counted = CONSOLE.replace("-branch:<token>", "-count:<number>")
    assert diagnostic(counted, "get console -bad qa") == (
        'Invalid option: "-bad" for: "options"; valid options: -spot, -count:<number>.'
    )
    assert diagnostic(counted, "get console -count:nope qa") == (
        'Invalid value: "nope" for: "count"; expected: an integer.'
    )


# -- diagnostics ------------------------------------------------------------------------------


def test_a_value_not_offered_by_a_choice_is_diagnosed() -> None:
    assert diagnostic(LEVELS, "set loglevel to fine") == BAD_LEVEL
    assert diagnostic(LEVELS, "set-loglevel fine") == BAD_LEVEL
    assert diagnostic(LEVELS, "set-loglevel-fine") == BAD_LEVEL


def test_a_value_of_the_wrong_type_is_diagnosed() -> None:
    assert diagnostic("deploy siding <siding:ident>", "deploy siding 9round") == (
        'Invalid value: "9round" for: "siding"; expected: an identifier starting with a letter, '
        "followed by letters, numbers, '_' or '-'."
    )
    page = "show /log|logs/ [page <page:number>]"
    assert diagnostic(page, "show logs page two") == (
        'Invalid value: "two" for: "page"; expected: an integer.'
    )
    assert match(page, "show logs two") is None


@pytest.mark.parametrize(
    "text", ["set logging to fine", "set loglevel to fine now", "loglevel to fine"]
)
def test_other_words_are_no_match_not_a_diagnostic(text: str) -> None:
    assert match(LEVELS, text) is None


# -- what does not compile --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("show <mystery>", "unknown capture type 'mystery'"),
        ("get|take <thing:rest>", "'|' outside a group"),
        ("set log level {to} (trace|debug|info)", "needs a label"),
        ("set feature <name:ident> [disabled]", "needs a label"),
        ("show {<name:ident>}", "cannot hold a typed capture"),
        ("show /<name:ident>|all/", "cannot hold a typed capture"),
        ("show (prefix <name:ident>)", "cannot hold a typed capture"),
        ("get console [-options]", "[-label:-a|-b:<type>]"),
        ("get console [-options:]", "at least one option"),
        ("get console [-options:spot]", "must start with '-'"),
        ("get console [-options:-branch:<token>-suffix]", "one typed capture"),
        ("show (level:debug", "missing ')'"),
        ("", "cannot be empty"),
    ],
)
def test_bad_matchers_are_refused_with_the_reason(spec: str, said: str) -> None:
    with pytest.raises(SimpleMatcherError) as refused:
        compile_simple(spec)
    assert said in str(refused.value)


# -- the regex and the skeleton never miss what the token matcher takes -------------------------

SPECS = [
    LEVELS,
    CONSOLE,
    SPOT,
    RAILS,
    "/remove|delete/ <user:token> from {the} [<group:rest>] group",
]
WORDS = [
    "set",
    "loglevel",
    "to",
    "fine",
    "debug",
    "get",
    "console",
    "-spot",
    "-branch:x",
    "-bad",
    "qa",
    "spot",
    "devops",
    "up",
    "dev",
    "rails",
    "remove",
    "alice",
    "from",
    "the",
    "ops",
    "group",
    "-",
    "9x",
]


@given(
    spec=st.sampled_from(SPECS),
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=7),
    joins=st.lists(st.sampled_from([" ", "-", "  "]), min_size=6, max_size=6),
)
@settings(max_examples=400, deadline=None)
def test_candidates_found_by_regex_include_every_token_match(
    spec: str, words: list[str], joins: list[str]
) -> None:
    text = words[0] + "".join(j + w for j, w in zip(joins, words[1:], strict=False))
    match(spec, text)  # asserts regex ⊇ exact and skeleton ⊇ diagnosed
