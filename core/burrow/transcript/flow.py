"""Playing a Gopherbot flow suite: scripted steps, as Gopherbot's runner plays them.

Each step (burrow.transcript.gopherbot.FlowStep) runs its parts in Gopherbot's order
(`runYAMLFlow` in https://github.com/lnxjedi/gopherbot/blob/main/integration/suites/yaml_loader.go):
a `case` (played as a case suite's), `wait_for_idle`, `drain_events`, `sleep`, `send`,
`receive`, `expect_events`; each step has 14 seconds, and the first step that fails ends the
flow (the steps left are named in a note). `receive` takes the next message the robot sends,
whatever it is, and checks it as a reply is checked, then `exact_text`, `contains`,
`contains_none` (the `_upper` forms compare uppercased), and keeps `save_text_as`,
`capture_regex` (the first group) and `capture_pipeline_wid` (the first field of the `ps` line
naming the pipeline and the command) for `${name}` in later steps' texts and patterns.
`wait_for_idle` waits until the plugins' start-up `_init` pipelines have ended (Gopherbot's
WaitForBackgroundInits; `Robot.plugins_initialized`). Events are compared as a
case's: those Burrow records, the others named in a note.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

from burrow.connectors.testing import SentMessage, TestConnector
from burrow.engine.config.durations import parse_duration
from burrow.engine.events import RECORDED, Event
from burrow.engine.patterns import PatternError, compile_pattern
from burrow.transcript.model import Case, Input, Plan
from burrow.transcript.play import CaseResult, SuiteRun, play_case

if TYPE_CHECKING:
    from burrow.engine.robot import Robot
    from burrow.transcript.gopherbot import FlowStep, Receive

__all__ = ["FlowPlayer"]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _Failed(Exception):
    """A step's check failed; the message says how."""


class FlowPlayer:
    """Plays the flow of one plan against a started robot."""

    def __init__(
        self, robot: Robot, connector: TestConnector, plan: Plan, run: SuiteRun, settle: float
    ) -> None:
        self.robot = robot
        self.connector = connector
        self.plan = plan
        self.run = run
        self.settle = settle
        self.values: dict[str, str] = {}

    def expand(self, text: str) -> str:
        """`text` with each `${name}` a step saved replaced (unknown names stay as written)."""
        return _VARIABLE.sub(lambda m: self.values.get(m.group(1), m.group(0)), text)

    async def play(self) -> None:
        """Play every step, stopping at the first that fails."""
        steps = self.plan.flow
        for number, flow in enumerate(steps, 1):
            step = flow.step
            result = CaseResult(number, flow.case or _step_case(step), [], [])
            result.title = _title(number, step)
            deadline = time.monotonic() + (self.plan.case_timeout or self.plan.timeout)
            try:
                if flow.case is not None:
                    await self._case(flow.case, result)
                await self._step(step, result, deadline)
            except _Failed as failure:
                result.problems.append(str(failure))
            self.run.results.append(result)
            if result.problems:
                if number < len(steps):
                    self.run.notes.append(
                        f"steps {number + 1} to {len(steps)} not run: step {number} failed"
                    )
                return

    async def _case(self, case: Case, result: CaseResult) -> None:
        self.connector.drain_events()  # as the case runner: the case's own events only
        await play_case(self.connector, self.plan, case, result, self.settle)
        if case.unchecked_events:
            unchecked = ", ".join(case.unchecked_events)
            result.notes.append(f"events not checked, as Burrow does not record them: {unchecked}")

    async def _step(self, step: FlowStep, result: CaseResult, deadline: float) -> None:
        if result.problems:
            return
        if step.wait_for_idle:
            await self._wait_for_idle(deadline)
        if step.drain_events:
            self.connector.drain_events()
        if step.sleep.strip():
            await asyncio.sleep(parse_duration(step.sleep))
        if step.send is not None:
            sent = step.send
            try:
                await self.connector.inject(
                    sent.user,
                    self.expand(sent.text),
                    sent.channel,
                    threaded=sent.threaded,
                    message_id=sent.message_id,
                    hidden=sent.hidden,
                )
            except ValueError as exc:  # an unknown user or channel
                raise _Failed(f"send: {exc}") from None
        if step.receive is not None:
            await self._receive(step.receive, result, deadline)
        if step.expect_events:
            await asyncio.sleep(self.settle)  # let the events of what was just said arrive
            got = self.connector.drain_events()
            result.events = got
            checked = [e for e in step.expect_events if Event(e) in RECORDED]
            unchecked = [e for e in step.expect_events if Event(e) not in RECORDED]
            if unchecked:
                result.notes.append(
                    "events not checked, as Burrow does not record them: " + ", ".join(unchecked)
                )
            seen = [r.event.value for r in got]
            if seen != checked:
                raise _Failed(
                    f"events: expected [{', '.join(checked)}]\n"
                    f"          got      [{', '.join(seen)}]"
                )

    def _describe(self, want: Receive) -> str:
        pattern = self.expand(want.text_pattern)
        return (
            f"user={want.user!r} channel={want.channel!r} threaded={want.threaded} text~/{pattern}/"
        )

    async def _wait_for_idle(self, deadline: float) -> None:
        if not await self.robot.plugins_initialized(max(deadline - time.monotonic(), 0.0)):
            raise _Failed("wait_for_idle: the robot's _init pipelines did not end in time")

    async def _receive(self, want: Receive, result: CaseResult, deadline: float) -> None:
        got = await self.connector.next_sent(max(deadline - time.monotonic(), 0.0))
        if got is None:
            raise _Failed(f"receive: expected {self._describe(want)}\n         got nothing")
        result.got.append(got)
        pattern = self.expand(want.text_pattern)
        try:
            matched = compile_pattern(pattern).search(got.text) is not None
        except PatternError as error:
            raise _Failed(f"receive: text_pattern {pattern!r}: {error}") from None
        if not matched or (got.user, got.channel, got.threaded) != (
            want.user,
            want.channel,
            want.threaded,
        ):
            raise _Failed(
                f"receive: expected {self._describe(want)}\n         got      {_sent(got)}"
            )
        if want.save_text_as:
            self.values[want.save_text_as] = got.text
        problems = []
        if want.exact_text and got.text != self.expand(want.exact_text):
            problems.append(f"exact_text: want {self.expand(want.exact_text)!r}, got {got.text!r}")
        for needles, upper, forbidden in (
            (want.contains, False, False),
            (want.contains_upper, True, False),
            (want.contains_none, False, True),
            (want.contains_none_upper, True, True),
        ):
            haystack = got.text.upper() if upper else got.text
            for needle in needles:
                text = self.expand(needle).upper() if upper else self.expand(needle)
                if (text in haystack) == forbidden:
                    problems.append(f"{'unexpected' if forbidden else 'missing'} {text!r}")
        for name, raw in want.capture_regex.items():
            try:
                captured = compile_pattern(self.expand(raw)).search(got.text)
            except PatternError as error:
                raise _Failed(f"receive: capture_regex {name}: {error}") from None
            value = captured.group(1) if captured is not None and captured.groups() else None
            if value is None:
                raise _Failed(f"receive: capture_regex {name}: {raw!r} did not match {got.text!r}")
            self.values[name] = value
        wid = want.capture_pipeline_wid
        if wid is not None:
            found = _pipeline_id(got.text, self.expand(wid.pipeline), self.expand(wid.command))
            if not found:
                problems.append(f"capture_pipeline_wid: no {wid.pipeline!r} line in the output")
            self.values[wid.name or "wid"] = found
        if problems:
            raise _Failed(f"receive: {got.text!r}: " + "; ".join(problems))


def _pipeline_id(listing: str, pipeline: str, command: str) -> str:
    """The first field of the first line naming both (case-insensitive), as Gopherbot's."""
    for line in listing.splitlines():
        upper = line.upper()
        if pipeline.upper() in upper and command.upper() in upper and line.split():
            return line.split()[0]
    return ""


def _step_case(step: FlowStep) -> Case:
    """A stand-in case for a step's report entry: its message, if it sends one."""
    sent = step.send
    if sent is None:
        return Case(input=Input(user="", text=""), name=step.name)
    return Case(
        input=Input(
            user=sent.user,
            text=sent.text,
            channel=sent.channel,
            threaded=sent.threaded,
            hidden=sent.hidden,
        ),
        name=step.name,
    )


def _title(number: int, step: FlowStep) -> str:
    parts = []
    if step.case is not None:
        parts.append(f"case {step.case.input.user}: {step.case.input.text!r}")
    parts += [
        label for label, on in (("wait", step.wait_for_idle), ("drain", step.drain_events)) if on
    ]
    if step.sleep.strip():
        parts.append(f"sleep {step.sleep}")
    if step.send is not None:
        where = f"#{step.send.channel}" if step.send.channel else "DM"
        parts.append(f"send {step.send.user} in {where}: {step.send.text!r}")
    if step.receive is not None:
        parts.append("receive")
    if step.expect_events:
        parts.append("events")
    name = f" ({step.name})" if step.name else ""
    return f"step {number}{name}: " + ", ".join(parts or ["nothing"])


def _sent(s: SentMessage) -> str:
    return f"user={s.user!r} channel={s.channel!r} threaded={s.threaded} text={s.text!r}"
