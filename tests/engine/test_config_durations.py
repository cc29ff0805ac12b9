"""Specification of Go-style durations in ``TimeOuts``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow.engine.config import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("7m", 420.0, id="minutes"),
        pytest.param("2h", 7200.0, id="hours"),
        pytest.param("1h30m", 5400.0, id="compound"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1.5s", 1.5, id="fractional"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("250us", 0.00025, id="microseconds"),
        pytest.param("250µs", 0.00025, id="micro-sign"),
        pytest.param("100ns", 1e-7, id="nanoseconds"),
        pytest.param("0", 0.0, id="bare-zero"),
        pytest.param("-1m", -60.0, id="negative"),
    ],
)
def test_go_duration_strings_become_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_an_integer_is_nanoseconds() -> None:
    assert parse_duration(1_500_000_000) == pytest.approx(1.5)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("7", id="no-unit"),
        pytest.param("7 m", id="space-inside"),
        pytest.param("7d", id="days-are-not-go"),
        pytest.param("m", id="unit-without-number"),
        pytest.param("1h30", id="trailing-number"),
    ],
)
def test_malformed_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_boolean_is_not_a_duration() -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(True)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_compound_durations_add_up(hours: int, minutes: int, seconds: int) -> None:
    text = f"{hours}h{minutes}m{seconds}s"

    assert parse_duration(text) == pytest.approx(hours * 3600 + minutes * 60 + seconds)
