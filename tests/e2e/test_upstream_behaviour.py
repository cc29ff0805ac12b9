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
