"""The robot's own words about pipelines (engine/announce.py), as upstream's engine says them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from burrow.engine import announce


@pytest.mark.parametrize(
    ("trigger", "said"),
    [
        ("triggered", "Starting job 'deploy web', run 7 - triggered by app 'bob' in channel 'ops'"),
        (
            "job-command",
            "Starting job 'deploy web', run 7 - requested by user 'bob' in channel 'ops'",
        ),
        ("scheduled", "Starting scheduled job 'deploy web', run 7"),
        ("init", "Starting init job 'deploy web', run 7"),
        ("command", "Starting job 'deploy web', run 7"),
        ("ambient", "Starting job 'deploy web', run 7"),
    ],
)
def test_a_job_start_names_what_started_it(trigger: str, said: str) -> None:
    assert announce.job_started("deploy", ["web"], 7, trigger, "bob", "ops") == said


def test_a_job_started_in_a_direct_message_says_so() -> None:
    assert announce.job_started("j", [], 1, "job-command", "bob", "").endswith(
        "requested by user 'bob' in channel '(direct message)'"
    )


def test_a_spawned_job_names_its_parent_and_the_parents_description() -> None:
    assert (
        announce.job_started("j", ["a"], 3, "spawned", "bob", "", ("builder", "builds things"))
        == "Starting job 'j a', run 3 - spawned by pipeline 'builder': builds things"
    )


def test_a_job_end_by_outcome() -> None:
    assert (
        announce.job_finished("j", 4, 0, "task", "last")
        == "Finished job 'j', run 4, final task 'last', status: normal"
    )
    assert (
        announce.job_finished("j", 4, 2, "plugin", "p", "does p")
        == "Job 'j', run number 4 failed in plugin: 'p' - does p, exit code: 2 (MechanismFail)"
    )
    assert (
        announce.job_finished("j", 4, 4, "job", "j", abort_tag="ns:deploy")
        == "Job 'j', run number 4 aborted, exclusive job 'ns:deploy' already in progress"
    )


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.4, "0s"),
        (119, "119s"),
        (120, "2m"),
        (3599, "59m"),
        (3600 * 3 + 61, "3h1m"),
        (86400 * 2 + 3600 * 5, "2d5h"),
    ],
)
def test_ages_read_as_upstream_writes_them(seconds: float, shown: str) -> None:
    assert announce.age_text(seconds) == shown


def test_a_failure_alert_has_the_facts_then_the_log() -> None:
    started = time.mktime((2026, 1, 2, 15, 4, 5, 0, 0, -1))
    text = announce.failure_alert(
        1, 12, "pipe", "pipe/go x", started, 3, "boom happened", "line one\nline two"
    )
    assert text.splitlines() == [
        "Pipeline failure: exit code 1 (Fail)",
        "WID: `12`",
        "Pipeline: `pipe`",
        "Current task: `pipe/go x`",
        "Started: `Jan 2 15:04:05`",
        "Age: `3s`",
        "Failure detail: `boom happened`",
        "Recent log:",
        "```",
        "line one",
        "line two",
        "```",
    ]


def test_the_log_tail_keeps_the_last_lines_within_the_budget_and_cuts_long_ones(
    tmp_path: Path,
) -> None:
    log = tmp_path / "pipeline.log"
    lines = [f"line {n:04d} " + "x" * 40 for n in range(500)] + ["y" * 2000]
    log.write_text("\n".join(lines) + "\n")
    tail = announce.log_tail(log)
    assert len(tail.encode()) <= announce.TAIL_BYTES
    kept = tail.splitlines()
    assert kept[-1] == "y" * announce.TAIL_LINE_BYTES + " ..."
    assert kept[-2] == lines[-2] and kept[0] in lines  # whole lines, the newest ones
    assert announce.log_tail(tmp_path / "missing.log") == ""
