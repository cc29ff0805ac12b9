"""Specification of command, ambient and catch-all matching (docs/configuration.md, "Matchers")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow.engine.addressing import AddressMode
from burrow.engine.matching import (
    MULTIPLE_MATCHES_MESSAGE,
    CommandMatch,
    CommandMatcher,
    MessageMatcher,
    PluginRoutes,
    compile_command,
    match_ambient,
    match_commands,
    select_catch_all,
)


def plugin(
    name: str, *commands: tuple[str, str], ambient: tuple[tuple[str, str], ...] = ()
) -> PluginRoutes:
    """Build a plugin from (command, regex) pairs."""
    return PluginRoutes(
        name,
        commands=tuple(CommandMatcher(c, r) for c, r in commands),
        message_matchers=tuple(MessageMatcher(c, r) for c, r in ambient),
    )


def one(text: str, *plugins: PluginRoutes) -> tuple[str, str, tuple[str, ...]]:
    """Match text and return (plugin, command, captures) of the single match."""
    result = match_commands(text, plugins)
    assert result.match is not None, f"{text!r} matched {result.matches}"
    return result.match.plugin, result.match.command, result.match.captures


PING = plugin("ping", ("ping", "ping"))


# --- compile_command -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regex", "text", "matches"),
    [
        ("ping", "ping", True),
        ("ping", "  ping  ", True),
        ("ping", "\nping\n", True),
        ("ping", "ping pong", False),
        ("ping", "say ping", False),
        ("ping", "pingx", False),
        ("ping", "ping\n", True),
        ("a.b", "a\nb", True),
    ],
    ids=[
        "exact",
        "surrounding-spaces",
        "surrounding-newlines",
        "extra-word-after",
        "extra-word-before",
        "longer-word",
        "trailing-newline",
        "dot-matches-newline",
    ],
)
def test_command_regex_is_anchored_and_whitespace_tolerant(
    regex: str, text: str, matches: bool
) -> None:
    assert (compile_command(regex).fullmatch(text) is not None) is matches


def test_command_pattern_is_wrapped_as_documented() -> None:
    assert compile_command("ping").pattern == r"^(?s:\s*ping\s*)$"


@pytest.mark.parametrize(
    "regex", ["(?i:ping)", "(?i)ping"], ids=["scoped-flag", "go-style-leading-flag"]
)
@pytest.mark.parametrize("text", ["ping", "PING", "Ping"])
def test_case_insensitive_flag_forms_work(regex: str, text: str) -> None:
    assert compile_command(regex).fullmatch(text) is not None


def test_leading_flag_keeps_the_anchoring() -> None:
    assert compile_command("(?i)ping").fullmatch("PING pong") is None


def test_invalid_regex_fails_at_construction() -> None:
    with pytest.raises(re.error):
        CommandMatcher("broken", "ping (")


# --- match_commands --------------------------------------------------------------------------


def test_no_plugin_matching_is_no_match() -> None:
    result = match_commands("pong", [PING])
    assert result == CommandMatch(())
    assert result.match is None
    assert not result.ambiguous


def test_single_plugin_match_names_plugin_and_command() -> None:
    assert one("ping", PING) == ("ping", "ping", ())


def test_captures_are_all_groups_in_order() -> None:
    weather = plugin("weather", ("forecast", r"weather (?:in|for) (\w+) on (\w+)"))
    assert one("weather in Paris on Monday", weather)[2] == ("Paris", "Monday")


def test_non_participating_group_captures_empty_string() -> None:
    deploy = plugin("deploy", ("deploy", r"deploy (\w+)(?: to (\w+))?(?: now)?"))
    assert one("deploy api", deploy)[2] == ("api", "")


def test_named_groups_are_positional_captures() -> None:
    deploy = plugin("deploy", ("deploy", r"deploy (?P<app>\w+) (?P<env>\w+)"))
    assert one("deploy api prod", deploy)[2] == ("api", "prod")


def test_whitespace_is_collapsed_when_the_raw_text_does_not_match() -> None:
    echo = plugin("echo", ("echo", r"say (\w+) to (\w+)"))
    assert one("say   hi \t to\n\nbob", echo)[2] == ("hi", "bob")


def test_raw_text_is_preferred_so_captures_keep_their_spacing() -> None:
    echo = plugin("echo", ("echo", r"echo (.*)"))
    assert one("echo a   b", echo)[2] == ("a   b",)


@pytest.mark.parametrize(
    "text", ["ping.", "ping. ", "  ping  .  "], ids=["tight", "trailing-space", "padded"]
)
def test_one_trailing_dot_is_ignored_by_commands(text: str) -> None:
    assert one(text, PING)[1] == "ping"


def test_only_one_trailing_dot_is_ignored() -> None:
    assert match_commands("ping..", [PING]).match is None


def test_trailing_dot_is_kept_when_the_regex_accepts_it() -> None:
    echo = plugin("echo", ("echo", r"echo (.*)"))
    assert one("echo done.", echo)[2] == ("done.",)


def test_several_plugins_matching_is_ambiguous_and_nothing_runs() -> None:
    other = plugin("other", ("pinger", r"p\w+"))
    result = match_commands("ping", [PING, other])
    assert result.ambiguous
    assert result.match is None
    assert [m.plugin for m in result.matches] == ["ping", "other"]


def test_multiple_match_message_is_upstreams() -> None:
    assert MULTIPLE_MATCHES_MESSAGE == (
        "Yikes! Your command matched multiple plugins, so I'm not doing ANYTHING"
    )


def test_first_matching_command_of_one_plugin_wins() -> None:
    admin = plugin("admin", ("specific", "reload config"), ("general", r"reload (\w+)"))
    assert one("reload config", admin)[1] == "specific"


def test_two_commands_of_one_plugin_matching_is_not_ambiguous() -> None:
    admin = plugin("admin", ("a", "reload"), ("b", "rel.*"))
    assert not match_commands("reload", [admin]).ambiguous


def test_command_regex_does_not_search_inside_text() -> None:
    assert match_commands("please ping now", [PING]).match is None


def test_match_keeps_the_matcher_with_its_contexts() -> None:
    matcher = CommandMatcher("show", r"show (\w+)", contexts=("item",))
    result = match_commands("show widget", [PluginRoutes("inv", commands=(matcher,))])
    assert result.match is not None
    assert result.match.matcher is matcher


@given(
    words=st.lists(st.sampled_from(["say", "hi", "to", "bob"]), min_size=1, max_size=6),
    gaps=st.lists(st.sampled_from([" ", "  ", "\t", " \n "]), min_size=6, max_size=6),
)
def test_whitespace_runs_never_change_whether_a_command_matches(
    words: list[str], gaps: list[str]
) -> None:
    echo = plugin("echo", ("echo", r"say (\w+) to (\w+)"))
    single = " ".join(words)
    spaced = "".join(w + g for w, g in zip(words, gaps, strict=False)).rstrip()
    assert (match_commands(single, [echo]).match is None) == (
        match_commands(spaced, [echo]).match is None
    )


# --- match_ambient ---------------------------------------------------------------------------


def test_ambient_matchers_are_not_anchored() -> None:
    coffee = plugin("coffee", ambient=(("coffee", r"(?i:coffee)"),))
    (found,) = match_ambient("who wants COFFEE today?", [coffee])
    assert (found.plugin, found.command) == ("coffee", "coffee")


def test_ambient_captures_include_non_participating_groups() -> None:
    ticket = plugin("ticket", ambient=(("ticket", r"([A-Z]+)-(\d+)(?:#(\w+))?"),))
    (found,) = match_ambient("see OPS-42 please", [ticket])
    assert found.captures == ("OPS", "42", "")


def test_ambient_matching_tries_collapsed_whitespace() -> None:
    greet = plugin("greet", ambient=(("hello", r"good morning"),))
    assert len(match_ambient("good     morning all", [greet])) == 1


def test_every_matching_plugin_gets_an_ambient_match() -> None:
    a = plugin("a", ambient=(("x", "deploy"),))
    b = plugin("b", ambient=(("y", "deploy"),))
    assert [m.plugin for m in match_ambient("deploy it", [a, b])] == ["a", "b"]


def test_a_plugin_matches_ambient_text_at_most_once() -> None:
    noisy = plugin("noisy", ambient=(("first", "deploy"), ("second", "it")))
    found = match_ambient("deploy it", [noisy])
    assert [m.command for m in found] == ["first"]


def test_ambient_does_not_ignore_trailing_dot() -> None:
    strict = plugin("strict", ambient=(("end", r"done$"),))
    assert match_ambient("all done.", [strict]) == ()


def test_ambient_and_command_matchers_are_separate() -> None:
    both = plugin("both", ("cmd", "ping"), ambient=(("amb", "pong"),))
    assert match_commands("pong", [both]).match is None
    assert match_ambient("ping", [both]) == ()


# --- select_catch_all ------------------------------------------------------------------------


def catch_all(name: str, *modes: AddressMode) -> PluginRoutes:
    """Build a catch-all plugin limited to the given modes (none = every mode)."""
    return PluginRoutes(name, catch_all=True, catch_all_modes=frozenset(modes))


def test_single_catch_all_runs() -> None:
    assert select_catch_all([PING, catch_all("help")], AddressMode.NAME) == "help"


def test_no_catch_all_means_none_runs() -> None:
    assert select_catch_all([PING], AddressMode.NAME) is None


def test_several_catch_alls_are_ambiguous_and_none_runs() -> None:
    assert select_catch_all([catch_all("a"), catch_all("b")], AddressMode.NAME) is None


def test_mode_specific_catch_all_wins_over_fallback() -> None:
    plugins = [catch_all("fallback"), catch_all("ai", AddressMode.NAME, AddressMode.DIRECT)]
    assert select_catch_all(plugins, AddressMode.DIRECT) == "ai"


def test_catch_all_is_skipped_outside_its_modes() -> None:
    plugins = [catch_all("fallback"), catch_all("ai", AddressMode.NAME)]
    assert select_catch_all(plugins, AddressMode.ALIAS) == "fallback"


def test_ambiguous_specific_catch_alls_do_not_fall_back() -> None:
    plugins = [
        catch_all("fallback"),
        catch_all("a", AddressMode.HIDDEN),
        catch_all("b", AddressMode.HIDDEN),
    ]
    assert select_catch_all(plugins, AddressMode.HIDDEN) is None
