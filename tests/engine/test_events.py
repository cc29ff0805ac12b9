"""Which of Gopherbot's events a routing decision, a pipeline and a callback's verdict make."""

from __future__ import annotations

import pytest

from burrow.constants import TaskRetVal
from burrow.engine.events import (
    RECORDED,
    Event,
    admin_check,
    callback_verdict,
    routing_events,
    trigger_event,
)
from burrow.engine.routing import Reason


@pytest.mark.parametrize(
    ("direct", "reason", "events"),
    [
        (True, Reason.COMMAND, [Event.BotDirectMessage]),
        (False, Reason.COMMAND, []),
        (True, Reason.PROMPT, [Event.BotDirectMessage]),
        (False, Reason.IGNORED_USER, [Event.IgnoredUser]),
        (True, Reason.UNLISTED_USER, [Event.IgnoredUser]),
        (True, Reason.SELF, []),
        (False, Reason.AMBIGUOUS, [Event.MultipleMatchesNoAction]),
        (True, Reason.UNKNOWN_COMMAND, [Event.BotDirectMessage, Event.CatchAllsRan]),
        (False, Reason.CATCH_ALL, [Event.CatchAllsRan]),
        (False, Reason.WRONG_PLACE, []),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_routing_events_follow_gopherbots_handler(
    direct: bool, reason: Reason, events: list[Event]
) -> None:
    assert list(routing_events(direct, reason)) == events


@pytest.mark.parametrize(
    ("ret", "kind", "event"),
    [
        (TaskRetVal.Success, "Auth", Event.AuthRanSuccess),
        (TaskRetVal.Fail, "Auth", Event.AuthRanFail),
        (TaskRetVal.MechanismFail, "Elev", Event.ElevRanMechanismFailed),
        (TaskRetVal.Normal, "Elev", Event.ElevRanFailNormal),
        (TaskRetVal.ConfigurationError, "Auth", Event.AuthRanFailOther),
    ],
)
def test_a_callbacks_return_value_names_its_verdict(ret: int, kind: str, event: Event) -> None:
    assert callback_verdict(kind, ret) is event


def test_the_pipeline_kind_event_and_the_admin_check() -> None:
    assert trigger_event("command", "deploy") is Event.CommandTaskRan
    assert trigger_event("command", "_init") is None
    assert trigger_event("job-command", "") is Event.JobTaskRan
    assert trigger_event("subscription", "_subscribed") is None
    assert admin_check(False, False) is None
    assert admin_check(True, False) is Event.AdminCheckFailed


def test_every_recorded_event_is_one_of_gopherbots() -> None:
    assert RECORDED < set(Event) and Event.ExternalTaskErrExit not in RECORDED
