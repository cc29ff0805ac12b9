"""Conversation transcripts: play cases against a real robot on the test connector.

Format (docs/transcripts.md):

    cases:
      - input: {user: alice, channel: general, text: ";ping", threaded: false, hidden: false}
        replies:
          - {user: alice, channel: general, threaded: false, text_pattern: "^PONG"}
        pause: 150ms

`channel: ""` is a DM; a reply's `user: ""` is a message to the channel as a whole; omitted
reply fields take their empty values and are still checked; `text_pattern` is an unanchored
RE2 regular expression, the syntax of the robot's own patterns (burrow.engine.patterns).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from burrow.connectors.testing import SentMessage, TestConnector
from burrow.engine.config.durations import parse_duration
from burrow.engine.patterns import PatternError, compile_pattern
from burrow.engine.robot import Robot


class TranscriptError(Exception):
    """A transcript file that cannot be played; the message names the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Input(_Strict):
    """What a user says."""

    user: str
    text: str
    channel: str = ""
    threaded: bool = False
    hidden: bool = False


class Expected(_Strict):
    """One reply the robot must send, in order."""

    text_pattern: str
    user: str = ""
    channel: str = ""
    threaded: bool = False

    @field_validator("text_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        # RE2 like every pattern of the robot: one syntax for a robot's author, and a reply
        # cannot stall the robot under test while it is being checked.
        try:
            compile_pattern(value)
        except PatternError as error:
            raise ValueError(f"{error} — {error.hint}") from None
        return value


class Case(_Strict):
    """One input and the replies it must produce."""

    input: Input
    replies: list[Expected] = Field(default_factory=list)
    pause: float = 0.0

    @field_validator("pause", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value) if isinstance(value, str) else float(value)


class Suite(_Strict):
    """A transcript file."""

    cases: list[Case]
    timeout: float = 10.0  # seconds to wait for each expected reply

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value) if isinstance(value, str) else float(value)


def load_suite(path: Path) -> Suite:
    """Read and validate a transcript file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Suite.model_validate(data)
    except OSError as exc:
        raise TranscriptError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TranscriptError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise TranscriptError(f"{path}: {problems}") from None


@dataclass
class CaseResult:
    """How one case went."""

    index: int
    case: Case
    got: list[SentMessage]
    problems: list[str]


def _describe_expected(e: Expected) -> str:
    return f"user={e.user!r} channel={e.channel!r} threaded={e.threaded} text~/{e.text_pattern}/"


def _describe_sent(s: SentMessage) -> str:
    return f"user={s.user!r} channel={s.channel!r} threaded={s.threaded} text={s.text!r}"


def compare(case: Case, got: Sequence[SentMessage]) -> list[str]:
    """The differences between the replies expected and the replies sent, in order."""
    problems = []
    for i, expected in enumerate(case.replies, 1):
        if i > len(got):
            problems.append(
                f"reply {i}: expected {_describe_expected(expected)}\n           got nothing"
            )
            continue
        sent = got[i - 1]
        if (
            sent.user != expected.user
            or sent.channel != expected.channel
            or sent.threaded != expected.threaded
            or compile_pattern(expected.text_pattern).search(sent.text) is None
        ):
            problems.append(
                f"reply {i}: expected {_describe_expected(expected)}\n"
                f"           got      {_describe_sent(sent)}"
            )
    for i, sent in enumerate(got[len(case.replies) :], len(case.replies) + 1):
        problems.append(f"reply {i}: unexpected {_describe_sent(sent)}")
    return problems


async def play(
    robot_dir: Path, suite: Suite, *, settle: float = 0.3, state_dir: Path | None = None
) -> list[CaseResult]:
    """Start the robot on the test connector and play every case."""
    with tempfile.TemporaryDirectory(prefix="burrow-transcript-") as tmp:
        robot = Robot(robot_dir, state_dir=state_dir or Path(tmp))
        await robot.load()
        connector = TestConnector(robot.config.protocol_config.get("test", {}))
        await robot.start({"test": connector}, primary="test")
        results = []
        try:
            for index, case in enumerate(suite.cases, 1):
                got = await _play_case(connector, case, suite.timeout, settle)
                results.append(CaseResult(index, case, got, compare(case, got)))
        finally:
            await robot.stop(grace=5.0)
        return results


async def _play_case(
    connector: TestConnector, case: Case, timeout: float, settle: float
) -> list[SentMessage]:
    i = case.input
    await connector.inject(i.user, i.text, i.channel, threaded=i.threaded, hidden=i.hidden)
    got: list[SentMessage] = []
    for _ in case.replies:
        sent = await connector.next_sent(timeout)
        if sent is None:
            break
        got.append(sent)
    # Whatever else arrives in the settle window is an unexpected extra reply.
    await asyncio.sleep(settle + case.pause)
    got += connector.drain()
    return got


def report(path: Path, results: Sequence[CaseResult]) -> tuple[str, bool]:
    """A readable report and whether every case passed."""
    lines = []
    failed = 0
    for r in results:
        i = r.case.input
        where = f"#{i.channel}" if i.channel else "DM"
        title = (
            f"case {r.index}: {i.user} in {where}{' (thread)' if i.threaded else ''}: {i.text!r}"
        )
        if r.problems:
            failed += 1
            lines.append(f"FAIL {title}")
            lines += [f"  {p}" for p in r.problems]
        else:
            lines.append(f"ok   {title}")
    lines.append(f"{path}: {len(results) - failed} passed, {failed} failed")
    return "\n".join(lines), failed == 0
