"""Go-style durations (``7m``, ``1h30m``, ``500ms``) as used in Gopherbot's ``TimeOuts``."""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_SECONDS_PER_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 MICRO SIGN, which Go accepts
    "μs": 1e-6,  # U+03BC GREEK SMALL LETTER MU, which Go accepts too
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
# Longest units first so "ms" is not read as "m" followed by a stray "s".
_UNIT = "|".join(sorted(_SECONDS_PER_UNIT, key=len, reverse=True))
_TERM = re.compile(rf"(\d+\.?\d*|\.\d+)({_UNIT})")
_NANOSECOND = 1e-9


def parse_duration(value: str | int) -> float:
    """Return a Go duration string, or an integer count of nanoseconds, as float seconds."""
    # bool is an int subclass; `Warn: yes` is a mistake, not one nanosecond.
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(
            f"expected a duration like '7m' or '1h30m', got {type(value).__name__} {value!r}"
        )
    if isinstance(value, int):
        return value * _NANOSECOND
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    total, position = 0.0, 0
    while position < len(body):
        term = _TERM.match(body, position)
        if term is None:
            raise ValueError(
                f"invalid duration {value!r}: expected numbers with units ns, us, ms, s, m or h"
                " (for example '90s' or '1h30m')"
            )
        total += float(term.group(1)) * _SECONDS_PER_UNIT[term.group(2)]
        position = term.end()
    if not body:
        raise ValueError("invalid duration '': expected something like '7m'")
    return sign * total
