"""A transcript as Burrow plays it: cases of one input and the replies (and events) it must cause.

This is Burrow's own file format (docs/transcripts.md); Gopherbot's suites are read into the same
model by `burrow.transcript.gopherbot`.

    cases:
      - input: {user: alice, channel: general, text: ";ping", id: ping1}
        replies:
          - {user: alice, channel: general, text_pattern: "^PONG"}
        events: [CommandTaskRan, GoPluginRan]
        pause: 150ms
      - input: {user: alice, channel: general, text: "yes", thread: ping1}

`channel: ""` is a DM; a reply's `user: ""` is a message to the channel as a whole; omitted
reply fields take their empty values and are still checked; `text_pattern` is an unanchored
RE2 regular expression, the syntax of the robot's own patterns (burrow.engine.patterns).
`thread: ID` sends the input in the thread of message ID (an input's `id`), or checks that a
reply is in that thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from burrow.connectors.testing import Conventions
from burrow.engine.config.durations import parse_duration
from burrow.engine.events import RECORDED, Event
from burrow.engine.patterns import PatternError, compile_pattern

if TYPE_CHECKING:
    from burrow.transcript.gopherbot import FlowStep

Format = Literal["burrow", "gopherbot"]


class TranscriptError(Exception):
    """A transcript file that cannot be played; the message names the file, key and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> float:
    return parse_duration(value) if isinstance(value, str) else float(value)


def check_pattern(value: str) -> str:
    """Refuse a reply pattern RE2 cannot compile, with the reason and a hint."""
    # RE2 like every pattern of the robot: one syntax for a robot's author, and a reply
    # cannot stall the robot under test while it is being checked.
    try:
        compile_pattern(value)
    except PatternError as error:
        raise ValueError(f"{error} — {error.hint}") from None
    return value


def check_events(names: Sequence[str]) -> list[str]:
    """Refuse an event name Gopherbot does not have."""
    known = {e.value for e in Event}
    for name in names:
        if name not in known:
            raise ValueError(
                f"unknown event {name!r}; the events are Gopherbot's: {', '.join(Event)}"
            )
    return list(names)


class Input(_Strict):
    """What a user says."""

    user: str
    text: str
    channel: str = ""
    threaded: bool = False
    hidden: bool = False
    id: str = ""  # the message's id; default: the test connector's counter
    thread: str = ""  # in the thread of this message id (implies `threaded`)

    @model_validator(mode="after")
    def _thread_needs_channel(self) -> Input:
        if self.thread and not self.channel:
            raise ValueError("thread: a direct message has no threads; set channel too")
        return self


class Expected(_Strict):
    """One reply the robot must send, in order."""

    text_pattern: str
    user: str = ""
    channel: str = ""
    threaded: bool = False
    thread: str = ""  # must be in the thread of this message id (implies `threaded`)

    @field_validator("text_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return check_pattern(value)

    @property
    def in_thread(self) -> bool:
        """Whether the reply must be threaded."""
        return self.threaded or bool(self.thread)


class Case(_Strict):
    """One input and the replies (and, if listed, the events) it must produce."""

    input: Input
    replies: list[Expected] = Field(default_factory=list)
    events: list[str] | None = None  # None: not checked
    pause: float = 0.0
    name: str = ""

    @field_validator("pause", mode="before")
    @classmethod
    def _pause(cls, value: Any) -> float:
        return _duration(value)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_events(value)

    @property
    def checked_events(self) -> list[str] | None:
        """The listed events that Burrow records (burrow.engine.events.RECORDED)."""
        if self.events is None:
            return None
        return [e for e in self.events if Event(e) in RECORDED]

    @property
    def unchecked_events(self) -> list[str]:
        """The listed events that Burrow does not record, so cannot check."""
        return [e for e in self.events or () if Event(e) not in RECORDED]


class Suite(_Strict):
    """A transcript file in Burrow's format."""

    cases: list[Case]
    timeout: float = 10.0  # seconds to wait for each expected reply

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return _duration(value)


@dataclass
class Flow:
    """One step of a Gopherbot flow suite, with its `case` read as a Case."""

    step: FlowStep
    case: Case | None = None


@dataclass
class Plan:
    """What to play, read from either format, and how."""

    cases: list[Case]
    timeout: float = 10.0  # seconds to wait for each expected reply
    case_timeout: float | None = None  # seconds for a whole case (Gopherbot's 14 s)
    name: str = ""
    format: Format = "burrow"
    conventions: Conventions | None = None  # the test connector's; None: as configured
    hidden_commands: bool | None = None  # whether it carries hidden messages; None: configured
    environment: dict[str, str] = field(default_factory=dict)  # set while the robot runs
    http_fixture: bool = False  # serve Gopherbot's test HTTP endpoints while the robot runs
    notes: list[str] = field(default_factory=list)  # accepted but not used, for the report
    case_notes: dict[int, list[str]] = field(default_factory=dict)  # by case index (0-based)
    flow: list[Flow] = field(default_factory=list)  # a Gopherbot flow suite's steps, if any

    def notes_of(self, index: int) -> list[str]:
        """What the report must say about case `index` beyond its result."""
        case = self.cases[index]
        unchecked = case.unchecked_events
        said = list(self.case_notes.get(index, ()))
        if unchecked:
            said.append(
                "events not checked, as Burrow does not record them: " + ", ".join(unchecked)
            )
        return said


# -- reading files ----------------------------------------------------------------------------


def read_yaml(path: Path) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """A YAML file's data, and the line (1-based) where each key or item of it starts."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise TranscriptError(f"{path}: not valid YAML: {exc}") from None
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _positions(node, (), lines)
    return data, lines


def _positions(
    node: yaml.Node, at: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> None:
    lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = (str(key.value),) if isinstance(key, yaml.ScalarNode) else ()
            if name:
                lines[(*at, *name)] = key.start_mark.line + 1
                _positions(value, (*at, *name), lines)
                lines[(*at, *name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _positions(item, (*at, index), lines)


def line_of(lines: Mapping[tuple[str | int, ...], int], loc: Sequence[str | int]) -> int | None:
    """The line of the deepest part of `loc` found in the file."""
    for end in range(len(loc), -1, -1):
        found = lines.get(tuple(loc[:end]))
        if found is not None:
            return found
    return None


def validation_error(
    path: Path, exc: ValidationError, lines: Mapping[tuple[str | int, ...], int]
) -> TranscriptError:
    """A TranscriptError naming each problem's key and line."""
    problems = []
    for e in exc.errors():
        loc = [p for p in e["loc"] if isinstance(p, (str, int))]
        where = ".".join(str(p) for p in loc)
        line = line_of(lines, loc)
        message = str(e["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" + (f" (line {line})" if line else ""))
    return TranscriptError(f"{path}: " + "; ".join(problems))


def load_burrow_suite(path: Path, data: Any, lines: Mapping[tuple[str | int, ...], int]) -> Plan:
    """Validate a transcript in Burrow's format."""
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, lines) from None
    return Plan(cases=suite.cases, timeout=suite.timeout)
