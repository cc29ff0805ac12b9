"""Where Burrow answers as upstream Gopherbot does: refusal texts, what is hidden, job news.

Each test pins one behaviour of upstream's engine (https://github.com/lnxjedi/gopherbot, the
file named in the test) that a run of its own suites against Burrow found different.
"""

from __future__ import annotations

import asyncio
import re

from burrow.connectors import testing
from burrow.constants import RetVal
from burrow.engine.robot import Robot
from support import run

GO = "config: |\n  Commands:\n    - {Command: go, Regex: 'go(?: (.*))?'}\n"


def unknown(text: str, channel: str = "general") -> str:
    """What upstream's fallback says to an addressed message that matched nothing here."""
    return (
        f"I couldn't match `;{text}` in channel `#{channel}`.\n"
        "Try `;commands` or `;help <keyword>`."
    )


def test_an_admin_command_is_refused_in_the_channel_with_upstreams_text(harness) -> None:
    # bot/run_pipelines.go: r.Say("Sorry, '%s/%s' is only available to bot administrators")
    harness.extension(
        "plugin", "pipe", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="AdminCommands: [go]\n"
    )

    async def main():
        await harness.start()
        try:
            return await harness.exchange("bob", ";go")
        finally:
            await harness.stop()

    [sent] = run(main())
    assert (sent.user, sent.channel, sent.text) == (
        "",
        "general",
        "Sorry, 'pipe/go' is only available to bot administrators",
    )


# -- hidden, not revealed (bot/available.go: userCanAccessTask, commandVisibleToUser) ----------


def _texts(harness, *lines: tuple[str, str, str]) -> list[str]:
    """Each (user, text, channel) in turn, with the one answer each gets."""

    async def main() -> list[str]:
        await harness.start()
        try:
            heard: list[str] = []
            for user, text, channel in lines:
                heard += await harness.texts(user, text, channel)
            return heard
        finally:
            await harness.stop()

    return run(main())


def test_an_admin_only_plugin_is_unknown_to_other_users(harness) -> None:
    harness.extension(
        "plugin", "vault", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="RequireAdmin: true\n"
    )
    assert _texts(harness, ("bob", ";go", "general"), ("alice", ";go", "general")) == [
        unknown("go"),
        "ran",
    ]


def test_a_plugin_for_other_users_is_unknown_and_the_catch_all_gets_the_message(harness) -> None:
    harness.extension(
        "plugin", "mine", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="Users: [alice]\n"
    )
    harness.extension(
        "plugin",
        "fallback",
        "config: |\n  CatchAll: true\ncommands:\n  _catchall:\n    - [Say, 'caught {args[1]}']\n",
    )
    assert _texts(harness, ("bob", ";go", "general"), ("alice", ";go", "general")) == [
        "caught go",
        "ran",
    ]


def test_a_command_hidden_from_the_user_gets_no_wrong_channel_hint(harness) -> None:
    harness.extension(
        "plugin",
        "ops",
        "config: |\n  Commands: [{Command: go, Regex: go}, {Command: stop, Regex: stop}]\n"
        "commands:\n  go:\n    - [Say, ran]\n  stop:\n    - [Say, stopped]\n",
        conf="Channels: [random]\nAdminCommands: [stop]\n",
    )
    assert _texts(
        harness,
        ("bob", ";stop", "general"),
        ("alice", ";stop", "general"),
        ("bob", ";go", "general"),
    ) == [
        unknown("stop"),
        "Sorry, 'ops/stop' cannot be run in this channel",
        "Sorry, 'ops/go' cannot be run in this channel",
    ]


def test_help_lists_only_what_the_user_may_see(harness) -> None:
    harness.extension(
        "plugin",
        "ops",
        "config: |\n  Commands: [{Command: go, Regex: go, Usage: 'go - go'},"
        " {Command: stop, Regex: stop, Usage: 'stop - stop'}]\n"
        "commands:\n  go:\n    - [Say, ran]\n",
        conf="AdminCommands: [stop]\n",
    )
    harness.extension(
        "plugin",
        "vault",
        "config: |\n  Commands: [{Command: open, Regex: open, Usage: 'open - open'}]\n"
        "commands:\n  open:\n    - [Say, ran]\n",
        conf="RequireAdmin: true\n",
    )
    bob, alice = _texts(harness, ("bob", ";help", "general"), ("alice", ";help", "general"))
    # As upstream's help: an AdminCommands command is listed to everyone (running it is what a
    # non-administrator is refused); a RequireAdmin plugin is not.
    assert ";go - go (ops)" in bob and ";stop - stop (ops)" in bob and "open" not in bob
    assert "ps - list running pipelines" not in bob
    assert ";stop - stop (ops)" in alice and ";open - open (vault)" in alice and ";ps" in alice


def test_an_admin_only_plugin_reached_by_add_command_is_still_refused(harness) -> None:
    harness.extension(
        "plugin", "vault", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="RequireAdmin: true\n"
    )
    harness.extension(
        "plugin",
        "adder",
        "config: |\n  Commands: [{Command: add, Regex: add}]\n"
        "commands:\n  add:\n    - [AddCommand, vault, go]\n",
    )
    assert _texts(harness, ("bob", ";add", "general"), ("alice", ";add", "general")) == [
        "Sorry, 'vault/go' is only available to bot administrators",
        "ran",
    ]


# -- job announcements (bot/run_pipelines.go) and failure alerts (bot/pipeline_monitoring.go) ---


def _norm(texts: list[str]) -> list[str]:
    """Run numbers are pipeline ids: the same shape every run, not the same number."""
    return [re.sub(r"run (number )?\d+", lambda m: f"run {m.group(1) or ''}N", t) for t in texts]


async def _everything(harness, user: str, text: str, quiet: float = 1.5):
    """Send `text`, then everything the robot sends until it is quiet, alerts included."""
    await harness.send(user, text)
    out = []
    while (sent := await harness.connector.next_sent(quiet)) is not None:
        out.append(sent)
    return out


def _said(harness, user: str, text: str):
    async def main():
        await harness.start()
        try:
            return await _everything(harness, user, text)
        finally:
            await harness.stop()

    return run(main())


def _note_task(harness, name: str, kind: str = "task", conf: str = "", ret: int = 0) -> None:
    harness.extension(
        kind,
        name,
        f"commands:\n  '*':\n    - [Say, 'NOTE {name} {{args}}']\n    - {{return: {ret}}}\n",
        conf=conf,
    )


def test_a_job_added_with_add_job_runs_as_its_own_announced_pipeline(harness) -> None:
    _note_task(harness, "pipe-job", kind="job")
    _note_task(harness, "after")
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [AddJob, pipe-job, job-step]\n    - [AddTask, after]\n",
    )
    sent = _said(harness, "alice", ";go")
    assert [(m.channel, t) for m, t in zip(sent, _norm([m.text for m in sent]), strict=True)] == [
        ("jobs", "Starting job 'pipe-job job-step', run N"),
        ("jobs", "NOTE pipe-job ['job-step']"),
        ("jobs", "Finished job 'pipe-job', run N, final task 'pipe-job', status: normal"),
        ("general", "NOTE after []"),  # the plugin's pipeline goes on in its own channel
    ]


def test_a_failing_added_job_stops_the_pipeline_that_added_it(harness) -> None:
    _note_task(harness, "pipe-job", kind="job", ret=1, conf="Quiet: true\n")
    _note_task(harness, "after")
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [AddJob, pipe-job]\n    - [AddTask, after]\n",
    )
    texts = [m.text for m in _said(harness, "alice", ";go")]
    assert texts[0] == "NOTE pipe-job []" and "NOTE after []" not in texts


def test_a_spawned_job_names_the_pipeline_that_spawned_it(harness) -> None:
    _note_task(harness, "pipe-spawn-job", kind="job")
    harness.extension(
        "plugin",
        "spawner",
        GO + "commands:\n  go:\n    - [SpawnJob, pipe-spawn-job, spawn-step]\n",
        settings="Description: spawns jobs",
    )
    texts = _norm([m.text for m in _said(harness, "alice", ";go")])
    assert texts == [
        "Starting job 'pipe-spawn-job spawn-step', run N - spawned by pipeline 'spawner': "
        "spawns jobs",
        "NOTE pipe-spawn-job ['spawn-step']",
        "Finished job 'pipe-spawn-job', run N, final task 'pipe-spawn-job', status: normal",
    ]


def test_a_triggered_job_names_who_triggered_it_and_where(harness) -> None:
    _note_task(harness, "deploy", kind="job", conf="Triggers: [{Regex: 'deploy now'}]\n")
    texts = _norm([m.text for m in _said(harness, "bob", "deploy now")])
    assert texts[0] == "Starting job 'deploy', run N - triggered by app 'bob' in channel 'general'"


def test_an_init_job_is_announced_as_one(harness) -> None:
    _note_task(harness, "boot", kind="job")
    harness.robot_yaml += "ScheduledJobs: [{Name: boot, Schedule: '@init', Arguments: [x]}]\n"

    async def main():
        await harness.start()
        try:
            out = []
            while (sent := await harness.connector.next_sent(1.5)) is not None:
                out.append(sent.text)
            return out
        finally:
            await harness.stop()

    assert _norm(run(main()))[0] == "Starting init job 'boot x', run N"


def test_a_failing_plugin_pipeline_alerts_the_operator_channel_after_its_fail_tasks(
    harness,
) -> None:
    _note_task(harness, "fail-task")
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [Log, 2, 'about to fail']\n    - [FailTask, fail-task]\n"
        "    - [Say, 'PIPELINE FAIL: armed']\n    - {return: 1}\n",
    )
    sent = _said(harness, "alice", ";go")
    assert [m.text for m in sent[:2]] == ["PIPELINE FAIL: armed", "NOTE fail-task []"]
    [alert] = sent[2:]
    lines = alert.text.splitlines()
    assert (alert.channel, alert.user, alert.format) == ("jobs", "", 3)  # BasicMarkdown
    assert lines[0] == "Pipeline failure: exit code 1 (Fail)"
    assert lines[2:4] == ["Pipeline: `pipe`", "Current task: `pipe/go`"]
    assert re.fullmatch(r"Started: `[A-Z][a-z]{2} \d{1,2} \d\d:\d\d:\d\d`", lines[4])
    assert lines[5] == "Age: `0s`" and lines[6] == "Recent log:"
    assert "pipe: about to fail" in alert.text


def test_a_refused_command_sends_no_alert(harness) -> None:
    harness.extension(
        "plugin", "pipe", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="AdminCommands: [go]\n"
    )
    assert [m.text for m in _said(harness, "bob", ";go")] == [
        "Sorry, 'pipe/go' is only available to bot administrators"
    ]


def test_a_failing_job_shows_its_log_alerts_and_says_where_it_failed(harness) -> None:
    _note_task(harness, "boom", ret=1)
    harness.extension(
        "job",
        "nightly",
        "commands:\n  '*':\n    - [AddTask, boom]\n",
        conf="Channel: ops\n",
    )
    sent = _said(harness, "alice", ";run job nightly")
    texts = _norm([m.text for m in sent])
    assert (
        texts[0] == "Starting job 'nightly', run N - requested by user 'alice' in channel 'general'"
    )
    assert texts[1] == "NOTE boom []"
    assert texts[2] == "pipeline failed in task boom with exit code 1 (Fail); log excerpt:"
    assert "running task boom" in texts[3] and sent[3].format == 1  # the log, Fixed
    assert texts[4].startswith("Pipeline failure: exit code 1 (Fail)\n")
    assert texts[5] == "Job 'nightly', run number N failed in task: 'boom', exit code: 1 (Fail)"
    assert {m.channel for m in sent} == {"ops"}


def test_a_job_refused_an_exclusive_tag_says_it_was_aborted(harness) -> None:
    harness.extension(
        "plugin",
        "holder",
        GO + "commands:\n  go:\n    - {call: [Exclusive, deploy], as: x}\n    - {sleep: 2}\n",
        settings="NameSpace: shared",
    )
    harness.extension(
        "job",
        "deployer",
        "commands:\n  '*':\n    - {call: [Exclusive, deploy], as: x}\n    - [Say, 'got={x[bool]}']\n",
        settings="NameSpace: shared",
        conf="Channel: ops\n",
    )
    harness.robot_yaml += "NameSpaces: {shared: {}}\n"

    async def main():
        await harness.start()
        try:
            await harness.send("alice", ";go")
            await asyncio.sleep(0.5)
            return await _everything(harness, "alice", ";run job deployer")
        finally:
            await harness.stop()

    texts = _norm([m.text for m in run(main())])
    assert texts[1] == "got=False"
    assert (
        "Job 'deployer', run number N aborted, exclusive job 'shared:deploy' already in progress"
        in texts
    )


# -- SimpleMatcher (bot/simple_matcher.go) ----------------------------------------------------

LOGLEVEL = """\
config: |
  Commands:
    - {Command: level, SimpleMatcher: 'set loglevel {to} (level:trace|debug|info)'}
    - {Command: page, SimpleMatcher: 'show /log|logs/ [page <page:number>]'}
commands:
  level:
    - [Say, 'level {args}']
  page:
    - [Say, 'page {args}']
"""


def test_a_simple_matcher_command_runs_with_its_arguments(harness) -> None:
    harness.extension("plugin", "logs", LOGLEVEL, conf="AllowedPrivateCommands: ['*']\n")
    assert _texts(
        harness,
        ("bob", ";set-loglevel-to debug", "general"),
        ("bob", ";SET LOGLEVEL INFO.", "general"),
        ("bob", ";show logs page 2", "general"),
        ("bob", ";show log", "general"),
        ("bob", "set loglevel trace", ""),
    ) == [
        "level ['level', 'debug']",
        "level ['level', 'INFO']",  # a choice is passed as typed, as upstream
        "page ['page', '2']",
        "page ['page', '']",
        "level ['level', 'trace']",
    ]


def test_a_value_that_does_not_fit_is_explained_in_a_thread(harness) -> None:
    harness.extension("plugin", "logs", LOGLEVEL, conf="AllowedPrivateCommands: ['*']\n")

    async def main():
        await harness.start()
        try:
            return (
                await harness.exchange("bob", ";set loglevel to fine")
                + await harness.exchange("bob", "show logs page two", "")
                + await harness.exchange("bob", ";set logging to fine")
            )
        finally:
            await harness.stop()

    threaded, direct, unknown_text = run(main())
    assert (threaded.user, threaded.channel, threaded.threaded, threaded.text) == (
        "",
        "general",
        True,
        'Invalid value: "fine" for: "level"; valid values: trace, debug, info.',
    )
    assert (direct.user, direct.channel, direct.text) == (
        "bob",
        "",
        'Invalid value: "two" for: "page"; expected: an integer.',
    )
    assert unknown_text.text == unknown("set logging to fine")


def test_a_near_miss_of_a_command_hidden_from_the_user_is_not_explained(harness) -> None:
    harness.extension("plugin", "logs", LOGLEVEL, conf="Users: [alice]\n")
    assert _texts(harness, ("bob", ";set loglevel to fine", "general")) == [
        unknown("set loglevel to fine")
    ]


def test_add_command_matches_a_simple_matcher(harness) -> None:
    harness.extension("plugin", "logs", LOGLEVEL)
    harness.extension(
        "plugin",
        "adder",
        "config: |\n  Commands: [{Command: add, Regex: add}]\n"
        "commands:\n  add:\n    - [AddCommand, logs, 'set-loglevel debug']\n",
    )
    assert _texts(harness, ("bob", ";add", "general")) == ["level ['level', 'debug']"]


# -- _configure (bot/calltask.go getDefCfg, bot/taskconf.go) --------------------------------------

FAILING_CONFIGURE = """\
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then
  error("no default configuration today")
end
gopherbot.Robot:new():Say("hello from lua")
return gopherbot.task.Normal
"""


def test_a_plugin_whose_configure_fails_runs_on_its_files_configuration(harness, caplog) -> None:
    (harness.root / "ext" / "hello.lua").write_text(FAILING_CONFIGURE)
    harness.declared["ExternalPlugins"].append("  hello: {Path: ext/hello.lua}")
    (harness.root / "conf" / "plugins" / "hello.yaml").write_text(
        "Commands: [{Command: hi, Regex: hi}]\n"
    )

    async def main():
        robot = await harness.start()
        try:
            return robot.catalog.get("hello"), await harness.texts("bob", ";hi")
        finally:
            await harness.stop()

    task, heard = run(main())
    assert not task.disabled and heard == ["hello from lua"]
    assert "no default configuration today" in task.config_warning
    assert "it keeps conf/plugins/hello.yaml alone" in caplog.text


def test_a_configure_answer_that_is_not_yaml_still_disables_the_plugin(harness) -> None:
    harness.extension("plugin", "broken", "config: 'Commands: [never closed'\n")

    async def main():
        robot = await harness.start()
        try:
            return robot.catalog.problems()
        finally:
            await harness.stop()

    assert "YAML" in run(main())["broken"]


def test_a_job_is_not_asked_for_a_default_configuration(harness) -> None:
    # Its _configure answer would not even be YAML: upstream never asks a job, nor does Burrow.
    harness.extension(
        "job",
        "nightly",
        "config: 'Quiet: [never closed'\ncommands:\n  '*':\n    - [Say, 'nightly ran']\n",
        conf="Quiet: true\n",
    )

    async def main():
        robot = await harness.start()
        try:
            problems = robot.catalog.problems()
            return problems, await harness.texts("alice", ";run job nightly", n=3)
        finally:
            await harness.stop()

    problems, heard = run(main())
    assert "nightly" not in problems and "nightly ran" in heard


# -- start-up warnings --------------------------------------------------------------------------


def _warnings(harness, caplog) -> list[str]:
    async def main():
        robot = await harness.start()
        try:
            return robot.catalog.warnings
        finally:
            await harness.stop()

    found = run(main())
    for warning in found:
        assert warning in caplog.text  # each is logged at start
    return found


def test_a_robot_without_mistakes_starts_without_warnings(harness, caplog) -> None:
    harness.extension("plugin", "pipe", GO + "commands:\n  go:\n    - [Say, ran]\n")
    assert _warnings(harness, caplog) == []


def test_an_authorizer_or_elevator_that_is_not_an_enabled_plugin_is_warned_of(
    harness, caplog
) -> None:
    harness.robot_yaml += "DefaultAuthorizer: gruops\nDefaultElevator: groups\n"
    _note_task(harness, "nightly", kind="job")
    harness.extension(
        "plugin", "pipe", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="Elevator: nightly\n"
    )
    assert _warnings(harness, caplog) == [
        "conf/robot.yaml: DefaultAuthorizer names 'gruops', but there is no such plugin: "
        "commands that need authorization will be refused",
        "conf/robot.yaml: DefaultElevator names 'groups', but that plugin is disabled "
        "(Disabled: true in its configuration): commands that need elevation will be refused",
        "conf/plugins/pipe.yaml: Elevator names 'nightly', but it is a job: "
        "commands that need elevation will be refused",
    ]


def test_a_file_for_a_plugin_or_job_that_is_not_declared_is_warned_of(harness, caplog) -> None:
    (harness.root / "conf" / "plugins" / "weather.yaml").write_text("Config: {City: Oslo}\n")
    (harness.root / "conf" / "jobs" / "backup.yaml").write_text("Quiet: true\n")
    (harness.root / "conf" / "plugins" / "builtin-totp.yaml").write_text("Config: {}\n")
    assert _warnings(harness, caplog) == [
        "conf/plugins/weather.yaml configures plugin 'weather', which is not declared: it has "
        "no effect; declare it under ExternalPlugins in conf/robot.yaml, or remove the file",
        "conf/jobs/backup.yaml configures job 'backup', which is not declared: it has no "
        "effect; declare it under ExternalJobs in conf/robot.yaml, or remove the file",
    ]


# -- upstream's names for Brain and JoinChannels (bot/conf.go, bot/bot_process.go) ------------------


def test_brain_mem_is_the_memory_brain_and_extensions_still_see_mem(harness) -> None:
    harness.robot_yaml += "Brain: mem\n"
    harness.extension(
        "plugin",
        "which",
        GO + "commands:\n  go:\n    - [Say, 'brain={bot[brain]}']\n"
        "    - {call: [Remember, k, v], as: r}\n    - {call: [Recall, k], as: got}\n"
        "    - [Say, 'recalled={got[string]}']\n",
    )

    async def main():
        robot = await harness.start()
        try:
            return robot.brain.name, await harness.texts("bob", ";go", n=2)
        finally:
            await harness.stop()

    provider, heard = run(main())
    assert provider == "memory" and heard == ["brain=mem", "recalled=v"]
    assert not (harness.root / "state" / "brain.sqlite3").exists()


class JoiningConnector(testing.TestConnector):
    """A test connector that joins channels, as a chat service's connector would."""

    def __init__(self) -> None:
        super().__init__({})
        self.joined: list[str] = []

    async def join_channel(self, channel: str) -> RetVal:
        if channel == "nowhere":
            return RetVal.FailedChannelJoin
        self.joined.append(channel)
        return RetVal.Ok


def test_join_channels_then_default_channels_then_the_job_channel_are_joined(
    harness, caplog
) -> None:
    harness.robot_yaml += "JoinChannels: [lobby, nowhere, general]\n"
    harness.write()

    async def main():
        robot = Robot(harness.root, state_dir=harness.root / "state")
        connector = JoiningConnector()
        await robot.start({"test": connector}, primary="test")
        try:
            for _ in range(50):
                if len(connector.joined) == 4:
                    break
                await asyncio.sleep(0.02)
            return connector.joined
        finally:
            await robot.stop(grace=1)

    assert run(main()) == ["lobby", "general", "random", "jobs"]
    assert "could not join channel 'nowhere': FailedChannelJoin" in caplog.text
