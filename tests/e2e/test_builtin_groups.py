"""The `groups` built-in authorizer, through a real robot: configuration, chat, the brain.

The conversation follows the intent of upstream's TestGroupAuth suite
(https://github.com/lnxjedi/gopherbot/blob/main/integration/suites/data/TestGroupAuth.yaml):
configured members and administrators, members added in chat, and `_authorize` for a plugin
that names a group in `AuthRequire`.
"""

from __future__ import annotations

from support import run

USERS = (
    "  - {UserName: carol, UserID: U003}\n"
    "  - {UserName: david, UserID: U004}\n"
    "  - {UserName: erin, UserID: U005}\n"
)

GROUPS = """\
Disabled: false
Config:
  Groups:
    Helpdesk:
      Administrators: [carol]
      Users: [bob]
    SysAdmins:
      Users: [david]
    NetAdmins:
      Administrators: [erin]
    Peons:
      Administrators: [carol]
"""


def _robot(harness, groups: str | None = GROUPS) -> None:
    # carol, david and erin join the UserRoster, whose entries come just before DefaultChannels.
    harness.robot_yaml = harness.robot_yaml.replace("DefaultChannels:", USERS + "DefaultChannels:")
    harness.robot_yaml += "DefaultAuthorizer: groups\n"
    if groups is not None:
        (harness.root / "conf" / "plugins" / "groups.yaml").write_text(groups)
    harness.extension(
        "plugin",
        "memo",
        "config: |\n  Commands: [{Command: go, Regex: 'go'}]\n"
        "commands:\n  go:\n    - [Say, 'memo ran for {bot[user]}']\n",
        conf="AuthorizedCommands: [go]\nAuthRequire: Helpdesk\n",
    )


def _talk(harness, lines: list[tuple[str, str]]) -> list[str]:
    async def main() -> list[str]:
        heard: list[str] = []
        await harness.start()
        try:
            for user, text in lines:
                heard += await harness.texts(user, text)
        finally:
            await harness.stop()
        return heard

    return run(main())


def test_members_configured_or_added_in_chat_are_authorized_and_others_are_not(harness) -> None:
    _robot(harness)
    heard = _talk(
        harness,
        [
            ("alice", ";list groups"),
            ("alice", ";show the foo group"),
            ("alice", ";show the Helpdesk group"),
            ("alice", ";go"),
            ("carol", ";list groups"),
            ("bob", ";go"),
            ("david", ";go"),
            ("carol", ";go"),
            ("bob", ";add erin to the Helpdesk group"),
            ("carol", ";add david to the Helpdesk group"),
            ("carol", ";add david to the Helpdesk group"),
            ("david", ";go"),
            ("carol", ";show the group"),
            ("alice", ";remove bob from the Helpdesk group"),
        ],
    )
    assert heard == [
        "Here are the groups you're an administrator for:\nHelpdesk\nSysAdmins\nNetAdmins\nPeons",
        'I don\'t have a "foo" group configured',
        "The Helpdesk group has the following members:\ncarol\nbob",
        "Sorry, you're not authorized for that command",  # a robot admin is not a member
        "Here are the groups you're an administrator for:\nHelpdesk\nPeons",
        "memo ran for bob",
        "Sorry, you're not authorized for that command",
        "memo ran for carol",  # a group's administrator is a member
        "Sorry, only a group administrator can do that",
        "Ok, I added david to the Helpdesk group",
        "User david is already in the Helpdesk group",
        "memo ran for david",
        # "the group": the group carol named last here (the matcher's Contexts)
        "The Helpdesk group has the following members:\ncarol\nbob\ndavid",
        "bob isn't a dynamic member of the Helpdesk group (but may be a configured user)",
    ]


def test_members_added_in_chat_are_kept_in_the_brain_across_a_restart(harness) -> None:
    _robot(harness)
    first = _talk(harness, [("carol", ";add david to the Helpdesk group")])
    second = _talk(
        harness,
        [
            ("david", ";go"),
            ("erin", ";remove david from the Helpdesk group"),
            ("carol", ";remove david from the Helpdesk group"),
            ("david", ";go"),
            ("carol", ";remove david from the Helpdesk group"),
            ("carol", ";add erin to the Helpdesk group"),
            ("carol", ";empty the Helpdesk group"),
            ("erin", ";go"),
        ],
    )
    assert first == ["Ok, I added david to the Helpdesk group"]
    assert second == [
        "memo ran for david",
        "Sorry, only a group administrator can do that",
        "Ok, I removed david from the Helpdesk group",
        "Sorry, you're not authorized for that command",
        'There are no dynamic users in the "Helpdesk" group',
        "Ok, I added erin to the Helpdesk group",
        "Emptied",
        "Sorry, you're not authorized for that command",
    ]


def test_the_refusal_is_said_in_the_channel_not_addressed(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            return await harness.exchange("david", ";go")
        finally:
            await harness.stop()

    [sent] = run(main())
    assert (sent.user, sent.channel, sent.text) == (
        "",
        "general",
        "Sorry, you're not authorized for that command",
    )


def test_a_group_the_configuration_lacks_is_an_authorizer_problem(harness) -> None:
    _robot(harness, groups="Disabled: false\nConfig:\n  Groups:\n    Other: {Users: [bob]}\n")
    assert _talk(harness, [("bob", ";go")]) == [
        "Sorry, authorization failed due to a problem with the authorization plugin"
    ]


def test_groups_is_off_until_the_robot_enables_it(harness) -> None:
    _robot(harness, groups=None)

    async def main():
        robot = await harness.start()
        try:
            heard = await harness.texts("bob", ";go") + await harness.texts("bob", ";list groups")
            return heard, robot.catalog.problems(), robot.catalog.get("groups").disabled
        finally:
            await harness.stop()

    heard, problems, disabled = run(main())
    assert heard[0].startswith("Sorry, 'memo/go' requires authorization, but its authorizer")
    assert heard[1].startswith("I couldn't match `;list groups`")
    assert disabled and "groups" not in problems  # off by default is not a problem to report


def test_a_misconfigured_group_is_reported_with_file_line_and_key(harness) -> None:
    _robot(
        harness, groups="Disabled: false\nConfig:\n  Groups:\n    Helpdesk:\n      Member: [bob]\n"
    )

    async def main():
        robot = await harness.start()
        try:
            return robot.catalog.problems()
        finally:
            await harness.stop()

    problems = run(main())
    assert problems["groups"].startswith(
        "conf/plugins/groups.yaml:5: Config.Groups.Helpdesk.Member: unknown key"
    )


def test_the_groups_plugin_checks_admin_where_upstream_does_with_its_events(harness) -> None:
    # TestGroupAuth's events: groups asks CheckAdmin after finding the group, for any command.
    _robot(harness)

    async def main():
        await harness.start()
        try:
            said = []
            for user, text in (
                ("alice", ";list groups"),
                ("alice", ";show the foo group"),
                ("carol", ";show the Helpdesk group"),
                ("david", ";go"),
            ):
                harness.connector.drain_events()
                await harness.texts(user, text)
                said.append([r.event.value for r in harness.connector.drain_events()])
            return said
        finally:
            await harness.stop()

    assert run(main()) == [
        ["CommandTaskRan", "GoPluginRan", "AdminCheckPassed"],
        ["CommandTaskRan", "GoPluginRan"],  # an unknown group: answered before the check
        ["CommandTaskRan", "GoPluginRan", "AdminCheckFailed"],
        ["GoPluginRan", "AdminCheckFailed", "AuthRanFail"],
    ]
