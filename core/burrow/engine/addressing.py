"""Decide whether an incoming message is addressed to the robot, and how (as bot/dispatch.go)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AddressMode", "Addressing", "address"]


class AddressMode(StrEnum):
    """How a command reached the robot; the values are the `CatchAllModes` names."""

    ALIAS = "alias"
    NAME = "name"
    DIRECT = "direct"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class Addressing:
    """The outcome of addressing one message.

    `mode` is None when the message is not addressed to the robot; `text` is then the message as
    received (for ambient matchers), otherwise the command with the address removed and stripped.
    `bare_question` marks a bare address ending in `?` (`burrow?`), which the engine may try to
    match as a lone `?` before replying "Yes?" (upstream bot/dispatch.go).
    """

    mode: AddressMode | None
    text: str
    bare_question: bool = False

    @property
    def addressed(self) -> bool:
        """Whether the message is a command for the robot."""
        return self.mode is not None


@dataclass(frozen=True)
class _Patterns:
    bare: re.Pattern[str] | None
    prefix: re.Pattern[str] | None
    suffix: re.Pattern[str] | None


@functools.lru_cache(maxsize=8)
def _patterns(alias: str, bot_name: str, bot_mention: str) -> _Patterns:
    # Built once per identity: the robot's name, alias and mention change only on reload.
    # Name and mention alternatives come before the alias so that, with alias "@",
    # "@burrow ping" is read as the name form ("ping") rather than the alias form.
    names: list[str] = []
    if bot_name:
        names.append(rf"@?{re.escape(bot_name)}")
    if bot_mention:
        names.append(rf"@{re.escape(bot_mention)}")
    bare_names = list(names)
    prefix_alts: list[str] = []
    if names:
        prefix_alts.append(rf"(?:{'|'.join(names)})[:,\s]")
    if bot_mention:
        # A bracketed mention (`<@U123>`) is self-delimiting, so the separator is optional.
        bare_names.append(rf"<@{re.escape(bot_mention)}>")
        prefix_alts.append(rf"<@{re.escape(bot_mention)}>[:,]?")
    bare_alts = [rf"(?P<name>{'|'.join(bare_names)})"] if bare_names else []
    if alias:
        bare_alts.append(rf"(?P<alias>{re.escape(alias)})")
        prefix_alts.append(rf"(?P<alias>{re.escape(alias)})")
    if not bare_alts:
        return _Patterns(None, None, None)
    bare = re.compile(rf"(?i:{'|'.join(bare_alts)})(?P<question>\?)?")
    prefix = re.compile(rf"(?i:{'|'.join(prefix_alts)})\s*(?P<rest>.*)", re.DOTALL)
    suffix = None
    if bot_name:
        # Upstream's suffix form: no comma or '@' before the final ", <name>"; the optional
        # closing punctuation stays on the command, where a trailing '.' is ignored by matching.
        suffix = re.compile(rf"(?P<body>[^,@]+),\s+(?i:@?{re.escape(bot_name)})(?P<punct>[.?!])?")
    return _Patterns(bare, prefix, suffix)


def _explicit(text: str, patterns: _Patterns) -> Addressing | None:
    """Read an explicit address (alias, name or mention, as prefix, suffix or bare word)."""
    stripped = text.strip()
    bare = patterns.bare.fullmatch(stripped) if patterns.bare is not None else None
    if bare is not None:
        return Addressing(_mode(bare), "", bare_question=bare.group("question") is not None)
    prefix = patterns.prefix.fullmatch(stripped) if patterns.prefix is not None else None
    if prefix is not None:
        return Addressing(_mode(prefix), prefix.group("rest").strip())
    if patterns.suffix is not None:
        suffix = patterns.suffix.fullmatch(stripped)
        if suffix is not None:
            command = (suffix.group("body") + (suffix.group("punct") or "")).strip()
            return Addressing(AddressMode.NAME, command)
    return None


def _mode(found: re.Match[str]) -> AddressMode:
    """The mode of an alias-or-name match: alias only when the alias alternative matched."""
    return AddressMode.ALIAS if found.groupdict().get("alias") is not None else AddressMode.NAME


def address(
    text: str,
    *,
    alias: str,
    bot_name: str,
    bot_mention: str | None,
    direct: bool,
    hidden: bool,
    bot_message: bool = False,
) -> Addressing:
    """Decide whether `text` is a command for the robot, its mode, and the command text.

    Name and mention matching is case-insensitive. A message the connector marks as a bot
    message (e.g. a slash command the platform already routed here) is a command as-is. A hidden
    message must be explicitly addressed (alias, name or mention) and then has mode `hidden`;
    an unaddressed hidden message is not a command, and the engine should answer it with an
    addressing hint rather than treat it as ambient chatter. Every other direct message is a
    command: with its address removed and mode alias/name when addressed, else mode `direct`
    with the full text.
    """
    if bot_message:
        return Addressing(AddressMode.HIDDEN if hidden else AddressMode.ALIAS, text.strip())
    explicit = _explicit(text, _patterns(alias, bot_name, bot_mention or ""))
    if hidden:
        if explicit is None:
            return Addressing(None, text)
        return Addressing(AddressMode.HIDDEN, explicit.text, explicit.bare_question)
    if explicit is not None:
        return explicit
    if direct:
        return Addressing(AddressMode.DIRECT, text.strip())
    return Addressing(None, text)
