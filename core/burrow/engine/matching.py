"""Match command text against plugins' `Commands` and `MessageMatchers`.

Callers pass only the plugins available to the message (see `policy.plugin_available`); these
functions look at text and regexes, nothing else. Regexes are RE2, as Gopherbot's are Go
`regexp` (see `burrow.engine.patterns` and docs/configuration.md), so matching takes time
linear in the text whatever the pattern. A command written as a `SimpleMatcher`
(`burrow.engine.simple_matcher`) is found by its compiled regex and decided, with its
arguments, by its token matcher, as upstream.

`match_commands` and `match_ambient` try each plugin in turn. `MatcherIndex` gives the same
answers for a whole catalog at once, at a cost that hardly grows with the number of plugins:
it is what the robot routes with (`burrow.engine.routing`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2

from burrow.engine.addressing import AddressMode
from burrow.engine.patterns import Pattern, PatternError, _encodable, compile_pattern
from burrow.engine.simple_matcher import SimpleMatcher

__all__ = [
    "MULTIPLE_MATCHES_MESSAGE",
    "CommandMatch",
    "CommandMatcher",
    "DiagnosticIndex",
    "Match",
    "MatcherIndex",
    "MessageMatcher",
    "PatternSet",
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
    """One entry of a plugin's `Commands`: its command name and anchored regex.

    For a `SimpleMatcher`, `simple` is the compiled matcher and `regex` its regex: the regex
    finds the command, the token matcher decides and gives the arguments.
    """

    command: str
    regex: str
    contexts: tuple[str, ...] = ()
    simple: SimpleMatcher | None = field(default=None, compare=False)
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
            simple = matcher.simple if isinstance(matcher, CommandMatcher) else None
            if simple is not None:
                decided = simple.match(variant)
                if decided is not None and decided.exact:
                    return Match(plugin, matcher, decided.args)
                continue
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
    candidates at the deciding level are ambiguous and none runs, as upstream (bot/dispatch.go).
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


# -- many patterns at once ---------------------------------------------------------------------

# Patterns per RE2::Set. A Set runs all its patterns in one pass of a DFA; a bigger Set is faster
# to match but its states are bigger and its program may not fit RE2's memory budget.
SET_CHUNK = 512
_SENTINEL = r"(?s:.*)"  # matches every text, so a Set that reports nothing has failed


def _set_options(max_mem: int | None) -> re2.Options:
    """The options of `burrow.engine.patterns` (RE2's defaults, quiet), for a Set."""
    options = re2.Options()
    options.log_errors = False
    if max_mem is not None:
        options.max_mem = max_mem
    return options


class _Chunk:
    """One RE2::Set over some of the patterns, with the sentinel last."""

    __slots__ = ("_sentinel", "_set", "members")

    def __init__(self, compiled: Any, members: list[int], sentinel: int) -> None:
        self._set = compiled
        self.members = members  # the Set's index -> the PatternSet's index
        self._sentinel = sentinel

    def matching(self, encoded: str) -> list[int] | None:
        """The indices of the patterns that match, or None when RE2 gave up (out of memory)."""
        found: list[int] = self._set.Match(encoded) or []
        if self._sentinel not in found:
            return None
        members = self.members
        return [members[i] for i in found if i != self._sentinel]


class PatternSet:
    """Which of many compiled patterns match a text, in one RE2::Set pass per chunk.

    The answer is exactly that of trying each pattern in turn (`fullmatch` when `anchored`, else
    `search`), at the cost of one DFA pass over the text for every `SET_CHUNK` patterns instead
    of one match per pattern. RE2 guarantees the cost stays linear in the text. Patterns a Set
    cannot hold (its program would exceed RE2's memory budget: such chunks are split until they
    fit) are tried one by one, and so is a chunk whose DFA runs out of memory on a text, which
    the sentinel pattern (matching every text) reveals.
    """

    def __init__(
        self, patterns: Sequence[Pattern], *, anchored: bool, max_mem: int | None = None
    ) -> None:
        self._patterns = tuple(patterns)
        self._anchored = anchored
        self._max_mem = max_mem
        self._chunks: list[_Chunk] = []
        self._alone: list[int] = []  # patterns no Set could hold: tried one by one
        for start in range(0, len(self._patterns), SET_CHUNK):
            self._add(list(range(start, min(start + SET_CHUNK, len(self._patterns)))))

    def _add(self, members: list[int]) -> None:
        options = _set_options(self._max_mem)
        compiled = re2.Set.FullMatchSet(options) if self._anchored else re2.Set.SearchSet(options)
        try:
            for index in members:
                compiled.Add(self._patterns[index].pattern)
            sentinel = compiled.Add(_SENTINEL)
            compiled.Compile()
        except re2.error:
            if len(members) == 1:
                self._alone.append(members[0])
                return
            half = len(members) // 2
            self._add(members[:half])
            self._add(members[half:])
            return
        self._chunks.append(_Chunk(compiled, members, sentinel))

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def sets(self) -> int:
        """How many RE2 Sets hold the patterns."""
        return len(self._chunks)

    @property
    def alone(self) -> int:
        """How many patterns no Set could hold, so are tried one by one."""
        return len(self._alone)

    def matching(self, text: str) -> set[int]:
        """The indices of the patterns that match `text`."""
        encoded = _encodable(text)
        found: set[int] = set()
        for chunk in self._chunks:
            hits = chunk.matching(encoded)
            if hits is None:
                found.update(i for i in chunk.members if self._one(i, text))
            else:
                found.update(hits)
        found.update(i for i in self._alone if self._one(i, text))
        return found

    def _one(self, index: int, text: str) -> bool:
        pattern = self._patterns[index]
        found = pattern.fullmatch(text) if self._anchored else pattern.search(text)
        return found is not None


class DiagnosticIndex:
    """Every `SimpleMatcher` command's skeleton, to find a command one bad value away.

    `diagnostics(text, wanted)` gives (plugin position, command, diagnostic) for each command
    whose words match `text` but one value does not (upstream's syntax match), among the
    plugins and commands `wanted` admits: one RE2 Set pass finds the candidates.
    """

    def __init__(self, plugins: Sequence[PluginRoutes]) -> None:
        self._owner: list[tuple[int, CommandMatcher]] = []
        patterns: list[Pattern] = []
        for position, plugin in enumerate(plugins):
            for matcher in plugin.commands:
                if matcher.simple is not None:
                    self._owner.append((position, matcher))
                    patterns.append(compile_command(matcher.simple.skeleton))
        self._set = PatternSet(patterns, anchored=True)

    def diagnostics(
        self, text: str, wanted: Callable[[int, str], bool]
    ) -> list[tuple[int, str, str]]:
        """(plugin position, command, diagnostic) of each near miss, in catalog order."""
        if not self._owner:
            return []
        variants = _variants(text, strip_dot=True)
        # As upstream: a text without its final '.' first, then as typed.
        ordered = variants[2:] + variants[:2] if len(variants) > 2 else variants
        hits: set[int] = set()
        for variant in ordered:
            hits |= self._set.matching(variant)
        out = []
        for hit in sorted(hits):
            position, matcher = self._owner[hit]
            if not wanted(position, matcher.command):
                continue
            assert matcher.simple is not None
            for variant in ordered:
                decided = matcher.simple.match(variant)
                if decided is not None:
                    if not decided.exact:
                        out.append((position, matcher.command, decided.diagnostic))
                    break
        return out


class MatcherIndex:
    """Many plugins' `Commands` (or ambient `MessageMatchers`), matched as one.

    `matches(text)` gives what `match_commands(text, plugins)` (or `match_ambient`) would, for
    every plugin at once, each result with the plugin's position: one `PatternSet` pass per text
    variant finds the matchers that match, and only their plugins are then matched one matcher
    at a time (for the first matcher in configured order and its captures). Built once per
    catalog; the cost of a message then hardly grows with the number of plugins.
    """

    def __init__(self, plugins: Sequence[PluginRoutes], *, ambient: bool) -> None:
        self._plugins = tuple(plugins)
        self._ambient = ambient
        self._owner: list[tuple[int, int]] = []  # pattern -> (plugin position, matcher index)
        patterns: list[Pattern] = []
        for position, plugin in enumerate(self._plugins):
            for number, matcher in enumerate(self._matchers(plugin)):
                self._owner.append((position, number))
                patterns.append(matcher.pattern)
        self._set = PatternSet(patterns, anchored=not ambient)

    def _matchers(self, plugin: PluginRoutes) -> Sequence[CommandMatcher | MessageMatcher]:
        return plugin.message_matchers if self._ambient else plugin.commands

    def matches(self, text: str) -> list[tuple[int, Match]]:
        """(plugin position, its match) for every plugin that matches `text`, in plugin order."""
        variants = _variants(text, strip_dot=not self._ambient)
        hits: set[int] = set()
        for variant in variants:
            hits |= self._set.matching(variant)
        first: dict[int, int] = {}  # plugin position -> its first matcher that matched
        for hit in sorted(hits):
            position, number = self._owner[hit]
            first.setdefault(position, number)
        out = []
        for position, number in first.items():
            plugin = self._plugins[position]
            matchers = self._matchers(plugin)[number:]
            found = _first_match(plugin.name, matchers, variants, anchored=not self._ambient)
            if found is not None:
                out.append((position, found))
        return out
