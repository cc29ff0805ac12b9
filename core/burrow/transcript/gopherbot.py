"""Gopherbot's integration suites, read unchanged into Burrow's transcript model.

The format is the one `integration/suites/yaml_loader.go` reads in Gopherbot
(https://github.com/lnxjedi/gopherbot/tree/main/integration/suites): `name`, `config_dir`,
`metadata`, `log_name`, `before_start`, `capabilities` and `cases` of `input`, `replies`,
`events`, `replies_only` and `pause`. They mean here what they mean there:

- an input whose text starts with `/` is a hidden command (the `/` is removed);
- a case checks the events of its message unless `replies_only` is set — an empty or missing
  `events` then means "no events";
- a case has 14 seconds in all (Gopherbot's `DefaultCaseTimeout`);
- `before_start: test_http_server` serves Gopherbot's test HTTP endpoints while the robot runs
  (`burrow.transcript.fixtures`), `development_environment` sets `GOPHER_ENVIRONMENT`;
- `capabilities: {test: {hidden_commands: false}}` runs the test connector without hidden
  messages;
- the test connector follows Gopherbot's conventions (burrow.connectors.testing).

What is accepted but not used (`config_dir`, `metadata`, `log_name`, `in_reply_to`, which
Gopherbot does not check either) is said in the report's notes, never dropped silently.
Gopherbot's `flow` suites (scripted steps instead of cases) are played step by step, as its
runner does (`runYAMLFlow`): each step may run a `case`, `wait_for_idle` (the robot's `_init`
pipelines have ended), `drain_events`, `sleep`, `send` a message, `receive` the next one (checked
as a reply is, then `exact_text`, `contains`, `contains_none` and their `_upper` forms,
`capture_regex`, `save_text_as` and `capture_pipeline_wid`, whose values `${name}` stands for in
later steps) and `expect_events`. The first step that fails ends the flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from burrow.engine.config.durations import parse_duration
from burrow.transcript.model import (
    Case,
    Expected,
    Flow,
    Input,
    Plan,
    TranscriptError,
    check_events,
    check_pattern,
    validation_error,
)

CASE_TIMEOUT = 14.0  # Gopherbot's DefaultCaseTimeout, seconds
MARKERS = ("name", "config_dir")  # top-level keys that make a file Gopherbot's


class _Model(BaseModel):
    # Go's YAML decoder reads `text: 123456` into a string; so do we.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Message(_Model):
    """A case's input (Gopherbot's yamlMessage)."""

    message_id: str = ""
    user: str = ""
    channel: str = ""
    text: str = ""
    threaded: bool = False
    hidden: bool = False


class ExpectedMessage(_Model):
    """One expected reply (Gopherbot's yamlExpectedMessage)."""

    in_reply_to: str = ""
    user: str = ""
    channel: str = ""
    text_pattern: str = ""
    threaded: bool = False

    @field_validator("text_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return check_pattern(value)


class GopherbotCase(_Model):
    """One case (Gopherbot's yamlCase)."""

    name: str = ""
    input: Message = Field(default_factory=Message)
    replies: list[ExpectedMessage] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    replies_only: bool = False
    pause: str = ""

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return check_events(value)

    @field_validator("pause")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value.strip():
            parse_duration(value)
        return value


class PipelineCapture(_Model):
    """`capture_pipeline_wid`: the id of a pipeline in a `ps` listing, saved as `name`."""

    name: str = ""
    pipeline: str = ""
    command: str = ""


class Receive(_Model):
    """A flow's `receive`: the next message the robot sends, and what to check and keep of it."""

    user: str = ""
    channel: str = ""
    text_pattern: str = ""
    threaded: bool = False
    save_text_as: str = ""
    exact_text: str = ""
    contains: list[str] = Field(default_factory=list)
    contains_upper: list[str] = Field(default_factory=list)
    contains_none: list[str] = Field(default_factory=list)
    contains_none_upper: list[str] = Field(default_factory=list)
    capture_regex: dict[str, str] = Field(default_factory=dict)
    capture_pipeline_wid: PipelineCapture | None = None

    @field_validator("text_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        # A pattern with ${name} is checked once the name is known, when the step runs.
        return value if "${" in value else check_pattern(value)

    @field_validator("capture_regex")
    @classmethod
    def _captures(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern in value.values():
            if "${" not in pattern:
                check_pattern(pattern)
        return value


class FlowStep(_Model):
    """One step of a flow suite (Gopherbot's yamlFlowStep), its parts run in this order."""

    name: str = ""
    case: GopherbotCase | None = None
    wait_for_idle: bool = False
    drain_events: bool = False
    sleep: str = ""
    send: Message | None = None
    receive: Receive | None = None
    expect_events: list[str] = Field(default_factory=list)

    @field_validator("expect_events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        return check_events(value)

    @field_validator("sleep")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value.strip():
            parse_duration(value)
        return value


class Metadata(_Model):
    """Labels for selecting suites; informational here."""

    subsystems: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    runtimes: list[str] = Field(default_factory=list)
    tier: str = ""


class Capabilities(_Model):
    """A connector's capabilities; Go's zero value: no hidden commands unless said."""

    hidden_commands: bool = False


class GopherbotSuite(_Model):
    """A suite file (Gopherbot's yamlSuite)."""

    name: str = ""
    config_dir: str = ""
    log_name: str = ""
    metadata: Metadata = Field(default_factory=Metadata)
    before_start: Literal["", "test_http_server", "development_environment"] = ""
    capabilities: dict[str, Capabilities] = Field(default_factory=dict)
    cases: list[GopherbotCase] = Field(default_factory=list)
    flow: list[FlowStep] = Field(default_factory=list)


def is_gopherbot_suite(data: Any) -> bool:
    """Whether a transcript file is Gopherbot's: it has a top-level `name` or `config_dir`."""
    return isinstance(data, Mapping) and any(key in data for key in MARKERS)


def load_gopherbot_suite(path: Path, data: Any, lines: Mapping[tuple[str | int, ...], int]) -> Plan:
    """Read a Gopherbot suite into a plan that plays it as Gopherbot's runner would."""
    try:
        suite = GopherbotSuite.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, lines) from None
    if suite.flow and suite.cases:
        raise TranscriptError(
            f"{path}: a suite has either cases or a flow, not both (Gopherbot plays the flow "
            "and ignores the cases): keep one"
        )
    if not suite.cases and not suite.flow:
        raise TranscriptError(f"{path}: cases: the suite has no cases (and no flow)")
    plan = Plan(
        cases=[],
        timeout=CASE_TIMEOUT,
        case_timeout=CASE_TIMEOUT,
        name=suite.name or path.stem,
        format="gopherbot",
        conventions="gopherbot",
    )
    if suite.config_dir:
        plan.notes.append(
            f"config_dir {suite.config_dir!r} is not used: the robot is the ROBOT_DIR given"
        )
    for protocol, capabilities in suite.capabilities.items():
        if protocol == "test":
            plan.hidden_commands = capabilities.hidden_commands
        else:
            plan.notes.append(f"capabilities of {protocol!r} not used: the connector is 'test'")
    if suite.before_start == "test_http_server":
        plan.http_fixture = True
    elif suite.before_start == "development_environment":
        plan.environment["GOPHER_ENVIRONMENT"] = "development"
    for index, step in enumerate(suite.flow):
        if step.send is not None and not (step.send.user and step.send.text):
            line = lines.get(("flow", index, "send")) or lines.get(("flow", index))
            raise TranscriptError(
                f"{path}: flow.{index}.send: user and text are required, and must not be empty"
                + (f" (line {line})" if line else "")
            )
        plan.flow.append(
            Flow(step, _case(path, index, step.case, lines, "flow") if step.case else None)
        )
    for index, case in enumerate(suite.cases):
        plan.cases.append(_case(path, index, case, lines))
        replying = [i for i, r in enumerate(case.replies, 1) if r.in_reply_to]
        if replying:
            plan.case_notes[index] = [
                "in_reply_to not checked (Gopherbot does not check it either): reply "
                + ", ".join(map(str, replying))
            ]
    return plan


def _case(
    path: Path,
    index: int,
    case: GopherbotCase,
    lines: Mapping[tuple[str | int, ...], int],
    within: str = "cases",
) -> Case:
    given = case.input
    at: tuple[str | int, ...] = (within, index) if within == "cases" else (within, index, "case")
    for key in ("user", "text"):
        if not getattr(given, key):
            line = lines.get((*at, "input")) or lines.get(at)
            raise TranscriptError(
                f"{path}: {'.'.join(map(str, at))}.input.{key}: required, and must not be empty"
                + (f" (line {line})" if line else "")
            )
    text, hidden = given.text, given.hidden
    if text.startswith("/") and not hidden:  # Gopherbot's RunCases: "/..." is hidden
        text, hidden = text[1:], True
    return Case(
        name=case.name,
        input=Input(
            user=given.user,
            text=text,
            channel=given.channel,
            threaded=given.threaded,
            hidden=hidden,
            id=given.message_id,
        ),
        replies=[
            Expected(
                text_pattern=r.text_pattern, user=r.user, channel=r.channel, threaded=r.threaded
            )
            for r in case.replies
        ],
        events=None if case.replies_only else list(case.events),
        pause=parse_duration(case.pause) if case.pause.strip() else 0.0,
    )
