"""Policy is judged against the user a pipeline acts for, on every path to a command.

Each test reaches a guarded command (AdminCommands, Users, Channels, an authorizer, a job's
RequireAdmin) by one entry path listed in docs/security.md, first as bob (not an admin), and
checks that the guard holds; where it matters, alice (an admin) or a schedule shows the path
itself works. The first test is the privilege escalation a hostile review found: a spawned job
added an admin-only command for bob, and it ran.
"""

from __future__ import annotations

import re

import pytest

from support import run

GO = "config: |\n  Commands:\n    - {Command: go, Regex: 'go(?: (.*))?'}\n"
ADMIN_REFUSAL = "Sorry, 'adm/go' is only available to bot administrators"


def _guarded(harness, conf: str = "AdminCommands: [go]\n") -> None:
    """`adm go`: the guarded command; it says who it ran for."""
    harness.extension(
        "plugin",
        "adm",
        GO + "commands:\n  go:\n    - [Say, 'ADMIN RAN for {bot[user]}']\n",
        conf=conf,
    )


def _plugin(harness, name: str, regex: str, steps: str, conf: str = "") -> None:
    harness.extension(
        "plugin",
        name,
        f"config: |\n  Commands:\n    - {{Command: run, Regex: '{regex}'}}\n"
        f"commands:\n  run:\n{steps}",
        conf=conf,
    )


def _job(harness, name: str, steps: str, conf: str = "Quiet: true\n") -> None:
    harness.extension("job", name, f"commands:\n  '*':\n{steps}", conf=conf)


async def _heard(harness, quiet: float = 1.5) -> list[str]:
    """Everything the robot says until it has been quiet for `quiet` seconds.

    Not the failure alerts a refused step's pipeline sends to the operator channel, as
    upstream (`Pipeline failure: ...`): these tests are about what the user is told.
    """
    out = []
    while (sent := await harness.connector.next_sent(quiet)) is not None:
        if not sent.text.startswith("Pipeline failure: "):
            out.append(sent.text)
    return out


def _conversation(harness, *lines: tuple[str, str], channel: str = "general") -> list[str]:
    async def main() -> list[str]:
        await harness.start()
        try:
            heard: list[str] = []
            for user, text in lines:
                await harness.send(user, text, channel)
                heard += await _heard(harness)
            return heard
        finally:
            await harness.stop()

    return run(main())


# -- the reported escalation: a spawned job --------------------------------------------------


def test_a_job_spawned_for_bob_cannot_add_an_admin_command(harness) -> None:
    _guarded(harness)
    _job(harness, "escalate", "    - [AddCommand, adm, go]\n")
    _plugin(harness, "spawner", "spawn", "    - [SpawnJob, escalate]\n")
    heard = _conversation(harness, ("bob", ";spawn"), ("alice", ";spawn"))
    assert heard == [ADMIN_REFUSAL, "ADMIN RAN for alice"]


def test_check_admin_in_a_job_spawned_for_bob_is_false(harness) -> None:
    _job(
        harness,
        "who",
        "    - {call: [CheckAdmin], as: a}\n    - [Say, '{bot[user]} admin={a[bool]}']\n",
    )
    _plugin(harness, "spawner", "spawn", "    - [SpawnJob, who]\n")
    heard = _conversation(harness, ("bob", ";spawn"), ("alice", ";spawn"))
    assert heard == ["bob admin=False", "alice admin=True"]


# -- the AddCommand family from a plugin's own pipeline ------------------------------------


@pytest.mark.parametrize("method", ["AddCommand", "FinalCommand", "FailCommand"])
def test_commands_added_by_bobs_pipeline_are_judged_as_bob(harness, method) -> None:
    _guarded(harness)
    # FailCommand steps run only when the pipeline fails, so that plugin fails on purpose.
    fail = "    - {return: 1}\n" if method == "FailCommand" else ""
    _plugin(harness, "adder", "add", f"    - [{method}, adm, go]\n{fail}")
    heard = _conversation(harness, ("bob", ";add"), ("alice", ";add"))
    assert heard == [ADMIN_REFUSAL, "ADMIN RAN for alice"]


def test_added_command_of_a_plugin_limited_to_other_users_is_refused(harness) -> None:
    _guarded(harness, conf="Users: [alice]\n")
    _plugin(harness, "adder", "add", "    - [AddCommand, adm, go]\n")
    heard = _conversation(harness, ("bob", ";add"), ("alice", ";add"))
    assert heard == ["Sorry, 'adm/go' is not available to you", "ADMIN RAN for alice"]


def test_added_command_of_a_plugin_limited_to_other_channels_is_refused(harness) -> None:
    _guarded(harness, conf="Channels: [random]\n")
    _plugin(harness, "adder", "add", "    - [AddCommand, adm, go]\n")

    async def main() -> list[str]:
        await harness.start()
        try:
            await harness.send("bob", ";add", "general")
            heard = await _heard(harness)
            await harness.send("bob", ";add", "random")
            return heard + await _heard(harness)
        finally:
            await harness.stop()

    assert run(main()) == ["Sorry, 'adm/go' cannot be run in this channel", "ADMIN RAN for bob"]


def test_added_command_needing_authorization_asks_the_authorizer_about_bob(harness) -> None:
    harness.extension(
        "plugin",
        "gate",
        "config: |\n  Commands: [{Command: nothing, Regex: 'gate nothing'}]\n"
        "commands:\n  _authorize:\n    - [Say, 'asked about {bot[user]}']\n    - {return: 1}\n",
    )
    _guarded(harness, conf="Authorizer: gate\nAuthorizedCommands: [go]\n")
    _job(harness, "escalate", "    - [AddCommand, adm, go]\n")
    _plugin(harness, "spawner", "spawn", "    - [SpawnJob, escalate]\n")
    heard = _conversation(harness, ("bob", ";spawn"))
    assert heard == ["asked about bob", "Sorry, you're not authorized for that command"]


# -- jobs reached for a user ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["SpawnJob", "AddJob"])
def test_an_admin_only_job_reached_for_bob_is_refused(harness, method) -> None:
    _job(
        harness,
        "restricted",
        "    - [Say, 'job ran for {bot[user]}']\n",
        "Quiet: true\nRequireAdmin: true\n",
    )
    _plugin(harness, "starter", "start", f"    - [{method}, restricted]\n")
    heard = _conversation(harness, ("bob", ";start"), ("alice", ";start"))
    assert heard == ["Sorry, you are not allowed to run job 'restricted'", "job ran for alice"]


def test_a_job_limited_to_users_is_refused_to_others_by_run_job(harness) -> None:
    _job(
        harness, "mine", "    - [Say, 'job ran for {bot[user]}']\n", "Quiet: true\nUsers: ['al*']\n"
    )
    heard = _conversation(harness, ("bob", ";run job mine"), ("alice", ";run job mine"))
    # A job asked for by name is announced even when Quiet, as upstream.
    assert [re.sub(r"run \d+", "run N", text) for text in heard] == [
        "Sorry, you are not allowed to run job 'mine'",
        "Starting job 'mine', run N - requested by user 'alice' in channel 'general'",
        "job ran for alice",
        "Finished job 'mine', run N, final task 'mine', status: normal",
    ]


def test_a_job_triggered_by_bob_cannot_add_an_admin_command(harness) -> None:
    _guarded(harness)
    _job(
        harness,
        "deploy",
        "    - [AddCommand, adm, go]\n",
        conf="Quiet: true\nTriggers: [{Regex: 'deploy now'}]\n",
    )
    heard = _conversation(harness, ("bob", "deploy now"), ("alice", "deploy now"))
    assert heard == [ADMIN_REFUSAL, "ADMIN RAN for alice"]


# -- ambient matchers and catch-alls ---------------------------------------------------------


def test_a_catch_all_for_bob_cannot_add_an_admin_command(harness) -> None:
    _guarded(harness)
    harness.extension(
        "plugin",
        "fallback",
        "config: |\n  CatchAll: true\n  Commands: [{Command: never, Regex: 'zzz never'}]\n"
        "commands:\n  _catchall:\n    - [AddCommand, adm, go]\n",
    )
    heard = _conversation(harness, ("bob", ";what is this"), ("alice", ";what is this"))
    assert heard == [ADMIN_REFUSAL, "ADMIN RAN for alice"]


def test_an_ambient_matcher_for_bob_cannot_add_an_admin_command(harness) -> None:
    _guarded(harness)
    harness.extension(
        "plugin",
        "listener",
        "config: |\n  Commands: [{Command: never, Regex: 'zzz never'}]\n"
        "  MessageMatchers: [{Command: heard, Regex: 'sudo make'}]\n"
        "commands:\n  heard:\n    - [AddCommand, adm, go]\n",
    )
    heard = _conversation(harness, ("bob", "sudo make me a sandwich"))
    assert heard == [ADMIN_REFUSAL]


# -- pipelines that act for nobody ------------------------------------------------------------


def test_a_start_up_job_runs_as_the_robot_but_cannot_skip_an_authorizer(harness) -> None:
    """The documented decision: no user means admin-only commands run, authorized ones don't."""
    _guarded(harness)
    harness.extension(
        "plugin",
        "audited",
        "config: |\n  Commands: [{Command: go, Regex: 'audit'}]\n"
        "commands:\n  go:\n    - [Say, 'AUDITED RAN']\n",
        conf="Authorizer: adm\nAuthorizedCommands: [go]\n",
    )
    _job(
        harness,
        "boot",
        "    - {call: [CheckAdmin], as: a}\n    - [Say, 'boot admin={a[bool]}']\n"
        "    - [AddCommand, adm, go]\n    - [AddCommand, audited, audit]\n",
    )
    harness.robot_yaml += "ScheduledJobs: [{Name: boot, Schedule: '@init'}]\n"

    async def main() -> list[str]:
        await harness.start()
        try:
            return await _heard(harness)
        finally:
            await harness.stop()

    assert run(main()) == [
        "boot admin=True",
        "ADMIN RAN for ",
        "Sorry, 'audited/go' requires authorization, which needs a user; "
        "it cannot run from a scheduled or start-up job",
    ]


def test_a_thread_subscription_is_not_heard_from_a_user_the_plugin_excludes(harness) -> None:
    harness.extension(
        "plugin",
        "watch",
        "config: |\n  Commands: [{Command: watch, Regex: watch}]\n"
        "commands:\n  watch:\n    - {call: [Subscribe], as: s}\n    - [SayThread, 'watching={s[bool]}']\n"
        "  _subscribed:\n    - [SayThread, 'heard {bot[user]}: {args[1]}']\n",
        conf="Users: [alice]\n",
    )

    async def main() -> list[str]:
        await harness.start()
        try:
            heard = await harness.texts("alice", ";watch", threaded=True, thread_id="t1")
            await harness.send("bob", "let me in", "general", threaded=True, thread_id="t1")
            heard += await _heard(harness, quiet=1.0)
            await harness.send("alice", "all good", "general", threaded=True, thread_id="t1")
            return heard + await _heard(harness, quiet=1.0)
        finally:
            await harness.stop()

    assert run(main()) == ["watching=True", "heard alice: all good"]
