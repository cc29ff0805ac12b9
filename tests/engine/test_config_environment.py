"""Specification of ``${VAR}`` substitution in configuration files."""

from __future__ import annotations

import textwrap

import pytest

from burrow.engine.config.loader import parse_config

FILE = "conf/robot.yaml"


def parse(text: str, **environ: str) -> dict[str, object]:
    """Parse a YAML text with the given environment and return the data, failing on problems."""
    raw = parse_config(textwrap.dedent(text), FILE, environ)
    assert raw.problems == ()
    return raw.data


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        pytest.param("${TOKEN}", {"TOKEN": "s3cret"}, "s3cret", id="whole-value"),
        pytest.param("Bearer ${TOKEN}!", {"TOKEN": "x"}, "Bearer x!", id="inside-text"),
        pytest.param("${A}${B}", {"A": "1", "B": "2"}, "12", id="adjacent"),
        pytest.param("${HOST:-localhost}", {}, "localhost", id="default-when-unset"),
        pytest.param("${HOST:-localhost}", {"HOST": ""}, "localhost", id="default-when-empty"),
        pytest.param("${HOST:-localhost}", {"HOST": "db"}, "db", id="set-beats-default"),
        pytest.param("${HOST:-}", {}, "", id="empty-default"),
        pytest.param("${EMPTY}", {"EMPTY": ""}, "", id="set-but-empty"),
        pytest.param("cost: $$5", {}, "cost: $5", id="double-dollar-is-literal"),
        pytest.param("$${TOKEN}", {"TOKEN": "x"}, "${TOKEN}", id="escaped-reference"),
        pytest.param("^ping$", {}, "^ping$", id="lone-dollar-untouched"),
        pytest.param("$1 and $HOME", {}, "$1 and $HOME", id="no-braces-untouched"),
    ],
)
def test_references_in_string_values_are_substituted(
    value: str, environ: dict[str, str], expected: str
) -> None:
    raw = parse_config(f"Key: '{value}'\n", FILE, environ)

    assert raw.problems == ()
    assert raw.data == {"Key": expected}


def test_substitution_reaches_nested_maps_and_lists() -> None:
    data = parse(
        """
        ProtocolConfig:
          slack:
            Tokens: ["${SLACK_TOKEN}"]
        """,
        SLACK_TOKEN="xoxb",
    )

    assert data == {"ProtocolConfig": {"slack": {"Tokens": ["xoxb"]}}}


def test_substituted_text_cannot_inject_yaml_structure() -> None:
    data = parse("Channel: ${EVIL}\n", EVIL="general\nRequireAdmin: false\nUsers: [mallory]")

    assert data == {"Channel": "general\nRequireAdmin: false\nUsers: [mallory]"}


def test_substituted_text_stays_a_string() -> None:
    data = parse("HearSelf: ${FLAG}\nPort: ${PORT}\n", FLAG="true", PORT="8080")

    assert data == {"HearSelf": "true", "Port": "8080"}


def test_non_string_scalars_are_left_alone() -> None:
    assert parse("Count: 3\nEnabled: true\n") == {"Count": 3, "Enabled": True}


def test_an_anchored_value_is_substituted_once() -> None:
    data = parse("A: &price '$$${AMOUNT}'\nB: *price\n", AMOUNT="5")

    assert data == {"A": "$5", "B": "$5"}


def test_unset_variable_is_reported_with_file_line_key_and_how_to_fix() -> None:
    text = "BotInfo:\n  UserName: floyd\n  Email: ${BOT_EMAIL}\n"

    raw = parse_config(text, FILE, {})

    (problem,) = raw.problems
    assert (problem.file, problem.line, problem.key) == (FILE, 3, "BotInfo.Email")
    assert "BOT_EMAIL is not set" in problem.message
    assert "export BOT_EMAIL" in problem.hint
    assert "${BOT_EMAIL:-" in problem.hint
    assert str(problem).startswith("conf/robot.yaml:3: BotInfo.Email: environment variable")


def test_every_unset_variable_is_reported_at_once() -> None:
    raw = parse_config("A: ${ONE}\nB: [x, '${TWO}']\n", FILE, {})

    assert [(p.key, p.line) for p in raw.problems] == [("A", 1), ("B[1]", 2)]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("${UNCLOSED", id="unclosed"),
        pytest.param("${NOT A NAME}", id="bad-name"),
        pytest.param("${}", id="empty"),
        pytest.param("${VAR-default}", id="dash-without-colon"),
    ],
)
def test_malformed_references_are_reported(value: str) -> None:
    raw = parse_config(f"Key: '{value}'\n", FILE, {"VAR": "x", "UNCLOSED": "x"})

    (problem,) = raw.problems
    assert problem.key == "Key"
    assert "malformed reference" in problem.message


def test_no_environment_means_no_substitution() -> None:
    raw = parse_config("Key: '${TOKEN} $$'\n", FILE, None)

    assert raw.data == {"Key": "${TOKEN} $$"}
