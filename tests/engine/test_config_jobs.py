"""Specification of a job's configuration: channel, triggers, arguments and timeouts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from burrow.engine.config import ConfigProblem, JobConfig, finalize_job, load_robot


def job(
    tmp_path: Path, file: str | None, robot_yaml: str = "", default: str | None = None
) -> JobConfig | list[ConfigProblem]:
    """Write a robot with the job `backup` and finalize it."""
    conf = tmp_path / "conf"
    (conf / "jobs").mkdir(parents=True)
    (conf / "robot.yaml").write_text(textwrap.dedent(robot_yaml), encoding="utf-8")
    if file is not None:
        (conf / "jobs" / "backup.yaml").write_text(textwrap.dedent(file), encoding="utf-8")
    return finalize_job(load_robot(tmp_path, {}), "backup", default)


def valid(result: JobConfig | list[ConfigProblem]) -> JobConfig:
    """Return a finalized job, failing with its problems if it was disabled."""
    assert isinstance(result, JobConfig), "\n".join(map(str, result))
    return result


def only_problem(result: JobConfig | list[ConfigProblem]) -> ConfigProblem:
    """Return the single problem of a disabled job."""
    assert isinstance(result, list) and len(result) == 1, f"expected one problem: {result!r}"
    return result[0]


def test_a_job_keeps_its_own_channel(tmp_path: Path) -> None:
    result = valid(job(tmp_path, "Channel: backups\n", robot_yaml="DefaultJobChannel: jobs\n"))

    assert result.channel == "backups"


def test_a_job_without_channel_gets_the_default_job_channel(tmp_path: Path) -> None:
    assert valid(
        job(tmp_path, "Quiet: true\n", robot_yaml="DefaultJobChannel: jobs\n")
    ).channel == ("jobs")


def test_a_job_without_any_channel_is_disabled_with_a_reason(tmp_path: Path) -> None:
    problem = only_problem(job(tmp_path, "Quiet: true\n"))

    assert (problem.file, problem.key) == ("conf/jobs/backup.yaml", "Channel")
    assert "disabled" in problem.message
    assert "DefaultJobChannel" in problem.hint


def test_a_disabled_job_needs_no_channel(tmp_path: Path) -> None:
    assert valid(job(tmp_path, "Disabled: true\n")).disabled is True


def test_a_full_job_file_loads(tmp_path: Path) -> None:
    file = """\
    Channel: ops
    Quiet: true
    KeepLogs: 7
    RequireAdmin: true
    Users: [alice]
    Triggers:
    - {Regex: 'deploy (\\w+) finished', User: ci-bot, Channel: builds}
    Arguments:
    - {Label: target, Regex: '(prod|staging)'}
    Config: {Retain: 30}
    """

    result = valid(job(tmp_path, file))

    assert (result.quiet, result.keep_logs, result.users) == (True, 7, ["alice"])
    assert result.triggers[0].user == "ci-bot"
    assert result.arguments[0].label == "target"
    assert result.config == {"Retain": 30}


@pytest.mark.parametrize(
    ("file", "key", "line", "message"),
    [
        pytest.param(
            "Channel: ops\nTriggers:\n- {Regex: 'done (', User: ci}\n",
            "Triggers[0].Regex",
            3,
            "missing )",
            id="bad-trigger-regex",
        ),
        pytest.param(
            "Channel: ops\nTriggers:\n- {User: ci}\n",
            "Triggers[0].Regex",
            3,
            "needs a Regex",
            id="trigger-without-regex",
        ),
        pytest.param(
            "Channel: ops\nArguments:\n- {Regex: '.*'}\n",
            "Arguments[0].Label",
            3,
            "missing Label",
            id="argument-without-label",
        ),
        pytest.param(
            "Channel: ops\nCommands: []\n", "Commands", 2, "unknown key", id="plugin-only-key"
        ),
        pytest.param(
            "Channel: ops\nParameterSets: [aws]\n",
            "ParameterSets",
            2,
            "only be set in conf/robot.yaml",
            id="robot-only-key",
        ),
    ],
)
def test_job_rules(tmp_path: Path, file: str, key: str, line: int, message: str) -> None:
    problem = only_problem(job(tmp_path, file))

    assert (problem.file, problem.key, problem.line) == ("conf/jobs/backup.yaml", key, line)
    assert message in problem.message


def test_job_timeouts_default_to_an_hour_and_two(tmp_path: Path) -> None:
    result = valid(job(tmp_path, "Channel: ops\n"))

    assert (result.time_outs.warn, result.time_outs.kill) == (3600.0, 7200.0)


def test_a_jobs_own_timeout_overrides_the_robots(tmp_path: Path) -> None:
    result = valid(job(tmp_path, "Channel: ops\nTimeOuts: {Warn: 10m, Kill: 20m}\n"))

    assert (result.time_outs.warn, result.time_outs.kill) == (600.0, 1200.0)


def test_a_job_default_config_merges_under_its_file(tmp_path: Path) -> None:
    result = valid(
        job(
            tmp_path,
            "Config: {Retain: 3}\n",
            default="Channel: ops\nConfig: {Retain: 30, Path: /b}\n",
        )
    )

    assert (result.channel, result.config) == ("ops", {"Retain": 3, "Path": "/b"})
