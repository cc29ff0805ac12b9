"""Where Burrow answers as upstream Gopherbot does: refusal texts, what is hidden, job news.

Each test pins one behaviour of upstream's engine (https://github.com/lnxjedi/gopherbot, the
file named in the test) that a run of its own suites against Burrow found different.
"""

from __future__ import annotations

from support import run

GO = "config: |\n  Commands:\n    - {Command: go, Regex: 'go(?: (.*))?'}\n"


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
        "Sorry, I don't know how to 'go'; try ';help'",
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
        "Sorry, I don't know how to 'stop'; try ';help'",
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
    assert ";go - go (ops)" in bob and "stop" not in bob and "open" not in bob
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
