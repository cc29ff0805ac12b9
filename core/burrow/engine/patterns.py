"""Compile the regular expressions a robot's configuration and extensions supply, with RE2.

Gopherbot's patterns are Go `regexp`: RE2 syntax, matched in time linear in the text. Python's
`re` backtracks, so a command such as `^(a+)+$` and a user typing forty `a`s and a `!` would
hold the robot's event loop for minutes. Every configured pattern (commands, message matchers,
reply matchers, job arguments and triggers, transcript expectations) is compiled here, with
Google's RE2 (`google-re2`, imported as `re2`); there is no fallback to `re`, so a pattern RE2
cannot compile is an error with a hint, never a slow match. Patterns the project writes itself
(addressing, durations) stay on `re`: they are fixed, or built with `re.escape`.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Protocol, cast, overload

import re2

__all__ = ["Found", "Pattern", "PatternError", "compile_pattern"]

_SYNTAX = "https://github.com/google/re2/wiki/Syntax"

# RE2 options shared by every pattern: the defaults (UTF-8, leftmost-first like Go, Perl
# classes, `$` only at the very end), but no RE2 log line on stderr for each bad pattern: the
# error is reported through PatternError instead.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class PatternError(re.error, ValueError):
    """A pattern RE2 cannot compile; the message names the pattern, `hint` says what to do.

    It is an `re.error` (an invalid regular expression) and a `ValueError` (bad configuration
    input), so callers written for either keep working.
    """

    def __init__(self, pattern: str, reason: str, hint: str) -> None:
        super().__init__(f"RE2 cannot compile {_shown(pattern)}: {reason}", pattern)
        self.reason = reason
        self.hint = hint


def _shown(pattern: str) -> str:
    """The pattern quoted as written; repr (which doubles every backslash) only if unprintable."""
    return f"'{pattern}'" if pattern.isprintable() else repr(pattern)


class Found(Protocol):
    """A successful match (an `re2` match object): its groups, as with `re.Match`."""

    def group(self, index: int | str = 0, /) -> str | None:
        """The text of one group; None when the group took no part."""
        ...

    @overload
    def groups(self) -> tuple[str | None, ...]: ...

    @overload
    def groups(self, default: str) -> tuple[str, ...]: ...


class Pattern:
    """A compiled RE2 pattern with the `re.Pattern` methods Burrow uses."""

    __slots__ = ("_compiled",)

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled

    def __repr__(self) -> str:
        return f"Pattern({self.pattern!r})"

    @property
    def pattern(self) -> str:
        """The pattern as compiled."""
        return cast(str, self._compiled.pattern)

    @property
    def groups(self) -> int:
        """The number of capture groups."""
        return cast(int, self._compiled.groups)

    def search(self, text: str) -> Found | None:
        """The first match anywhere in `text`, or None."""
        return cast("Found | None", self._compiled.search(_encodable(text)))

    def match(self, text: str) -> Found | None:
        """A match at the start of `text`, or None."""
        return cast("Found | None", self._compiled.match(_encodable(text)))

    def fullmatch(self, text: str) -> Found | None:
        """A match of the whole of `text`, or None."""
        return cast("Found | None", self._compiled.fullmatch(_encodable(text)))


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Pattern:
    """Compile `pattern` with RE2, or raise `PatternError` with the reason and a hint.

    Compiled patterns are cached, so a caller may compile the same configured pattern on
    every message at the cost of a dictionary lookup.
    """
    if _has_any_byte_escape(pattern):
        # RE2 accepts \C (any byte), Go rejects it; in a UTF-8 text it splits characters.
        raise PatternError(
            pattern, r"invalid escape sequence: \C", r"Go's regexp has no \C; use . instead"
        )
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = _reason(error)
        raise PatternError(pattern, reason, _hint(pattern, reason)) from None
    except UnicodeEncodeError:
        raise PatternError(
            pattern,
            "the pattern contains a lone surrogate, which is not text",
            "write the character as \\x{...} with its code point",
        ) from None
    return Pattern(compiled)


def _encodable(text: str) -> str:
    """The text RE2 can take: UTF-8 encodable (a lone surrogate becomes '?')."""
    # RE2 matches UTF-8; a connector can hand over a lone surrogate (a JSON "\ud800"), which
    # does not encode. Such text is rare, so only it pays for the check's second pass.
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _has_any_byte_escape(pattern: str) -> bool:
    r"""Whether the pattern uses `\C` outside a `\Q...\E` literal."""
    index = 0
    while index < len(pattern):
        if pattern.startswith(r"\Q", index):
            end = pattern.find(r"\E", index + 2)
            if end < 0:
                return False
            index = end + 2
        elif pattern[index] == "\\":
            if pattern[index + 1 : index + 2] == "C":
                return True
            index += 2
        else:
            index += 1
    return False


def _reason(error: Exception) -> str:
    """RE2's own words for why a pattern does not compile."""
    reason = error.args[0] if error.args else error
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


# Hints for syntax Python's re (or PCRE) has and RE2 lacks, keyed by what RE2 reports.
_OPERATOR_HINTS = {
    "(?=": "RE2 has no lookahead (?=...); match the text itself and capture the part you need,"
    " or check the rest in the extension",
    "(?!": "RE2 has no negative lookahead (?!...); match what you want instead, or check in the"
    " extension that the unwanted text is absent",
    "(?<=": "RE2 has no lookbehind (?<=...); match the preceding text too and capture the part"
    " you need",
    "(?<!": "RE2 has no negative lookbehind (?<!...); match what you want instead, or check in"
    " the extension",
    "(?>": "RE2 has no atomic groups (?>...) and needs none, since it never backtracks; use a"
    " plain group (?:...)",
    "(?#": "RE2 has no comments (?#...); remove them",
    "(?(": "RE2 has no conditionals (?(...)...); write the alternatives out with |",
    "(?'": "write a named group as (?P<name>...)",
}


def _hint(pattern: str, reason: str) -> str:
    """How to fix a pattern RE2 refused, naming the Python-only syntax when it is that."""
    kind, _, what = reason.partition(": ")
    if kind == "invalid perl operator":
        for operator, hint in _OPERATOR_HINTS.items():
            if what.startswith(operator):
                return hint
        if what.startswith("(?P"):
            if "(?P=" in pattern:
                return (
                    "RE2 has no backreferences (?P=name); capture both parts and compare them"
                    " in the extension"
                )
            return "write a named group as (?P<name>...)"
        if what.startswith("(?"):
            return (
                "RE2's flags are i, m, s and U, e.g. (?i) or (?i:...); there is no verbose (?x)"
                " or ASCII (?a) mode"
            )
    if kind == "invalid escape sequence":
        if re.fullmatch(r"\\[1-9]|\\g", what):
            return (
                f"RE2 has no backreferences ({what}); capture both parts and compare them in the"
                " extension"
            )
        if what == r"\Z":
            return r"RE2 writes the end of the text as \z (or $)"
        if what in (r"\u", r"\U", r"\N"):
            return r"write a character by its code point as \x{263A}"
    if kind == "bad repetition operator" and len(what) >= 2 and what.endswith("+"):
        return (
            f"RE2 has no possessive quantifiers ({what}) and needs none, since it never"
            " backtracks; drop the final '+'"
        )
    if kind == "invalid repetition size":
        return (
            "RE2 allows counts up to 1000, with the minimum no larger than the maximum; use * or"
            " + for more"
        )
    if kind.startswith("pattern too large"):
        return "simplify the pattern: large counts such as {500} multiply its size"
    return (
        "fix the regular expression (Burrow uses RE2 syntax, as Gopherbot's Go regexp does:"
        f" {_SYNTAX})"
    )
