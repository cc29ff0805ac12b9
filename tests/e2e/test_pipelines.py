"""Pipelines, policy, timeouts and operations, through a real robot and real children."""

from __future__ import annotations

import asyncio
import time

from support import gone, run

GO = "config: |\n  Commands:\n    - {Command: go, Regex: 'go(?: (.*))?'}\n"
UNKNOWN_GO_IN_RANDOM = (
    "I couldn't match `;go` in channel `#random`.\nTry `;commands` or `;help <keyword>`."
)


def _say_task(harness, name: str, settings: str = "", ret: int = 0) -> None:
    harness.extension(
        "task",
        name,
        f"commands:\n  '*':\n    - [Say, '{name} {{args}}']\n    - {{return: {ret}}}\n",
        settings,
    )


async def _conversation(
    harness, user: str, text: str, n: int, channel: str = "general"
) -> list[str]:
    await harness.start()
    try:
        return await harness.texts(user, text, channel, n=n)
    finally:
        await harness.stop()


def test_added_tasks_run_before_later_steps_and_final_tasks_run_last_added_first(harness) -> None:
    for name in ("one", "two", "three", "fin1", "fin2", "nested"):
        _say_task(harness, name)
    harness.extension(
        "task", "outer", "commands:\n  '*':\n    - [Say, outer]\n    - [AddTask, nested]\n"
    )
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [AddTask, outer]\n    - [AddTask, two, x]\n"
        "    - [FinalTask, fin1]\n    - [FinalTask, fin2]\n    - [FailTask, one]\n",
    )
    texts = run(_conversation(harness, "bob", ";go", n=5))
    assert texts == ["outer", "nested []", "two ['x']", "fin2 []", "fin1 []"]


def test_a_failing_step_stops_the_primary_list_and_runs_fail_tasks_in_order(harness) -> None:
    for name in ("never", "cleanup", "fail1", "fail2"):
        _say_task(harness, name)
    _say_task(harness, "boom", ret=1)
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [AddTask, boom]\n    - [AddTask, never]\n"
        "    - [FinalTask, cleanup]\n    - [FailTask, fail1]\n    - [FailTask, fail2]\n",
    )
    texts = run(_conversation(harness, "bob", ";go", n=4))
    assert texts == ["boom []", "cleanup []", "fail1 []", "fail2 []"]


def test_add_task_family_enforces_stage_type_existence_and_privilege(harness) -> None:
    _say_task(harness, "plain")
    _say_task(harness, "secret", settings="Privileged: true")
    harness.extension(
        "task",
        "late",
        "commands:\n  '*':\n    - {call: [AddTask, plain], as: r}\n    - [Say, 'late={r[ret_val]}']\n",
    )
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n"
        "    - {call: [AddTask, nosuch], as: a}\n    - {call: [AddTask, secret], as: b}\n"
        "    - {call: [AddJob, plain], as: c}\n    - {call: [AddCommand, pipe, 'bogus'], as: d}\n"
        "    - {call: [AddCommand, pipe, ''], as: e}\n    - [FinalTask, late]\n"
        "    - [Say, '{a[ret_val]} {b[ret_val]} {c[ret_val]} {d[ret_val]} {e[ret_val]}']\n",
    )
    texts = run(_conversation(harness, "bob", ";go", n=2))
    # TaskNotFound, PrivilegeViolation, InvalidTaskType, CommandNotMatched, MissingArguments;
    # then InvalidStage from a final task.
    assert texts == ["23 29 26 27 24", "late=25"]


def test_add_command_runs_a_plugin_command_with_its_captures(harness) -> None:
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [AddCommand, echo, 'say hello world']\n",
    )
    harness.extension(
        "plugin",
        "echo",
        "config: |\n  Commands: [{Command: say, Regex: 'say (.*)'}]\ncommands:\n  say:\n    - [Say, 'echo {args[1]}']\n",
    )
    assert run(_conversation(harness, "bob", ";go", n=1)) == ["echo hello world"]


def test_privileged_pipeline_may_add_privileged_tasks(harness) -> None:
    _say_task(harness, "secret", settings="Privileged: true")
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [AddTask, secret]\n",
        settings="Privileged: true",
    )
    assert run(_conversation(harness, "bob", ";go", n=1)) == ["secret []"]


def test_admin_command_is_refused_for_a_non_admin(harness) -> None:
    harness.extension(
        "plugin", "pipe", GO + "commands:\n  go:\n    - [Say, ran]\n", conf="AdminCommands: [go]\n"
    )

    async def script(h):
        return await h.texts("bob", ";go") + await h.texts("alice", ";go")

    assert harness.play(script) == [
        "Sorry, 'pipe/go' is only available to bot administrators",
        "ran",
    ]


def _authorizer(harness, ret: int) -> None:
    harness.extension(
        "plugin",
        "gate",
        "config: |\n  Commands: [{Command: nothing, Regex: 'gate nothing'}]\n"
        f"commands:\n  _authorize:\n    - [Log, 2, 'asked about {{args[1]}} {{args[3]}}']\n    - {{return: {ret}}}\n",
    )
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [Say, ran]\n",
        conf="Authorizer: gate\nAuthorizedCommands: [go]\n",
    )


def test_authorizer_returning_success_lets_the_command_run(harness) -> None:
    _authorizer(harness, 7)
    assert run(_conversation(harness, "bob", ";go", n=1)) == ["ran"]


def test_authorizer_returning_normal_fails_closed(harness) -> None:
    _authorizer(harness, 0)
    assert run(_conversation(harness, "bob", ";go", n=1)) == [
        "Sorry, authorization failed due to a problem with the authorization plugin"
    ]


def test_command_needing_an_authorizer_that_is_missing_is_refused(harness) -> None:
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [Say, ran]\n",
        conf="AuthorizeAllCommands: true\n",
    )
    [text] = run(_conversation(harness, "bob", ";go", n=1))
    assert text.startswith("Sorry, 'pipe/go' requires authorization")


def test_private_command_is_refused_unless_allowed(harness) -> None:
    harness.extension("plugin", "pipe", GO + "commands:\n  go:\n    - [Say, ran]\n")
    assert run(_conversation(harness, "bob", "go", n=1, channel="")) == [
        "Sorry, 'pipe/go' cannot be run as a private command"
    ]


def test_two_plugins_matching_refuse_to_run_either(harness) -> None:
    for name in ("first", "second"):
        harness.extension("plugin", name, GO + f"commands:\n  go:\n    - [Say, {name}]\n")
    assert run(_conversation(harness, "bob", ";go", n=1)) == [
        "Yikes! Your command matched multiple plugins, so I'm not doing ANYTHING"
    ]


def test_bare_name_gets_yes_and_unknown_command_gets_help(harness) -> None:
    async def script(h):
        return await h.texts("bob", "burrow") + await h.texts("bob", ";frobnicate")

    assert harness.play(script) == [
        "Yes?",
        "I couldn't match `;frobnicate` in channel `#general`.\n"
        "Try `;commands` or `;help <keyword>`.",
    ]


def test_ambient_matcher_hears_unaddressed_text(harness) -> None:
    harness.extension(
        "plugin",
        "ear",
        "config: |\n  MessageMatchers: [{Command: heard, Regex: '(?i:coffee)'}]\ncommands:\n  heard:\n    - [Say, 'coffee?']\n",
    )
    assert run(_conversation(harness, "bob", "I need Coffee now", n=1)) == ["coffee?"]


def test_catch_all_gets_unmatched_addressed_text(harness) -> None:
    harness.extension(
        "plugin",
        "fallback",
        "config: |\n  CatchAll: true\ncommands:\n  _catchall:\n    - [Say, 'caught {args[1]}']\n",
    )
    assert run(_conversation(harness, "bob", ";what is this", n=1)) == ["caught what is this"]


def test_hung_extension_is_killed_by_its_timeout_and_the_user_told(harness) -> None:
    harness.extension(
        "plugin",
        "slow",
        GO + "commands:\n  go:\n    - {sleep: 60}\n",
        conf="TimeOuts: {Warn: 200ms, Kill: 1s}\n",
    )
    started = time.monotonic()
    [text] = run(_conversation(harness, "bob", ";go", n=1))
    assert text.startswith("Sorry, 'slow' failed with MechanismFail: timeout")
    assert time.monotonic() - started < 10


def test_robot_keeps_answering_others_while_a_pipeline_hangs(harness) -> None:
    harness.extension("plugin", "slow", GO + "commands:\n  go:\n    - {sleep: 60}\n")

    async def main():
        await harness.start()
        try:
            await harness.send("bob", ";go")
            await asyncio.sleep(0.3)
            started = time.monotonic()
            texts = await harness.texts("alice", ";ping")
            return texts, time.monotonic() - started
        finally:
            await harness.stop()

    texts, elapsed = run(main())
    assert texts == ["PONG"] and elapsed < 5


def test_ps_lists_running_pipelines_and_kill_stops_one(harness) -> None:
    harness.extension(
        "plugin", "slow", GO + "commands:\n  go:\n    - {sleep: 60}\n    - [Say, never]\n"
    )

    async def main():
        await harness.start()
        try:
            await harness.send("bob", ";go")
            await asyncio.sleep(0.5)
            [ps] = await harness.texts("alice", ";ps")
            slow_id = next(line.split()[0] for line in ps.splitlines() if " slow " in line)
            [killed] = await harness.texts("alice", f";kill {slow_id}")
            await asyncio.sleep(0.5)
            [after] = await harness.texts("alice", ";ps")
            refused = await harness.texts("bob", ";ps")
            return ps, killed, after, refused
        finally:
            await harness.stop()

    ps, killed, after, refused = run(main())
    assert "slow" in ps and "bob" in ps
    assert killed.startswith("Killed pipeline") and "slow" not in after
    assert refused[0].startswith("I couldn't match `;ps`")  # admin-only: hidden


def test_exclusive_refuses_a_second_holder_and_queues_when_asked(harness) -> None:
    harness.extension(
        "plugin",
        "lock",
        GO + "commands:\n  go:\n"
        "    - {call: [Exclusive, deploy, true], as: x}\n    - [Say, 'got={x[bool]} {args[1]}']\n    - {sleep: 1}\n",
    )

    async def main():
        await harness.start()
        try:
            await harness.send("bob", ";go first")
            await asyncio.sleep(0.4)
            await harness.send("alice", ";go second")
            return [m.text for m in await harness.replies(3)]
        finally:
            await harness.stop()

    # The second run's Exclusive is refused, then its task re-runs once the first is done.
    assert run(main()) == ["got=True first", "got=False second", "got=True second"]


def test_job_runs_in_its_channel_with_announcements(harness) -> None:
    harness.extension(
        "job",
        "nightly",
        "commands:\n  '*':\n    - [Say, 'job args {args}']\n",
        conf="Channel: ops\n",
    )

    async def main():
        await harness.start()
        try:
            await harness.send("alice", ";run job nightly a b")
            return await harness.replies(3)
        finally:
            await harness.stop()

    start, body, done = run(main())
    assert start.text.startswith("Starting job 'nightly a b', run ") and start.channel == "ops"
    assert start.text.endswith(" - requested by user 'alice' in channel 'general'")
    assert (body.text, body.channel) == ("job args ['a', 'b']", "ops")
    assert done.text.startswith("Finished job 'nightly', run ") and done.channel == "ops"


def test_init_scheduled_job_runs_at_start(harness) -> None:
    harness.extension(
        "job",
        "boot",
        "commands:\n  '*':\n    - [SendChannelMessage, ops, booted]\n",
        conf="Quiet: true\n",
    )
    harness.robot_yaml += "ScheduledJobs: [{Name: boot, Schedule: '@init'}]\n"

    [sent] = harness.play(lambda h: h.replies(1))
    assert (sent.channel, sent.text) == ("ops", "booted")


def test_broken_plugin_file_disables_only_that_plugin(harness) -> None:
    harness.extension("plugin", "good", GO + "commands:\n  go:\n    - [Say, good]\n")
    harness.extension("plugin", "bad", GO, conf="Commands: [{Command: x, Regex: 'unbalanced('}]\n")

    async def main():
        robot = await harness.start()
        try:
            return robot.catalog.problems(), await harness.texts("bob", ";go")
        finally:
            await harness.stop()

    problems, texts = run(main())
    assert texts == ["good"]
    assert "conf/plugins/bad.yaml" in problems["bad"] and "Regex" in problems["bad"]


def test_plugin_limited_to_channels_and_users_is_refused_elsewhere(harness) -> None:
    harness.extension(
        "plugin",
        "ops",
        GO + "commands:\n  go:\n    - [Say, ran]\n",
        conf="Channels: [random]\nUsers: [alice]\n",
    )

    async def main():
        await harness.start()
        try:
            return (
                await harness.texts("alice", ";go", channel="random")
                + await harness.texts("alice", ";go", channel="general")
                + await harness.texts("bob", ";go", channel="random")
            )
        finally:
            await harness.stop()

    assert run(main()) == [
        "ran",
        "Sorry, 'ops/go' cannot be run in this channel",
        UNKNOWN_GO_IN_RANDOM,  # hidden from bob, as upstream
    ]


def test_hidden_command_is_answered_privately_when_allowed(harness) -> None:
    harness.extension(
        "plugin",
        "secret",
        GO + "commands:\n  go:\n    - [Reply, shh]\n",
        conf="AllowedPrivateCommands: ['*']\n",
    )

    [sent] = harness.play(lambda h: h.exchange("bob", ";go", hidden=True))
    assert (sent.user, sent.channel, sent.hidden, sent.text) == ("bob", "general", True, "shh")


def test_job_trigger_starts_the_job_with_its_captures(harness) -> None:
    harness.extension(
        "job",
        "deploy",
        "commands:\n  '*':\n    - [Say, 'deploying {args}']\n",
        conf="Quiet: true\nChannel: ops\nTriggers: [{Regex: 'build (\\d+) passed', User: ci}]\n",
    )
    harness.robot_yaml = harness.robot_yaml.replace(
        "UserRoster:\n", "UserRoster:\n  - {UserName: ci, BotUser: true}\n"
    )

    async def main():
        await harness.start()
        try:
            await harness.send("bob", "build 12 passed")  # wrong user: nothing
            return await harness.texts("ci", "build 41 passed")
        finally:
            await harness.stop()

    assert run(main()) == ["deploying ['41']"]


def test_shutdown_kills_pipelines_that_outlive_the_grace_period_and_reaps_children(harness) -> None:
    harness.extension("plugin", "slow", GO + "commands:\n  go:\n    - {sleep: 60}\n")

    async def main():
        robot = await harness.start()
        await harness.send("bob", ";go")
        await asyncio.sleep(0.5)
        [pipeline] = list(robot.pipelines.values())
        await asyncio.sleep(0.2)
        pid = pipeline.execution.pid
        started = time.monotonic()
        await robot.stop(grace=0.5)
        return pid, time.monotonic() - started, dict(robot.pipelines), pipeline.killed

    pid, elapsed, left, killed = run(main())
    assert left == {} and killed == "the robot is shutting down"
    assert elapsed < 8
    assert gone(pid)


def test_cron_scheduled_job_fires_at_its_time(harness) -> None:
    harness.extension(
        "job",
        "tick",
        "commands:\n  '*':\n    - [SendChannelMessage, ops, 'tick {args}']\n",
        conf="Quiet: true\n",
    )
    harness.robot_yaml += "ScheduledJobs: [{Name: tick, Schedule: '*/5 * * * *', Arguments: [a]}]\n"
    # A clock 0.3 s before a five-minute boundary, so the job is due almost at once.
    now = time.time()
    offset = (300 - now % 300) - 0.3

    async def main():
        await harness.start(clock=lambda: time.time() + offset)
        try:
            return await harness.replies(1, timeout=5)
        finally:
            await harness.stop()

    [sent] = run(main())
    assert (sent.channel, sent.text) == ("ops", "tick ['a']")


def test_malformed_cron_schedule_is_a_configuration_error(harness) -> None:
    from burrow.engine.config import ConfigError

    harness.robot_yaml += "ScheduledJobs: [{Name: tick, Schedule: '61 * * * *'}]\n"

    async def main():
        try:
            await harness.start()
        except ConfigError as exc:
            return str(exc)
        finally:
            await harness.stop()
        return ""

    assert "ScheduledJobs[0].Schedule" in run(main())


def _elevator(harness, ret: int) -> None:
    harness.extension(
        "plugin",
        "totp",
        "config: |\n  Commands: [{Command: nothing, Regex: 'totp nothing'}]\n"
        f"commands:\n  _elevate:\n    - [Log, 2, 'elevate immediate={{args[1]}}']\n    - {{return: {ret}}}\n",
    )


def test_elevated_command_runs_only_when_the_elevator_says_success(harness) -> None:
    _elevator(harness, 7)
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [Say, ran]\n",
        conf="Elevator: totp\nElevatedCommands: [go]\n",
    )
    assert harness.play(lambda h: h.texts("bob", ";go")) == ["ran"]


def test_elevator_saying_fail_refuses_the_command(harness) -> None:
    _elevator(harness, 1)
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - [Say, ran]\n",
        conf="Elevator: totp\nElevateImmediateCommands: [go]\n",
    )
    assert harness.play(lambda h: h.texts("bob", ";go")) == [
        "Sorry, this command requires elevation"
    ]


def test_elevate_from_an_extension_asks_the_elevator_every_time(harness) -> None:
    # As upstream's Robot.Elevate: the elevator judges each call (whether an earlier
    # elevation still holds is its decision), with `immediate` as the extension said.
    harness.extension(
        "plugin",
        "totp",
        "config: |\n  Commands: [{Command: nothing, Regex: 'totp nothing'}]\n"
        "commands:\n  _elevate:\n    - [Say, 'asked immediate={args[1]}']\n    - {return: 7}\n",
    )
    harness.extension(
        "plugin",
        "pipe",
        GO + "commands:\n  go:\n    - {call: [Elevate, true], as: a}\n"
        "    - {call: [Elevate, false], as: b}\n    - [Say, 'elevated={a[bool]} again={b[bool]}']\n",
        conf="Elevator: totp\n",
    )
    assert harness.play(lambda h: h.texts("bob", ";go", n=3)) == [
        "asked immediate=true",
        "asked immediate=false",
        "elevated=True again=True",
    ]


def test_elevate_without_an_elevator_fails_closed(harness) -> None:
    harness.extension(
        "plugin",
        "pipe",
        GO
        + "commands:\n  go:\n    - {call: [Elevate, true], as: a}\n    - [Say, 'elevated={a[bool]}']\n",
    )
    assert harness.play(lambda h: h.texts("bob", ";go", n=2)) == [
        "Sorry, elevation failed due to a configuration error",
        "elevated=False",
    ]


def test_a_child_flooding_its_log_cannot_fill_the_disk(harness) -> None:
    harness.extension(
        "plugin",
        "flood",
        "config: |\n  Commands: [{Command: flood, Regex: flood}]\ncommands:\n  flood:\n"
        "    - {print: '"
        + "x" * 1000
        + "', times: 5000}\n"
        + "".join("    - [Log, 2, '" + "y" * 900 + "']\n" for _ in range(300))
        + "    - [Say, flooded]\n",
    )

    async def script(h):
        texts = await h.texts("bob", ";flood")
        logs = list((harness.root / "state" / "logs").glob("pipeline-*.log"))
        return texts, sum(p.stat().st_size for p in logs), "".join(p.read_text() for p in logs)

    texts, size, text = harness.play(script)
    assert texts == ["flooded"]
    # 5 MB of stdout and 270 KB of Log calls were sent; one budget of 256 KiB covers both.
    assert size < 400 * 1024
    assert "log limit reached" in text


def test_bare_name_runs_the_users_last_unaddressed_message(harness) -> None:
    async def script(h):
        await h.send("bob", "ping")  # forgot to address the robot: nothing happens
        await h.send("alice", "ping")  # someone else's message does not count for bob
        replies = await h.texts("bob", "burrow")
        replies += await h.texts("bob", "burrow")  # used up: plain "Yes?" again
        return replies

    assert harness.play(script) == ["PONG", "Yes?"]
