"""What happened to a message, told to the connector that carried it (Gopherbot's test events).

Gopherbot's engine emits an event at each step that decides a message's fate — a direct
message heard, an admin check, an authorizer's or elevator's verdict, the kind of pipeline
started, each task run — and its integration suites check the sequence
(https://github.com/lnxjedi/gopherbot/blob/main/bot/events.go). Burrow records the same events
at the same steps and hands each to the connector of the message's protocol if that connector
is an `EventRecorder` (the test connector is; other connectors are not, and then recording
costs one dictionary look-up). Which events Burrow records is `RECORDED`; docs/transcripts.md
lists them and says why the others are not.

The mappings here are pure; the engine calls `emit` where each event happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from burrow.constants import TaskRetVal
from burrow.engine.routing import Reason

__all__ = [
    "RECORDED",
    "Event",
    "EventRecord",
    "EventRecorder",
    "admin_check",
    "callback_verdict",
    "emit",
    "routing_events",
    "trigger_event",
]


class Event(StrEnum):
    """Gopherbot's event names, in its order."""

    IgnoredUser = "IgnoredUser"
    BotDirectMessage = "BotDirectMessage"
    AdminCheckPassed = "AdminCheckPassed"
    AdminCheckFailed = "AdminCheckFailed"
    MultipleMatchesNoAction = "MultipleMatchesNoAction"
    AuthNoRunMisconfigured = "AuthNoRunMisconfigured"
    AuthNoRunPlugNotAvailable = "AuthNoRunPlugNotAvailable"
    AuthRanSuccess = "AuthRanSuccess"
    AuthRanFail = "AuthRanFail"
    AuthRanMechanismFailed = "AuthRanMechanismFailed"
    AuthRanFailNormal = "AuthRanFailNormal"
    AuthRanFailOther = "AuthRanFailOther"
    AuthNoRunNotFound = "AuthNoRunNotFound"
    ElevNoRunMisconfigured = "ElevNoRunMisconfigured"
    ElevNoRunNotAvailable = "ElevNoRunNotAvailable"
    ElevRanSuccess = "ElevRanSuccess"
    ElevRanFail = "ElevRanFail"
    ElevRanMechanismFailed = "ElevRanMechanismFailed"
    ElevRanFailNormal = "ElevRanFailNormal"
    ElevRanFailOther = "ElevRanFailOther"
    ElevNoRunNotFound = "ElevNoRunNotFound"
    CommandTaskRan = "CommandTaskRan"
    AmbientTaskRan = "AmbientTaskRan"
    CatchAllsRan = "CatchAllsRan"
    CatchAllTaskRan = "CatchAllTaskRan"
    TriggeredTaskRan = "TriggeredTaskRan"
    SpawnedTaskRan = "SpawnedTaskRan"
    ScheduledTaskRan = "ScheduledTaskRan"
    JobTaskRan = "JobTaskRan"
    GoPluginRan = "GoPluginRan"
    ExternalTaskBadPath = "ExternalTaskBadPath"
    ExternalTaskBadInterpreter = "ExternalTaskBadInterpreter"
    ExternalTaskRan = "ExternalTaskRan"
    ExternalTaskStderrOutput = "ExternalTaskStderrOutput"
    ExternalTaskErrExit = "ExternalTaskErrExit"


# What Burrow records. The others describe failures Burrow reports differently: an
# authorizer or elevator that is missing refuses the command before anything runs (one
# refusal, docs/security.md), and a child's path, interpreter, stderr and exit status are the
# runner's business, logged in the pipeline log rather than told apart as events.
RECORDED = frozenset(Event) - {
    Event.AuthNoRunMisconfigured,
    Event.AuthNoRunPlugNotAvailable,
    Event.AuthNoRunNotFound,
    Event.ElevNoRunMisconfigured,
    Event.ElevNoRunNotAvailable,
    Event.ElevNoRunNotFound,
    Event.ExternalTaskBadPath,
    Event.ExternalTaskBadInterpreter,
    Event.ExternalTaskStderrOutput,
    Event.ExternalTaskErrExit,
}


@dataclass(frozen=True)
class EventRecord:
    """One event; `task` names the task that ran, for the *Ran events of a task."""

    event: Event
    task: str = ""


@runtime_checkable
class EventRecorder(Protocol):
    """A connector that wants to hear the events of the messages it carried."""

    def record_event(self, record: EventRecord) -> None:
        """Hear one event; must return at once."""


def emit(connectors: Mapping[str, object], protocol: str, event: Event, task: str = "") -> None:
    """Tell the connector of `protocol` that `event` happened, if it records events."""
    # What isinstance(connector, EventRecorder) checks, without its cost: a runtime-checkable
    # Protocol lists its members at every check, about 40 µs, twice per command.
    record = getattr(connectors.get(protocol), "record_event", None)
    if callable(record):
        record(EventRecord(event, task))


# Routing reasons after which Gopherbot never reaches its message handler, and the event each
# one emits, if any.
_DROPPED: dict[Reason, Event | None] = {
    Reason.SELF: None,
    Reason.NO_USER: None,
    Reason.IGNORED_USER: Event.IgnoredUser,
    Reason.UNLISTED_USER: Event.IgnoredUser,
    Reason.HIDDEN_UNSUPPORTED: None,
    Reason.HIDDEN_UNADDRESSED: None,
}
# An addressed message that matched nothing "runs the catch-alls" upstream, even when there is
# none and the robot only says it does not know the command.
_DECIDED: dict[Reason, Event] = {
    Reason.AMBIGUOUS: Event.MultipleMatchesNoAction,
    Reason.CATCH_ALL: Event.CatchAllsRan,
    Reason.UNKNOWN_COMMAND: Event.CatchAllsRan,
}


def routing_events(direct: bool, reason: Reason) -> tuple[Event, ...]:
    """The events of routing a message (`direct`: a DM) for `reason`."""
    if reason in _DROPPED:
        dropped = _DROPPED[reason]
        return (dropped,) if dropped is not None else ()
    events = [Event.BotDirectMessage] if direct else []
    decided = _DECIDED.get(reason)
    if decided is not None:
        events.append(decided)
    return tuple(events)


_TRIGGERS: dict[str, Event] = {
    "command": Event.CommandTaskRan,
    "ambient": Event.AmbientTaskRan,
    "catchall": Event.CatchAllTaskRan,
    "triggered": Event.TriggeredTaskRan,
    "spawned": Event.SpawnedTaskRan,
    "scheduled": Event.ScheduledTaskRan,
    "init": Event.ScheduledTaskRan,  # an @init job, announced as such (engine/announce.py)
    "job-command": Event.JobTaskRan,
}


def trigger_event(trigger: str, command: str) -> Event | None:
    """The event of a pipeline whose first step passed its checks, by what started it."""
    if trigger == "command" and command == "_init":
        return None
    return _TRIGGERS.get(trigger)


def admin_check(required: bool, is_admin: bool) -> Event | None:
    """The event of the admin check of a step, which is made only when the step requires it."""
    if not required:
        return None
    return Event.AdminCheckPassed if is_admin else Event.AdminCheckFailed


_VERDICTS: dict[int, str] = {
    TaskRetVal.Success: "RanSuccess",
    TaskRetVal.Fail: "RanFail",
    TaskRetVal.MechanismFail: "RanMechanismFailed",
    TaskRetVal.Normal: "RanFailNormal",
}


def callback_verdict(kind: str, ret_val: int) -> Event:
    """The event of an authorizer's (`kind` "Auth") or elevator's ("Elev") TaskRetVal."""
    return Event(kind + _VERDICTS.get(ret_val, "RanFailOther"))
