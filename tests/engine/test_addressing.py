"""Specification of how a message is recognised as a command for the robot (upstream bot/dispatch.go)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow.engine.addressing import Addressing, AddressMode, address

ALIAS = ";"
NAME = "burrow"
MENTION = "U042"


def channel_message(text: str, *, mention: str | None = MENTION) -> Addressing:
    """Address a plain message heard in a channel."""
    return address(
        text, alias=ALIAS, bot_name=NAME, bot_mention=mention, direct=False, hidden=False
    )


def direct_message(text: str) -> Addressing:
    """Address a message sent to the robot by DM."""
    return address(text, alias=ALIAS, bot_name=NAME, bot_mention=MENTION, direct=True, hidden=False)


def hidden_message(text: str) -> Addressing:
    """Address a message the connector marks hidden (e.g. ephemeral) in a channel."""
    return address(text, alias=ALIAS, bot_name=NAME, bot_mention=MENTION, direct=False, hidden=True)


@pytest.mark.parametrize(
    "text",
    [";ping", "; ping", ";  ping  ", ";ping\n"],
    ids=["tight", "space", "padded", "trailing-newline"],
)
def test_alias_prefix_is_a_command(text: str) -> None:
    assert channel_message(text) == Addressing(AddressMode.ALIAS, "ping")


@pytest.mark.parametrize(
    "text",
    [
        "burrow: ping",
        "burrow, ping",
        "burrow ping",
        "@burrow ping",
        "@burrow: ping",
        "burrow:ping",
        "burrow,ping",
        "burrow\tping",
    ],
    ids=["colon", "comma", "space", "at-space", "at-colon", "colon-tight", "comma-tight", "tab"],
)
def test_name_prefix_is_a_command(text: str) -> None:
    assert channel_message(text) == Addressing(AddressMode.NAME, "ping")


@pytest.mark.parametrize(
    "text",
    ["BURROW: ping", "Burrow ping", "@BuRrOw, ping", "ping, BURROW"],
    ids=["upper-prefix", "title-prefix", "mixed-at", "upper-suffix"],
)
def test_name_is_matched_case_insensitively(text: str) -> None:
    assert channel_message(text) == Addressing(AddressMode.NAME, "ping")


def test_command_text_keeps_its_own_case() -> None:
    assert channel_message("burrow: Deploy PROD").text == "Deploy PROD"


def test_multiline_command_keeps_its_body() -> None:
    assert channel_message("burrow: note\nline two").text == "note\nline two"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("ping, burrow", "ping"),
        ("ping, @burrow", "ping"),
        ("ping,   burrow", "ping"),
        ("ping, burrow.", "ping."),
        ("what time is it, burrow?", "what time is it?"),
        ("deploy now, burrow!", "deploy now!"),
    ],
    ids=["plain", "at-name", "extra-space", "period", "question", "exclamation"],
)
def test_suffix_name_form_is_a_command(text: str, command: str) -> None:
    # The closing punctuation stays on the command, as upstream does; matching ignores a '.'.
    assert channel_message(text) == Addressing(AddressMode.NAME, command)


@pytest.mark.parametrize(
    "text",
    ["ping burrow", "ping,burrow", "one, two, burrow", "ask @joe, burrow", "ping, burrow??"],
    ids=["no-comma", "no-space", "comma-in-body", "at-in-body", "double-punctuation"],
)
def test_malformed_suffix_is_not_a_command(text: str) -> None:
    assert not channel_message(text).addressed


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("burrow", AddressMode.NAME),
        ("@burrow", AddressMode.NAME),
        ("BURROW", AddressMode.NAME),
        ("burrow,", AddressMode.NAME),
        ("burrow:", AddressMode.NAME),
        (";", AddressMode.ALIAS),
        ("  ;  ", AddressMode.ALIAS),
        ("<@U042>", AddressMode.NAME),
    ],
    ids=[
        "name",
        "at-name",
        "upper-name",
        "name-comma",
        "name-colon",
        "alias",
        "padded-alias",
        "mention",
    ],
)
def test_bare_address_is_a_command_with_empty_text(text: str, mode: AddressMode) -> None:
    assert channel_message(text) == Addressing(mode, "")


@pytest.mark.parametrize(
    ("text", "mode"),
    [("burrow?", AddressMode.NAME), ("@Burrow?", AddressMode.NAME), (";?", AddressMode.ALIAS)],
    ids=["name", "at-name", "alias"],
)
def test_bare_address_with_question_mark_is_flagged(text: str, mode: AddressMode) -> None:
    assert channel_message(text) == Addressing(mode, "", bare_question=True)


@pytest.mark.parametrize(
    "text",
    ["<@U042> ping", "<@U042>: ping", "<@U042>ping", "@U042 ping", "@U042, ping", "@u042 ping"],
    ids=["bracketed", "bracketed-colon", "bracketed-tight", "at-id", "at-id-comma", "at-id-lower"],
)
def test_mention_prefix_is_a_command(text: str) -> None:
    assert channel_message(text) == Addressing(AddressMode.NAME, "ping")


def test_mention_form_needs_a_mention_from_the_connector() -> None:
    assert not channel_message("<@U042> ping", mention=None).addressed


@pytest.mark.parametrize(
    "text",
    [
        "hello everyone",
        "burrowing is fun",
        "the burrow is deep",
        "ping burrow",
        "",
        "   ",
        "@burrowbot ping",
        "<@U0420> ping",
    ],
    ids=[
        "chatter",
        "name-as-word-prefix",
        "name-mid-sentence",
        "name-last-no-comma",
        "empty",
        "blank",
        "longer-at-name",
        "other-mention",
    ],
)
def test_unaddressed_channel_text_is_not_a_command(text: str) -> None:
    result = channel_message(text)
    assert result == Addressing(None, text)
    assert not result.addressed


def test_unaddressed_text_is_returned_verbatim_for_ambient_matching() -> None:
    assert channel_message("  spaced out  ").text == "  spaced out  "


def test_every_direct_message_is_a_command_with_the_full_text() -> None:
    assert direct_message("  deploy prod  ") == Addressing(AddressMode.DIRECT, "deploy prod")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("burrow, ping", Addressing(AddressMode.NAME, "ping")),
        (";ping", Addressing(AddressMode.ALIAS, "ping")),
        ("burrow", Addressing(AddressMode.NAME, "")),
    ],
    ids=["name", "alias", "bare-name"],
)
def test_addressed_direct_message_keeps_its_mode_and_loses_the_address(
    text: str, expected: Addressing
) -> None:
    assert direct_message(text) == expected


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("burrow ping", "ping"),
        (";ping", "ping"),
        ("ping, burrow", "ping"),
        ("<@U042> ping", "ping"),
    ],
    ids=["name", "alias", "suffix", "mention"],
)
def test_addressed_hidden_message_is_a_hidden_command(text: str, command: str) -> None:
    assert hidden_message(text) == Addressing(AddressMode.HIDDEN, command)


def test_unaddressed_hidden_message_is_not_a_command() -> None:
    assert hidden_message("ping") == Addressing(None, "ping")


def test_unaddressed_hidden_direct_message_is_not_a_command() -> None:
    # Hidden input must be explicitly addressed even in a DM.
    result = address("ping", alias=ALIAS, bot_name=NAME, bot_mention=None, direct=True, hidden=True)
    assert not result.addressed


@pytest.mark.parametrize(
    ("hidden", "mode"),
    [(False, AddressMode.ALIAS), (True, AddressMode.HIDDEN)],
    ids=["visible", "hidden"],
)
def test_bot_message_is_a_command_as_is(hidden: bool, mode: AddressMode) -> None:
    result = address(
        " ping ",
        alias=ALIAS,
        bot_name=NAME,
        bot_mention=None,
        direct=False,
        hidden=hidden,
        bot_message=True,
    )
    assert result == Addressing(mode, "ping")


def test_at_alias_does_not_shadow_the_at_name_form() -> None:
    result = address(
        "@burrow ping", alias="@", bot_name=NAME, bot_mention=None, direct=False, hidden=False
    )
    assert result == Addressing(AddressMode.NAME, "ping")


@pytest.mark.parametrize(
    "alias",
    ["*", "?", "[", "$", "^", "+", "\\"],
    ids=["star", "qmark", "bracket", "dollar", "caret", "plus", "backslash"],
)
def test_regex_special_alias_is_literal(alias: str) -> None:
    result = address(
        f"{alias}ping", alias=alias, bot_name=NAME, bot_mention=None, direct=False, hidden=False
    )
    assert result == Addressing(AddressMode.ALIAS, "ping")


def test_robot_without_name_or_alias_only_hears_direct_messages() -> None:
    heard = address(
        "burrow ping", alias="", bot_name="", bot_mention=None, direct=False, hidden=False
    )
    assert not heard.addressed


def test_name_with_regex_characters_is_literal() -> None:
    result = address(
        "r2.d2: ping", alias="", bot_name="r2.d2", bot_mention=None, direct=False, hidden=False
    )
    assert result == Addressing(AddressMode.NAME, "ping")
    assert not address(
        "r2xd2: ping", alias="", bot_name="r2.d2", bot_mention=None, direct=False, hidden=False
    ).addressed


_COMMANDS = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=40).filter(
    lambda s: s.strip() != "" and s.strip() not in {"?"}
)


@given(command=_COMMANDS)
def test_alias_prefix_always_yields_the_stripped_remainder(command: str) -> None:
    assert channel_message(ALIAS + command) == Addressing(AddressMode.ALIAS, command.strip())


@given(command=_COMMANDS)
def test_name_colon_prefix_always_yields_the_stripped_remainder(command: str) -> None:
    assert channel_message(f"{NAME}: {command}") == Addressing(AddressMode.NAME, command.strip())
