"""Match command text against plugins' `Commands` and `MessageMatchers`.

Callers pass only the plugins available to the message (see `policy.plugin_available`); these
functions look at text and regexes, nothing else. Regexes are RE2, as Gopherbot's are Go
`regexp` (see `burrow.engine.patterns` and docs/configuration.md), so matching takes time
linear in the text whatever the pattern. `SimpleMatcher` is not supported here: the
configuration layer must turn it into a `Regex` (or reject it) before building a matcher.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from burrow.engine.addressing import AddressMode
from burrow.engine.patterns import Pattern, PatternError, compile_pattern

__all__ = [
    "MULTIPLE_MATCHES_MESSAGE",
    "CommandMatch",
    "CommandMatcher",
    "Match",
    "MessageMatcher",
    "PluginRoutes",
    "compile_command",
    "match_ambient",
    "match_commands",
    "select_catch_all",
]

MULTIPLE_MATCHES_MESSAGE = "Yikes! Your command matched multiple plugins, so I'm not doing ANYTHING"

# Fixed and linear (no nested repetition), so Python's re is safe for it.
_WHITESPACE = re.compile(r"\s+")


def compile_command(regex: str) -> Pattern:
    """Compile a command (or reply/argument) regex anchored as `^(?s:\\s*<regex>\\s*)$`.

    Use `fullmatch` on the result. A flag group such as `(?i)` anywhere in the regex applies to
    the rest of it, as in Go. Raises `PatternError` (an `re.error`) naming `regex` when RE2
    cannot compile it, on its own or wrapped.
    """
    compile_pattern(regex)  # on its own first: a trailing `\\` would escape the wrapper
    try:
        return compile_pattern(rf"^(?s:\s*{regex}\s*)$")
    except PatternError as error:
        # Typically an unterminated \Q, which turns the wrapper's end into literal text.
        hint = r"end \Q... with \E" if r"\Q" in regex else error.hint
        raise PatternError(
            regex, f"{error.reason} when wrapped to match a whole command", hint
        ) from None


@dataclass(frozen=True)
class CommandMatcher:
    """One entry of a plugin's `Commands`: its command name and anchored regex."""

    command: str
    regex: str
    contexts: tuple[str, ...] = ()
    pattern: Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once at construction, so a bad regex fails at configuration load.
        object.__setattr__(self, "pattern", compile_command(self.regex))


@dataclass(frozen=True)
class MessageMatcher:
    """One entry of a plugin's ambient `MessageMatchers`: searched for, never anchored."""

    command: str
    regex: str
    contexts: tuple[str, ...] = ()
    pattern: Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", compile_pattern(self.regex))


@dataclass(frozen=True)
class PluginRoutes:
    """What routing needs to know about one plugin; its security settings live in policy."""

    name: str
    commands: tuple[CommandMatcher, ...] = ()
    message_matchers: tuple[MessageMatcher, ...] = ()
    catch_all: bool = False
    catch_all_modes: frozenset[AddressMode] = frozenset()


@dataclass(frozen=True)
class Match:
    """A plugin's matcher that matched, with its captures (`""` for groups that took no part)."""

    plugin: str
    matcher: CommandMatcher | MessageMatcher
    captures: tuple[str, ...]

    @property
    def command(self) -> str:
        """The matched matcher's command name."""
        return self.matcher.command


@dataclass(frozen=True)
class CommandMatch:
    """The outcome of matching a command: every plugin that matched, in plugin order."""

    matches: tuple[Match, ...] = ()

    @property
    def match(self) -> Match | None:
        """The single match to run, or None when no plugin or several plugins matched."""
        return self.matches[0] if len(self.matches) == 1 else None

    @property
    def ambiguous(self) -> bool:
        """Whether several plugins matched, so nothing runs (reply `MULTIPLE_MATCHES_MESSAGE`)."""
        return len(self.matches) > 1


def _variants(text: str, *, strip_dot: bool) -> list[str]:
    """The texts to try in order: raw, whitespace-collapsed, then each without one final '.'."""
    variants = [text, _WHITESPACE.sub(" ", text)]
    if strip_dot:
        for variant in variants[:2]:
            trimmed = variant.rstrip()
            if trimmed.endswith("."):
                variants.append(trimmed[:-1])
    return list(dict.fromkeys(variants))


def _first_match(
    plugin: str,
    matchers: Iterable[CommandMatcher | MessageMatcher],
    variants: list[str],
    *,
    anchored: bool,
) -> Match | None:
    """The plugin's first matcher (in configured order) that matches any variant of the text."""
    for matcher in matchers:
        for variant in variants:
            pattern = matcher.pattern
            found = pattern.fullmatch(variant) if anchored else pattern.search(variant)
            if found is not None:
                return Match(plugin, matcher, tuple(found.groups(default="")))
    return None


def match_commands(text: str, plugins: Iterable[PluginRoutes]) -> CommandMatch:
    """Match addressed command text against every plugin's `Commands`.

    Within one plugin the first matching command (in configured order) wins; the plugin is
    counted once. More than one plugin matching makes the result ambiguous, and then nothing runs.
    """
    variants = _variants(text, strip_dot=True)
    found = (_first_match(p.name, p.commands, variants, anchored=True) for p in plugins)
    return CommandMatch(tuple(m for m in found if m is not None))


def match_ambient(text: str, plugins: Iterable[PluginRoutes]) -> tuple[Match, ...]:
    """Search text with every plugin's ambient `MessageMatchers`; a plugin matches at most once."""
    variants = _variants(text, strip_dot=False)
    found = (_first_match(p.name, p.message_matchers, variants, anchored=False) for p in plugins)
    return tuple(m for m in found if m is not None)


def select_catch_all(plugins: Iterable[PluginRoutes], mode: AddressMode) -> str | None:
    """Name the one catch-all plugin to run for unmatched addressed input, or None.

    Plugins whose `CatchAllModes` include `mode` are specific and take precedence over
    catch-alls without modes (fallbacks); plugins whose modes exclude `mode` never run. Two
    candidates at the deciding level are ambiguous and none runs (reference §5.7 step 8).
    """
    specific: list[str] = []
    fallback: list[str] = []
    for plugin in plugins:
        if not plugin.catch_all:
            continue
        if not plugin.catch_all_modes:
            fallback.append(plugin.name)
        elif mode in plugin.catch_all_modes:
            specific.append(plugin.name)
    deciding = specific or fallback
    return deciding[0] if len(deciding) == 1 else None
