"""GetHelpMetadata: the help of the commands a user may run, here and elsewhere, as upstream's JSON."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from support import run

ASK = r"""
config: |
  AllChannels: true
  AllowedPrivateCommands: [meta]
  Commands:
    - {Command: meta, Regex: 'meta ?(.*)'}
commands:
  meta:
    - {call: [GetHelpMetadata, "{args[1]}"], as: r}
    - [Say, "{r[string]}"]
"""


def _plugin(name: str, config: str) -> str:
    body = "\n".join("  " + line for line in textwrap.dedent(config).strip().splitlines())
    return f"config: |\n{body}\ncommands: {{}}\n"


def _robot(harness) -> None:
    harness.extension("plugin", "ask", ASK)
    harness.extension(
        "plugin",
        "weather",
        _plugin(
            "weather",
            """
            Channels: [general]
            AllowedPrivateCommands: [forecast]
            Commands:
              - Command: forecast
                Regex: 'forecast (\\w+)'
                Usage: '(alias) forecast <city>'
                Summary: Get the forecast
                Details: Three days ahead.
                Keywords: [rain, sun]
                Examples: ['(alias) forecast Paris']
              - {Command: radar, Regex: 'radar'}
            """,
        ),
        "Description: Weather for everyone",
    )
    harness.extension(
        "plugin",
        "ops",
        _plugin("ops", "Channels: [random]\nCommands: [{Command: deploy, Regex: 'deploy'}]"),
    )
    harness.extension(
        "plugin",
        "secret",
        _plugin("secret", "Users: [alice]\nCommands: [{Command: vault, Regex: 'vault'}]"),
    )
    harness.extension(
        "plugin",
        "tools",
        _plugin("tools", "RequireAdmin: true\nCommands: [{Command: reboot, Regex: 'reboot'}]"),
    )


def _meta(harness, *asks: tuple[str, str, str]) -> list[dict[str, Any]]:
    async def main():
        await harness.start()
        try:
            return [json.loads((await harness.texts(u, t, c))[0]) for u, t, c in asks]
        finally:
            await harness.stop()

    return run(main())


MINE = {"ask", "weather", "ops", "secret", "tools", "ping", "admin"}


def _names(entries: list[dict[str, Any]]) -> list[str]:
    """The entries of this test's plugins and of two built-ins (others come and go)."""
    return [f"{e['plugin']}/{e['command']}" for e in entries if e["plugin"] in MINE]


def test_help_metadata_lists_what_the_user_may_run_here_and_elsewhere(harness) -> None:
    _robot(harness)

    bob, alice = _meta(harness, ("bob", ";meta", "general"), ("alice", ";meta", "random"))

    assert bob["context"] == {
        "bot_name": "burrow",
        "bot_alias": ";",
        "user": "bob",
        "channel": "general",
        "direct": False,
        "threaded": False,
        "protocol": "test",
    }
    assert "ranked_here" not in bob and "ranked_browseable" not in bob
    # Not secret/vault (Users: alice) nor tools/reboot and the admin built-ins (admins only).
    assert _names(bob["browseable"]) == [
        "ask/meta",
        "ops/deploy",
        "ping/ping",
        "weather/forecast",
        "weather/radar",
    ]
    assert _names(bob["visible_here"]) == [
        "ask/meta",
        "ping/ping",
        "weather/forecast",
        "weather/radar",
    ]
    forecast = next(e for e in bob["browseable"] if e["command"] == "forecast")
    assert forecast == {
        "plugin": "weather",
        "command": "forecast",
        "usage": "(alias) forecast <city>",
        "summary": "Get the forecast",
        "details": "Three days ahead.",
        "examples": ["(alias) forecast Paris"],
        "keywords": ["rain", "sun"],
        "scope": "channels: general",
        "channels": ["general"],
        "private_ok": True,
        "visible_here": True,
        "plugin_summary": "Weather for everyone",
    }
    deploy = next(e for e in bob["browseable"] if e["command"] == "deploy")
    assert deploy == {
        "plugin": "ops",
        "command": "deploy",
        "usage": "(alias) deploy",
        "scope": "channels: random",
        "channels": ["random"],
        "visible_here": False,
    }
    assert {"secret/vault", "tools/reboot", "admin/ps", "admin/kill"} <= set(
        _names(alice["browseable"])
    )
    assert "ops/deploy" in _names(alice["visible_here"])
    assert "weather/forecast" not in _names(alice["visible_here"])


def test_a_query_ranks_commands_as_upstream_scores_them(harness) -> None:
    _robot(harness)

    typo, plugin, keyword, dm = _meta(
        harness,
        ("bob", ";meta forcast", "general"),  # one letter off the command
        ("bob", ";meta ;Weather", "general"),  # the alias is stripped, case ignored
        ("bob", ";meta deploy", "general"),
        ("bob", "meta rain", ""),  # a DM: only commands allowed in private are here
    )

    assert typo["context"]["normalized_query"] == "forcast"
    assert typo["ranked_browseable"][0] == {
        "plugin": "weather",
        "command": "forecast",
        "score": 88,
        "visible_here": True,
    }
    assert plugin["context"]["raw_query"] == ";Weather"
    assert plugin["context"]["normalized_query"] == "Weather"
    assert [(r["command"], r["score"]) for r in plugin["ranked_here"][:2]] == [
        ("forecast", 95),
        ("radar", 95),
    ]
    assert keyword["ranked_browseable"][0] == {
        "plugin": "ops",
        "command": "deploy",
        "score": 100,
        "visible_here": False,
    }
    assert "ranked_here" not in keyword  # deploy cannot be run in #general
    assert dm["context"]["direct"] is True and "channel" not in dm["context"]
    assert _names(dm["visible_here"]) == [
        "ask/meta",
        "ping/ping",
        "weather/forecast",
    ]
    assert dm["ranked_here"] == [
        {"plugin": "weather", "command": "forecast", "score": 92, "visible_here": True}
    ]
