"""`SimpleMatcher`: Gopherbot's command DSL, compiled to RE2 and matched token by token.

A `SimpleMatcher` (a plugin's `Commands` only) describes a command without regex syntax:

    literal words      required words; a space also matches '-' ("show log", "show-log"),
                       but one phrase uses one separator style throughout
    /a|b c/            required synonyms, not passed to the plugin
    {a|b}              optional words, not passed
    (label:a|b)        a required choice, passed; `(:a|b)` without a label
    [label:a|b]        an optional choice or phrase, passed ("" when left out)
    <type>, <label:type>   a typed value, passed: token ident number decimal bool url email
                       ip ipv4 ipv6 cidr duration dnsname slug base64 rest
    [<label:type>]     an optional typed value
    [-label:-a|-b:<type>]  argv-style options in any order, each passed as typed

Matching follows upstream exactly (https://github.com/lnxjedi/gopherbot/blob/main/
bot/simple_matcher.go): the text is split into whitespace fields, and a field not starting
with '-' into its dash-separated parts; the terms then consume tokens with upstream's separator
rules (a typed value or options need whitespace before them; the words of one phrase share one
separator). Its regex, case-insensitive with flexible separators, accepts everything the token
matcher does (and a little more): the robot finds candidate commands with it in one RE2 Set
pass, and the token matcher decides and gives the arguments.

When the words of a command match but one value does not fit (a choice not offered, a value of
the wrong type, an unknown option), `match` says so in a diagnostic, the text upstream shows
the user; `skeleton` is a regex that accepts every such text, for finding them in one pass.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field, replace

from burrow.engine.patterns import Pattern, PatternError, compile_pattern

__all__ = [
    "TYPE_PATTERNS",
    "SimpleMatch",
    "SimpleMatcher",
    "SimpleMatcherError",
    "compile_simple",
]

_FLEXIBLE = r"(?:\s+|-+)"
_WHITESPACE = r"\s+"
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_SPACES = " \t\n\r"
_SPECIAL = set(r"\.+*?()|[]{}^$")

# The value types of `<type>` slots, as upstream defines them (RE2 syntax).
TYPE_PATTERNS: dict[str, str] = {
    "base64": r"[A-Za-z0-9+/=]+",
    "bool": r"(?:true|false|yes|no|on|off|1|0)",
    "cidr": r"(?:\d{1,3}\.){3}\d{1,3}/\d{1,2}",
    "decimal": r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)",
    "dnsname": r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?))*",
    "duration": r"(?:\d+(?:ns|us|ms|s|m|h))+",
    "email": r"[^\s@]+@[^\s@]+\.[^\s@]+",
    "ident": r"[A-Za-z][\w-]*",
    "ip": r"(?:\d{1,3}\.){3}\d{1,3}|(?:[0-9A-Fa-f:]+:+)+[0-9A-Fa-f]+",
    "ipv4": r"(?:\d{1,3}\.){3}\d{1,3}",
    "ipv6": r"(?:[0-9A-Fa-f:]+:+)+[0-9A-Fa-f]+",
    "number": r"[+-]?\d+",
    "rest": r".+",
    "slug": r"[\w.*-]+",
    "token": r"[^\s]+",
    "url": r"[A-Za-z][A-Za-z0-9+.-]*://[^\s]+",
}

# What a value of each type looks like, for diagnostics (upstream's wording).
_TYPE_DESCRIPTIONS: dict[str, str] = {
    "base64": "base64 text.",
    "bool": "a boolean value: true, false, yes, no, on, off, 1, or 0.",
    "cidr": "a CIDR block like 10.0.0.0/24.",
    "decimal": "a decimal number.",
    "dnsname": "a DNS hostname.",
    "duration": "a Go-style duration like 5m30s.",
    "email": "an email address.",
    "ident": "an identifier starting with a letter, followed by letters, numbers, '_' or '-'.",
    "ip": "an IP address.",
    "ipv4": "an IPv4 address.",
    "ipv6": "an IPv6 address.",
    "number": "an integer.",
    "slug": "a slug-like identifier.",
    "token": "a non-whitespace token.",
    "url": "a full URL.",
}

_HINT = "see 'SimpleMatcher' in docs/configuration.md, or write a Regex instead"


class SimpleMatcherError(ValueError):
    """A `SimpleMatcher` that cannot be compiled; `hint` says what to do."""

    def __init__(self, message: str, hint: str = _HINT) -> None:
        super().__init__(message)
        self.hint = hint


# -- the parsed form --------------------------------------------------------------------------


class _Sep(enum.Enum):
    """The separator a term wants before it."""

    FLEXIBLE = "flexible"  # whitespace or dashes
    WHITESPACE = "whitespace"


class _TokenSep(enum.Enum):
    """What came before a token in the text."""

    NONE = 0
    WHITESPACE = 1
    DASH = 2


class _Boundary(enum.Enum):
    COMMAND = 0  # words of a command phrase: one separator style throughout
    VALUE = 1  # the rest are values: any separator the term allows
    ARGUMENT = 2  # a typed value or options: whitespace only


@dataclass(frozen=True)
class _Token:
    value: str
    field: str
    field_id: int
    sep_before: _TokenSep


@dataclass(frozen=True)
class _State:
    pos: int = 0
    args: tuple[str, ...] = ()
    diagnostic: str = ""
    command_sep: _TokenSep = _TokenSep.NONE


@dataclass(frozen=True)
class _Literal:
    value: str

    optional = False
    contains_slot = False
    variable_args = False
    capture_count = 0
    separator = _Sep.FLEXIBLE

    def compile(self, loose: bool) -> str:
        parts = self.value.split("-")
        if len(parts) > 1 and all(parts):
            return _FLEXIBLE.join(_quote(p) for p in parts)
        return _quote(self.value)

    def match(self, tokens: list[_Token], state: _State) -> list[_State]:
        found = _match_words(tokens, state, _words(self.value))
        return [found[0]] if found is not None else []


@dataclass(frozen=True)
class _Slot:
    name: str
    kind: str

    optional = False
    contains_slot = True
    variable_args = False
    capture_count = 1
    separator = _Sep.WHITESPACE

    def compile(self, loose: bool) -> str:
        if loose and self.kind != "rest":
            return r"(\S+)"
        return f"({TYPE_PATTERNS[self.kind]})"

    def match(self, tokens: list[_Token], state: _State) -> list[_State]:
        if state.pos >= len(tokens):
            return []
        if self.kind == "rest":
            return [
                replace(
                    state,
                    pos=end,
                    args=(*state.args, _join_fields(tokens[state.pos : end])),
                    command_sep=_TokenSep.NONE,
                )
                for end in _rest_ends(tokens, state.pos)
            ]
        value, after = _field_at(tokens, state.pos)
        if _type_matches(self.kind, value):
            return [
                replace(state, pos=after, args=(*state.args, value), command_sep=_TokenSep.NONE)
            ]
        if state.diagnostic:
            return []
        diagnostic = _bad_type(self.name, self.kind, value)
        return [replace(state, pos=after, diagnostic=diagnostic, command_sep=_TokenSep.NONE)]


@dataclass(frozen=True)
class _Sequence:
    terms: tuple[_Term, ...]

    @property
    def contains_slot(self) -> bool:
        return any(t.contains_slot for t in self.terms)

    @property
    def variable_args(self) -> bool:
        return any(t.variable_args for t in self.terms)

    @property
    def capture_count(self) -> int:
        return sum(t.capture_count for t in self.terms)

    @property
    def leading_separator(self) -> _Sep:
        return self.terms[0].separator if self.terms else _Sep.FLEXIBLE

    def compile(self, loose: bool) -> str:
        terms = self.terms
        out: list[str] = []
        index = 0
        # Leading optional terms carry the separator after them; the rest, the one before.
        while index < len(terms) and terms[index].optional:
            bare = terms[index].compile(loose)
            after = _separator(terms[index + 1]) if index < len(terms) - 1 else ""
            out.append(f"(?:{bare}{after})?")
            index += 1
        first_required = index
        for index in range(first_required, len(terms)):
            term = terms[index]
            bare = term.compile(loose)
            if term.optional:
                out.append(f"(?:{_separator(term)}{bare})?")
                continue
            if index > first_required:
                out.append(_separator(term))
            out.append(bare)
        return "".join(out)

    def match(self, tokens: list[_Token], initial: _State) -> list[_State]:
        states = [initial]
        for index, term in enumerate(self.terms):
            following: list[_State] = []
            for state in states:
                if state.pos < len(tokens):
                    moved = _separate(
                        state, term.separator, tokens[state.pos].sep_before, self._boundary(index)
                    )
                    if moved is None:
                        continue
                    state = moved
                elif state.pos > 0 and not term.optional:
                    continue
                following += term.match(tokens, state)
            states = following
            if not states:
                break
        return states

    def _boundary(self, index: int) -> _Boundary:
        if isinstance(self.terms[index], (_Slot, _Options)):
            return _Boundary.ARGUMENT
        return _Boundary.VALUE if self._value_tail(index) else _Boundary.COMMAND

    def _value_tail(self, start: int) -> bool:
        """Whether every term from `start` on is a value (so no command words follow)."""
        has_value = False
        for term in self.terms[start:]:
            if isinstance(term, (_Slot, _Options)):
                has_value = True
            elif isinstance(term, _Group):
                if term.capturing and not term.contains_slot:
                    has_value = True
                elif term.optional and not term.capturing:
                    has_value = has_value or term.contains_slot
                else:
                    return False
            else:
                return False
        return has_value

    def words(self) -> list[str] | None:
        """The words of an all-literal alternative, else None."""
        words: list[str] = []
        for term in self.terms:
            if not isinstance(term, _Literal):
                return None
            words += _words(term.value)
        return words


@dataclass(frozen=True)
class _Expr:
    alternatives: tuple[_Sequence, ...]

    @property
    def contains_slot(self) -> bool:
        return any(a.contains_slot for a in self.alternatives)

    @property
    def variable_args(self) -> bool:
        return any(a.variable_args for a in self.alternatives)

    @property
    def capture_count(self) -> int:
        return max((a.capture_count for a in self.alternatives), default=0)

    @property
    def leading_separator(self) -> _Sep:
        if any(a.leading_separator is _Sep.WHITESPACE for a in self.alternatives):
            return _Sep.WHITESPACE
        return _Sep.FLEXIBLE

    def compile(self, loose: bool) -> str:
        if len(self.alternatives) == 1:
            return self.alternatives[0].compile(loose)
        return "(?:" + "|".join(a.compile(loose) for a in self.alternatives) + ")"

    def match(self, tokens: list[_Token], state: _State) -> list[_State]:
        return [found for a in self.alternatives for found in a.match(tokens, state)]


@dataclass(frozen=True)
class _Group:
    expr: _Expr
    label: str = ""
    optional: bool = False
    capturing: bool = False

    variable_args = False

    @property
    def contains_slot(self) -> bool:
        return self.expr.contains_slot

    @property
    def separator(self) -> _Sep:
        return self.expr.leading_separator

    @property
    def capture_count(self) -> int:
        if self.capturing and not self.contains_slot:
            return 1
        return self.expr.capture_count

    @property
    def choice(self) -> bool:
        return self.capturing and not self.contains_slot

    def compile(self, loose: bool) -> str:
        bare = self.expr.compile(loose)
        if not self.capturing:
            return bare
        if loose and self.choice:
            return rf"(?:{bare}|[^\s-]+|-\S*)"  # a value not offered is still this command
        return f"({bare})"

    def match(self, tokens: list[_Token], state: _State) -> list[_State]:
        skipped = (
            [replace(state, args=state.args + ("",) * self.capture_count)] if self.optional else []
        )
        if self.choice:
            return self._match_choice(tokens, state) + skipped
        return self.expr.match(tokens, state) + skipped

    def _match_choice(self, tokens: list[_Token], state: _State) -> list[_State]:
        out = []
        for alternative in self.expr.alternatives:
            words = alternative.words()
            found = _match_words(tokens, state, words) if words else None
            if found is not None:
                moved, value = found
                out.append(replace(moved, args=(*moved.args, value)))
        if out or state.pos >= len(tokens) or state.diagnostic:
            return out
        offered = [" ".join(w) for a in self.expr.alternatives if (w := a.words())]
        diagnostic = _bad_choice(self.label, tokens[state.pos].value, offered)
        return [replace(state, pos=state.pos + 1, diagnostic=diagnostic)]


@dataclass(frozen=True)
class _Option:
    display: str
    literal: str = ""
    prefix: str = ""
    slot: _Slot | None = None

    def compile(self, loose: bool) -> str:
        if self.slot is None:
            return _quote(self.literal)
        return _quote(self.prefix) + f"(?:{TYPE_PATTERNS[self.slot.kind]})"

    def match(self, value: str) -> tuple[bool, str]:
        if self.slot is None:
            return value.lower() == self.literal.lower(), ""
        if not value.lower().startswith(self.prefix.lower()):
            return False, ""
        raw = value[len(self.prefix) :]
        if _type_matches(self.slot.kind, raw):
            return True, ""
        label = self.slot.name or self.prefix.lstrip("-").rstrip(":= ") or "option"
        return False, _bad_type(label, self.slot.kind, raw)


@dataclass(frozen=True)
class _Options:
    label: str
    options: tuple[_Option, ...]

    optional = True
    variable_args = True
    capture_count = 0
    separator = _Sep.WHITESPACE

    @property
    def contains_slot(self) -> bool:
        return any(o.slot is not None for o in self.options)

    def compile(self, loose: bool) -> str:
        one = r"-\S*" if loose else "(?:" + "|".join(o.compile(loose) for o in self.options) + ")"
        return f"{one}(?:{_WHITESPACE}{one})*"

    def match(self, tokens: list[_Token], state: _State) -> list[_State]:
        if state.pos >= len(tokens) or not tokens[state.pos].value.startswith("-"):
            return [state]
        moved = state
        while moved.pos < len(tokens) and tokens[moved.pos].value.startswith("-"):
            token = tokens[moved.pos]
            if moved.pos > state.pos and token.sep_before is not _TokenSep.WHITESPACE:
                break
            ok, diagnostic = self._match_option(token.value)
            if not ok:
                if moved.diagnostic:
                    return []
                return [replace(moved, pos=moved.pos + 1, diagnostic=diagnostic)]
            moved = replace(
                moved,
                pos=moved.pos + 1,
                args=(*moved.args, token.value),
                command_sep=_TokenSep.NONE,
            )
        return [moved]

    def _match_option(self, value: str) -> tuple[bool, str]:
        diagnostics: list[str] = []
        for option in self.options:
            ok, diagnostic = option.match(value)
            if ok:
                return True, ""
            if diagnostic and diagnostic not in diagnostics:
                diagnostics.append(diagnostic)
        if len(diagnostics) == 1:
            return False, diagnostics[0]
        shown = ", ".join(o.display for o in self.options)
        label = _go_quote(self.label or "options")
        return False, f"Invalid option: {_go_quote(value)} for: {label}; valid options: {shown}."


_Term = _Literal | _Slot | _Group | _Options


# -- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimpleMatch:
    """A text that matched: `exact` with the plugin's arguments, or only a `diagnostic`."""

    args: tuple[str, ...] = ()
    diagnostic: str = ""

    @property
    def exact(self) -> bool:
        """Whether the command matched (and `args` are its arguments)."""
        return not self.diagnostic


@dataclass(frozen=True)
class SimpleMatcher:
    """A compiled `SimpleMatcher`: its regex, its skeleton, and the token matcher."""

    spec: str
    regex: str  # case-insensitive, unanchored: wrap it as any command regex
    skeleton: str  # accepts every text that gets a diagnostic (and every exact match)
    variable_args: bool  # an options block: the arguments' positions vary
    _expr: _Expr = field(repr=False, compare=False)

    def match(self, text: str) -> SimpleMatch | None:
        """Match one text: exact, a single diagnostic, or None (upstream's syntaxMatch)."""
        tokens = _tokenize(text)
        if not tokens:
            return None
        diagnostics: list[str] = []
        for state in self._expr.match(tokens, _State()):
            if state.pos != len(tokens):
                continue
            if not state.diagnostic:
                return SimpleMatch(state.args)
            if state.diagnostic not in diagnostics:
                diagnostics.append(state.diagnostic)
        return SimpleMatch(diagnostic=diagnostics[0]) if len(diagnostics) == 1 else None


def compile_simple(spec: str) -> SimpleMatcher:
    """Parse and compile a `SimpleMatcher`; raises `SimpleMatcherError` saying what is wrong."""
    spec = spec.strip()
    if not spec:
        raise SimpleMatcherError("SimpleMatcher cannot be empty")
    parser = _Parser(spec)
    expr = parser.expr("")
    parser.skip_spaces()
    if not parser.done:
        raise SimpleMatcherError(f"unexpected character {parser.peek()!r} in SimpleMatcher")
    regex = expr.compile(loose=False)
    if not regex:
        raise SimpleMatcherError("SimpleMatcher compiles to an empty pattern")
    compiled = SimpleMatcher(
        spec=spec,
        regex=f"(?i:{regex})",
        skeleton=f"(?i:{expr.compile(loose=True)})",
        variable_args=expr.variable_args,
        _expr=expr,
    )
    for pattern in (compiled.regex, compiled.skeleton):
        try:
            compile_pattern(pattern)
        except PatternError as error:  # a literal RE2 cannot take, say an invalid escape
            raise SimpleMatcherError(f"SimpleMatcher does not compile: {error.reason}") from None
    return compiled


# -- parsing ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.spec)

    def peek(self) -> str:
        return self.spec[self.pos]

    def skip_spaces(self) -> None:
        while not self.done and self.peek() in _SPACES:
            self.pos += 1

    def expr(self, end: str) -> _Expr:
        alternatives = []
        while True:
            alternatives.append(self.sequence(end))
            self.skip_spaces()
            if end:
                if self.done:
                    raise SimpleMatcherError(f"unterminated SimpleMatcher group, missing {end!r}")
                if self.peek() == "|":
                    self.pos += 1
                    continue
                if self.peek() == end:
                    self.pos += 1
                    return _Expr(tuple(alternatives))
                raise SimpleMatcherError(f"unexpected character {self.peek()!r} in a group")
            if self.done:
                return _Expr(tuple(alternatives))
            if self.peek() == "|":
                raise SimpleMatcherError(
                    "'|' outside a group: write required synonyms as /a|b/, a choice as (label:a|b)"
                )
            raise SimpleMatcherError(f"unexpected character {self.peek()!r} in SimpleMatcher")

    def sequence(self, end: str) -> _Sequence:
        terms: list[_Term] = []
        while True:
            self.skip_spaces()
            if self.done or self.peek() == "|" or (end and self.peek() == end):
                return _Sequence(tuple(terms))
            terms.append(self.term())

    def term(self) -> _Term:
        opener = self.peek()
        self.pos += 1
        if opener == "[":
            body = self.body("]")
            options = _options_block(body)
            if options is not None:
                return options
            expr, label = _bracket_body(body, optional=True)
            return _Group(expr, label, optional=True, capturing=not expr.contains_slot)
        if opener == "{":
            expr = self.expr("}")
            if expr.contains_slot:
                raise SimpleMatcherError("an optional {...} group cannot hold a typed capture")
            return _Group(expr, optional=True)
        if opener == "(":
            expr, label = _bracket_body(self.body(")"), optional=False)
            if expr.contains_slot:
                raise SimpleMatcherError("a (label:...) choice cannot hold a typed capture")
            return _Group(expr, label, capturing=True)
        if opener == "/":
            expr = self.expr("/")
            if expr.contains_slot:
                raise SimpleMatcherError("a /.../ synonym group cannot hold a typed capture")
            return _Group(expr)
        if opener == "<":
            close = self.spec.find(">", self.pos)
            if close < 0:
                raise SimpleMatcherError("unterminated <capture> in SimpleMatcher")
            raw = self.spec[self.pos : close].strip()
            self.pos = close + 1
            return _slot(raw)
        self.pos -= 1
        start = self.pos
        while not self.done and self.peek() not in "[]{}()/|<>" and self.peek() not in _SPACES:
            self.pos += 1
        literal = self.spec[start : self.pos].strip()
        if not literal:
            raise SimpleMatcherError(f"unexpected character {self.peek()!r} in SimpleMatcher")
        return _Literal(literal)

    def body(self, end: str) -> str:
        close = self.spec.find(end, self.pos)
        if close < 0:
            raise SimpleMatcherError(f"unterminated SimpleMatcher group, missing {end!r}")
        body = self.spec[self.pos : close]
        self.pos = close + 1
        return body


def _bracket_body(body: str, *, optional: bool) -> tuple[_Expr, str]:
    body = body.strip()
    if not body:
        raise SimpleMatcherError("a choice cannot be empty")
    if "<" in body:
        if not optional:
            raise SimpleMatcherError("a (label:...) choice cannot hold a typed capture")
        return _inner(body), ""
    colon = body.find(":")
    if colon < 0:
        raise SimpleMatcherError(
            f"the choice {body!r} needs a label: write (label:{body}) or (:{body}), "
            f"[label:{body}] or [:{body}]"
        )
    label = body[:colon].strip()
    if label and not _IDENTIFIER.match(label):
        raise SimpleMatcherError(f"invalid choice label {label!r}")
    choices = body[colon + 1 :].strip()
    if not choices:
        raise SimpleMatcherError(f"the choice {label!r} offers no value")
    return _inner(choices), label


def _inner(spec: str) -> _Expr:
    parser = _Parser(spec)
    alternatives = []
    while True:
        alternatives.append(parser.sequence(""))
        parser.skip_spaces()
        if parser.done:
            return _Expr(tuple(alternatives))
        if parser.peek() != "|":
            raise SimpleMatcherError(f"unexpected character {parser.peek()!r} in a choice")
        parser.pos += 1


def _options_block(body: str) -> _Options | None:
    body = body.strip()
    if not body.startswith("-"):
        return None
    colon = body.find(":")
    if colon < 0:
        raise SimpleMatcherError("an options block is written [-label:-a|-b:<type>]")
    label = body[:colon].strip().removeprefix("-").strip()
    if not _IDENTIFIER.match(label):
        raise SimpleMatcherError(f"invalid options label {label!r}")
    raw = body[colon + 1 :].strip()
    if not raw:
        raise SimpleMatcherError("an options block needs at least one option")
    return _Options(label, tuple(_option(part.strip()) for part in raw.split("|")))


def _option(raw: str) -> _Option:
    if not raw:
        raise SimpleMatcherError("an option cannot be empty")
    if not raw.startswith("-"):
        raise SimpleMatcherError(f"the option {raw!r} must start with '-'")
    if any(c in raw for c in _SPACES):
        raise SimpleMatcherError(f"the option {raw!r} cannot contain whitespace")
    start = raw.find("<")
    if start < 0:
        if ">" in raw:
            raise SimpleMatcherError(f"invalid option {raw!r}")
        return _Option(display=raw, literal=raw)
    end = raw.find(">", start)
    if end < 0:
        raise SimpleMatcherError(f"unterminated <capture> in the option {raw!r}")
    if end != len(raw) - 1:
        raise SimpleMatcherError(f"the option {raw!r} may end with one typed capture, no more")
    prefix = raw[:start]
    if not prefix.startswith("-"):
        raise SimpleMatcherError(f"the option {raw!r} must start with '-'")
    return _Option(display=raw, prefix=prefix, slot=_slot(raw[start + 1 : end].strip()))


def _slot(raw: str) -> _Slot:
    parts = [p.strip() for p in raw.split(":")]
    if len(parts) == 1:
        name, kind = "", parts[0]
    elif len(parts) == 2:
        name, kind = parts
        if not _IDENTIFIER.match(name):
            raise SimpleMatcherError(f"invalid capture name {name!r}")
    else:
        raise SimpleMatcherError(f"invalid capture <{raw}>: write <type> or <label:type>")
    if not _IDENTIFIER.match(kind):
        raise SimpleMatcherError(f"invalid capture type {kind!r}")
    if kind not in TYPE_PATTERNS:
        raise SimpleMatcherError(
            f"unknown capture type {kind!r}", "use one of " + ", ".join(sorted(TYPE_PATTERNS))
        )
    return _Slot(name, kind)


# -- matching -----------------------------------------------------------------------------------


def _tokenize(text: str) -> list[_Token]:
    """Whitespace fields; a field not starting with '-' split further at its dashes."""
    tokens: list[_Token] = []
    sep = _TokenSep.NONE
    for field_id, whole in enumerate(text.split()):
        if whole.startswith("-"):
            tokens.append(_Token(whole, whole, field_id, sep))
        else:
            for part in whole.split("-"):
                if part:
                    tokens.append(_Token(part, whole, field_id, sep))
                    sep = _TokenSep.DASH
        sep = _TokenSep.WHITESPACE
    return tokens


def _separate(state: _State, wanted: _Sep, seen: _TokenSep, boundary: _Boundary) -> _State | None:
    """Pass the separator before the next term, or None when it is not one the term takes."""
    if state.pos == 0:
        return state
    if boundary is _Boundary.ARGUMENT:
        return replace(state, command_sep=_TokenSep.NONE) if seen is _TokenSep.WHITESPACE else None
    if not _allows(wanted, seen):
        return None
    if boundary is _Boundary.VALUE or wanted is _Sep.WHITESPACE:
        return replace(state, command_sep=_TokenSep.NONE)
    if state.command_sep is _TokenSep.NONE:
        return replace(state, command_sep=seen)
    return state if state.command_sep is seen else None


def _allows(wanted: _Sep, seen: _TokenSep) -> bool:
    if wanted is _Sep.WHITESPACE:
        return seen is _TokenSep.WHITESPACE
    return seen in (_TokenSep.WHITESPACE, _TokenSep.DASH)


def _words(value: str) -> list[str]:
    return [w for w in re.split(r"[\s-]+", value) if w]


def _match_words(
    tokens: list[_Token], state: _State, words: list[str]
) -> tuple[_State, str] | None:
    """Match literal words at `state` (one separator style), with the words as typed."""
    start = state.pos
    if not words or start + len(words) > len(tokens):
        return None
    moved: _State | None = state
    for offset, word in enumerate(words):
        position = start + offset
        if offset and moved is not None:
            moved = _separate(
                replace(moved, pos=position),
                _Sep.FLEXIBLE,
                tokens[position].sep_before,
                _Boundary.COMMAND,
            )
        if moved is None or tokens[position].value.lower() != word.lower():
            return None
    assert moved is not None
    typed = " ".join(t.value for t in tokens[start : start + len(words)])
    return replace(moved, pos=start + len(words)), typed


def _field_at(tokens: list[_Token], pos: int) -> tuple[str, int]:
    """The whole field a token belongs to, and the position after that field's tokens."""
    field_id = tokens[pos].field_id
    after = pos + 1
    while after < len(tokens) and tokens[after].field_id == field_id:
        after += 1
    return tokens[pos].field, after


def _join_fields(tokens: list[_Token]) -> str:
    fields: list[str] = []
    pos = 0
    while pos < len(tokens):
        value, pos = _field_at(tokens, pos)
        fields.append(value)
    return " ".join(fields)


def _rest_ends(tokens: list[_Token], pos: int) -> list[int]:
    """Where a `rest` value may end: after each field from `pos` on, longest first."""
    ends = []
    while pos < len(tokens):
        _, pos = _field_at(tokens, pos)
        ends.append(pos)
    return ends[::-1]


@functools.cache
def _type_pattern(kind: str) -> Pattern:
    return compile_pattern(f"(?i:^(?:{TYPE_PATTERNS[kind]})$)")


def _type_matches(kind: str, value: str) -> bool:
    return kind in TYPE_PATTERNS and _type_pattern(kind).search(value) is not None


# -- helpers ------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """`text` as an RE2 literal (Go's regexp.QuoteMeta)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _separator(term: _Term) -> str:
    return _WHITESPACE if term.separator is _Sep.WHITESPACE else _FLEXIBLE


def _go_quote(text: str) -> str:
    """A string quoted as Go's %q would (for the texts diagnostics show)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _bad_type(label: str, kind: str, value: str) -> str:
    name = label.strip() or kind
    description = _TYPE_DESCRIPTIONS.get(kind, f"a valid {kind} value.")
    return f"Invalid value: {_go_quote(value)} for: {_go_quote(name)}; expected: {description}"


def _bad_choice(label: str, value: str, offered: list[str]) -> str:
    valid = ", ".join(offered)
    if not label.strip():
        return f"Invalid value: {_go_quote(value)}; valid values: {valid}."
    return f"Invalid value: {_go_quote(value)} for: {_go_quote(label)}; valid values: {valid}."
