"""Playing a transcript: a real robot on the test connector, each case sent and its replies checked.

For each case: the events and replies left over from the one before are taken away (a late
reply is reported against the case that caused it), the input is sent, each expected reply is
awaited (up to the suite's `timeout` each, and for Gopherbot's suites within the case's 14
seconds), then a short settle time lets any extra reply and the case's events arrive. Replies
are compared in order; the events, when the case lists them, must be exactly those listed that
Burrow records (burrow.engine.events.RECORDED). A case's `pause` is waited after its events are
read, as Gopherbot does; a reply during the pause is still the case's.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from burrow.connectors.testing import SentMessage, TestConnector
from burrow.engine.events import EventRecord
from burrow.engine.patterns import compile_pattern
from burrow.engine.robot import Robot
from burrow.transcript.fixtures import environment, http_server
from burrow.transcript.model import Case, Expected, Plan

SETTLE = 0.3  # seconds to wait for extra replies and events after the expected ones
INIT_WAIT = 60.0  # seconds the cases wait for the plugins' start-up _init pipelines


@dataclass
class CaseResult:
    """How one case went."""

    index: int  # 1-based
    case: Case
    got: list[SentMessage]
    problems: list[str]
    events: list[EventRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title: str = ""  # a flow step's description; a case's is made from its input

    @property
    def passed(self) -> bool:
        """Whether the case passed."""
        return not self.problems


@dataclass
class SuiteRun:
    """How a whole transcript went."""

    plan: Plan
    results: list[CaseResult]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """How many cases failed."""
        return sum(1 for r in self.results if not r.passed)


def _describe_expected(e: Expected) -> str:
    thread = f" thread={e.thread!r}" if e.thread else ""
    return (
        f"user={e.user!r} channel={e.channel!r} threaded={e.in_thread}{thread} "
        f"text~/{e.text_pattern}/"
    )


def _describe_sent(s: SentMessage, *, thread: bool = False) -> str:
    where = f" thread={s.thread_id!r}" if thread else ""
    return f"user={s.user!r} channel={s.channel!r} threaded={s.threaded}{where} text={s.text!r}"


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
            or sent.threaded != expected.in_thread
            or (expected.thread and sent.thread_id != expected.thread)
            or compile_pattern(expected.text_pattern).search(sent.text) is None
        ):
            problems.append(
                f"reply {i}: expected {_describe_expected(expected)}\n"
                f"           got      {_describe_sent(sent, thread=bool(expected.thread))}"
            )
    for i, sent in enumerate(got[len(case.replies) :], len(case.replies) + 1):
        problems.append(f"reply {i}: unexpected {_describe_sent(sent)}")
    return problems


def compare_events(case: Case, got: Sequence[EventRecord]) -> list[str]:
    """The difference between the events listed (those Burrow records) and those recorded."""
    expected = case.checked_events
    if expected is None:
        return []
    seen = [r.event.value for r in got]
    if seen == expected:
        return []
    return [f"events: expected [{', '.join(expected)}]\n          got      [{', '.join(seen)}]"]


async def play(
    robot_dir: Path, plan: Plan, *, settle: float = SETTLE, state_dir: Path | None = None
) -> SuiteRun:
    """Start the robot on the test connector and play every case."""
    run = SuiteRun(plan, [], list(plan.notes))
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="burrow-transcript-"))
        env = dict(plan.environment)
        if plan.http_fixture:
            url = stack.enter_context(http_server())
            env["GBOT_TEST_HTTP_BASEURL"] = url
            run.notes.append(f"before_start test_http_server: serving {url}")
        if plan.environment:
            names = ", ".join(f"{k}={v}" for k, v in plan.environment.items())
            run.notes.append(f"environment for the robot: {names}")
        stack.enter_context(environment(env))
        robot = Robot(robot_dir, state_dir=state_dir or Path(tmp))
        await robot.load()
        connector = TestConnector(
            robot.config.protocol_config.get("test", {}),
            conventions=plan.conventions,
            hidden_commands=plan.hidden_commands,
        )
        await robot.start({"test": connector}, primary="test")
        try:
            if plan.flow:
                await play_flow(robot, connector, plan, run, settle)
            elif plan.cases and not await robot.plugins_initialized(INIT_WAIT):
                # As Gopherbot's test start-up: the cases begin once every plugin's _init ended.
                run.notes.append(f"the plugins' _init had not all ended after {INIT_WAIT:g} s")
            for index in range(len(plan.cases)):
                late = connector.drain()
                if late and run.results:
                    _blame_late(run.results[-1], late)
                elif late:
                    shown = "; ".join(repr(m.text[:80]) for m in late[:3])
                    run.notes.append(f"{len(late)} message(s) sent before the first case: {shown}")
                connector.drain_events()  # an earlier case's, read after it ended
                result = await _play_case(connector, plan, index, settle)
                run.results.append(result)
            await asyncio.sleep(settle)
            late = connector.drain()
            if late and plan.flow:  # a flow receives what it expects; Gopherbot reads no more
                run.notes.append(f"{len(late)} message(s) sent after the flow's last receive")
            elif late and run.results:
                _blame_late(run.results[-1], late)
        finally:
            await robot.stop(grace=5.0)
    return run


def _blame_late(result: CaseResult, late: list[SentMessage]) -> None:
    first = len(result.got) + 1
    result.got += late
    for i, sent in enumerate(late, first):
        result.problems.append(
            f"reply {i}: unexpected, after the case ended: {_describe_sent(sent)}"
        )


async def _play_case(connector: TestConnector, plan: Plan, index: int, settle: float) -> CaseResult:
    case = plan.cases[index]
    result = CaseResult(index + 1, case, [], [], notes=plan.notes_of(index))
    return await play_case(connector, plan, case, result, settle)


async def play_case(
    connector: TestConnector, plan: Plan, case: Case, result: CaseResult, settle: float
) -> CaseResult:
    """Send one case's input and check its replies and events into `result`."""
    deadline = time.monotonic() + plan.case_timeout if plan.case_timeout else None
    i = case.input
    try:
        await connector.inject(
            i.user,
            i.text,
            i.channel,
            threaded=i.threaded,
            thread_id=i.thread,
            message_id=i.id,
            hidden=i.hidden,
        )
    except ValueError as exc:  # an unknown user or channel: the case cannot be sent
        result.problems.append(f"input: {exc}")
        return result
    for _ in case.replies:
        wait = plan.timeout
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        sent = await connector.next_sent(max(wait, 0.0))
        if sent is None:
            break
        result.got.append(sent)
    # Whatever else arrives in the settle window is an unexpected extra reply.
    await asyncio.sleep(settle)
    result.got += connector.drain()
    result.events = connector.drain_events()
    if case.pause:
        await asyncio.sleep(case.pause)
        result.got += connector.drain()
    result.problems += compare(case, result.got) + compare_events(case, result.events)
    return result


async def play_flow(
    robot: Robot, connector: TestConnector, plan: Plan, run: SuiteRun, settle: float
) -> None:
    """Play a Gopherbot flow suite's steps (burrow.transcript.flow) into `run`."""
    from burrow.transcript.flow import FlowPlayer  # the flow's steps need the case player

    await FlowPlayer(robot, connector, plan, run, settle).play()
