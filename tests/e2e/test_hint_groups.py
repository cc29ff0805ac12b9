"""A command that needs authorization is named to a user ("cannot be run in this channel") only
when its authorizer says the user is in the plugin's `AuthRequire` group, as upstream's
commandVisibleToUser (bot/available.go); to anyone else it is unknown. Real robot, the real
`groups` authorizer and its `_usergroups`.
"""

from __future__ import annotations

from typing import Any

from support import run

USERS = "  - {UserName: david, UserID: U004}\n"

GROUPS = """\
Disabled: false
Config:
  Groups:
    Helpdesk:
      Users: [bob]
"""

GO = (
    "config: |\n  Commands: [{Command: go, Regex: 'go'}]\n"
    "commands:\n  go:\n    - [Say, 'memo ran for {bot[user]}']\n"
)
HINT = "Sorry, 'memo/go' cannot be run in this channel"


def _robot(harness: Any, conf: str, authorizer: str = "groups") -> None:
    harness.robot_yaml = harness.robot_yaml.replace("DefaultChannels:", USERS + "DefaultChannels:")
    harness.robot_yaml += f"DefaultAuthorizer: {authorizer}\n"
    (harness.root / "conf" / "plugins" / "groups.yaml").write_text(GROUPS)
    harness.extension("plugin", "memo", GO, conf="Channels: [ops]\n" + conf)


def _answers(harness: Any, users: list[str]) -> list[str]:
    async def main() -> list[str]:
        heard: list[str] = []
        await harness.start()
        try:
            for user in users:
                heard += await harness.texts(user, ";go")
            heard += await harness.texts("bob", ";go", channel="ops")
        finally:
            await harness.stop()
        return heard

    return run(main())


def test_the_hint_is_given_to_a_member_of_the_group_and_hidden_from_others(harness) -> None:
    _robot(harness, "AuthorizedCommands: [go]\nAuthRequire: Helpdesk\n")

    bob, david, alice, in_ops = _answers(harness, ["bob", "david", "alice"])

    assert bob == HINT
    # david is not in Helpdesk, and alice (an admin) is not either: the command is unknown.
    assert david.startswith("I couldn't match `;go` in channel `#general`.")
    assert alice.startswith("I couldn't match `;go` in channel `#general`.")
    assert in_ops == "memo ran for bob"  # in its channel, the authorizer lets bob run it


def test_without_auth_require_the_hint_is_given_to_nobody(harness) -> None:
    # Upstream: a command that needs authorization but names no group is never hinted.
    _robot(harness, "AuthorizeAllCommands: true\n")

    bob, alice, _ = _answers(harness, ["bob", "alice"])

    assert bob.startswith("I couldn't match `;go`")
    assert alice.startswith("I couldn't match `;go`")


def test_an_authorizer_that_cannot_say_the_users_groups_hides_the_hint(harness) -> None:
    # `gate` authorizes everyone but has no `_usergroups`: the groups are not known.
    harness.extension(
        "plugin",
        "gate",
        "config: |\n  Commands: []\ncommands:\n  _authorize:\n    - {return: 7}\n",
    )
    _robot(harness, "AuthorizedCommands: [go]\nAuthRequire: Helpdesk\n", authorizer="gate")

    bob, in_ops = _answers(harness, ["bob"])

    assert bob.startswith("I couldn't match `;go`")
    assert in_ops == "memo ran for bob"


def test_a_command_needing_no_authorization_is_still_hinted_to_everyone(harness) -> None:
    _robot(harness, "")

    david, _ = _answers(harness, ["david"])

    assert david == HINT


def test_a_simple_matcher_near_miss_is_explained_only_to_a_member(harness) -> None:
    harness.robot_yaml = harness.robot_yaml.replace("DefaultChannels:", USERS + "DefaultChannels:")
    harness.robot_yaml += "DefaultAuthorizer: groups\n"
    (harness.root / "conf" / "plugins" / "groups.yaml").write_text(GROUPS)
    harness.extension(
        "plugin",
        "level",
        "config: |\n  Commands: [{Command: set, SimpleMatcher: 'set level (level:debug|info)'}]\n"
        "commands:\n  set:\n    - [Say, 'level {args[1]}']\n",
        conf="AuthorizedCommands: [set]\nAuthRequire: Helpdesk\n",
    )

    async def main() -> list[str]:
        await harness.start()
        try:
            return [
                *(await harness.texts("bob", ";set level fine")),
                *(await harness.texts("david", ";set level fine")),
            ]
        finally:
            await harness.stop()

    bob, david = run(main())

    assert bob.startswith('Invalid value: "fine" for: "level"')
    assert david.startswith("I couldn't match `;set level fine`")
