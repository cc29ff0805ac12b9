"""`groups`: upstream Gopherbot's group authorizer, as a plugin of the robot itself.

A group's members are the users configured for it (its `Administrators` and `Users`) plus the
users its administrators added in chat, which are kept in long-term memory (the datum named
after the group, in the plugin's namespace). `_authorize` answers Success when the user is a
member of the group a plugin names in `AuthRequire`, Fail when not, and ConfigurationError
when that group is not configured or not named. Group administrators (and the robot's
administrators) add and remove the remembered members; configured members stay configured.

Behaviour and chat texts follow upstream's goplugins/groups/groups.go
(https://github.com/lnxjedi/gopherbot/blob/main/goplugins/groups/groups.go); the defaults
below stand for its conf/plugins/groups.yaml, disabled until a robot enables it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import Field

from burrow.constants import LogLevel, RetVal, TaskRetVal
from burrow.engine.builtin_plugins.chat import check_admin
from burrow.engine.config.schema import ConfigModel

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline, TaskRun

__all__ = ["DEFAULT_CONFIG", "GroupsConfig", "groups"]

NAME = "groups"

DEFAULT_CONFIG = r"""
Disabled: true  # enable it in conf/plugins/groups.yaml, with your Config.Groups
Commands:
- Command: help
  SimpleMatcher: help with /group|groups/
  Keywords: [group, groups]
  Usage: help with groups
  Summary: explain how groups work
- Command: add
  SimpleMatcher: add <user:token> to {the} [<group:rest>] group
  Contexts: [user, group]
  Keywords: [group, groups, add]
  Usage: add <user> to the <groupname> group
  Summary: add a user to a group (group administrators)
- Command: list
  SimpleMatcher: list groups
  Keywords: [list, group, groups]
  Usage: list groups
  Summary: list the groups you administer (all of them, for robot administrators)
- Command: remove
  SimpleMatcher: /remove|delete/ <user:token> from {the} [<group:rest>] group
  Contexts: [user, group]
  Keywords: [group, groups, remove]
  Usage: remove <user> from the <groupname> group
  Summary: remove a user added in chat from a group (group administrators)
- Command: empty
  SimpleMatcher: /empty|clear/ {the} [<group:rest>] group
  Contexts: [group]
  Keywords: [group, groups, empty]
  Usage: empty the <groupname> group
  Summary: remove every user added in chat from a group (group administrators)
- Command: show
  SimpleMatcher: show {the} [<group:rest>] group
  Contexts: [group]
  Keywords: [group, groups, show, view]
  Usage: show the <groupname> group
  Summary: show the members of a group
"""

_HELP = (
    "Groups name the users an authorizer lets through: a command whose plugin says "
    "'AuthRequire: <group>' runs only for members of that group. A group's members are the "
    "administrators and users configured for it, plus the users its administrators add in "
    "chat, which I remember. Robot administrators can add and remove users too, but are not "
    "members unless they are listed or added. 'help groups' lists the group commands."
)


class GroupSpec(ConfigModel):
    """One group of `Config.Groups`: who administers it, who is a member."""

    administrators: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)


class GroupsConfig(ConfigModel):
    """The plugin's `Config` section."""

    groups: dict[str, GroupSpec] = Field(default_factory=dict)


def _member(user: str, spec: GroupSpec, remembered: list[str]) -> bool:
    return user in spec.administrators or user in spec.users or user in remembered


def _remembered(datum: Any) -> list[str]:
    """The users added in chat, from a group's datum (`{"Users": [...]}`, as upstream)."""
    users = datum.get("Users") if isinstance(datum, dict) else None
    return [u for u in users if isinstance(u, str)] if isinstance(users, list) else []


def _group_arg(command: str, args: list[str]) -> str:
    """The group a command is about: upstream's argument positions."""
    if command in ("add", "remove", "_authorize"):
        return args[1] if len(args) > 1 else ""
    if command in ("empty", "show"):
        return args[0] if args else ""
    return ""


async def groups(pipeline: Pipeline, run: TaskRun) -> int:
    """The plugin's handler: chat commands and the `_authorize`/`_usergroups` callbacks."""
    command, args = run.command, list(run.args)
    if command == "_init":
        return TaskRetVal.Normal
    config = GroupsConfig.model_validate(run.task.config or {})
    if command == "_usergroups":
        return await _user_groups(pipeline, run, config, args)
    group = _group_arg(command, args)
    spec = GroupSpec()
    if group:
        found = config.groups.get(group)
        if found is None:
            if command != "_authorize":
                await pipeline.say(f'I don\'t have a "{group}" group configured')
                return TaskRetVal.Normal
            pipeline.log(LogLevel.Warn, f"groups: asked to authorize for unknown group {group!r}")
            return TaskRetVal.ConfigurationError
        spec = found
    if command == "_authorize" and not group:
        plugin = args[0] if args else ""
        pipeline.log(
            LogLevel.Error,
            f"groups: plugin {plugin!r} needs authorization but names no group; "
            "set AuthRequire in its configuration",
        )
        return TaskRetVal.ConfigurationError
    admin = check_admin(pipeline)  # where upstream asks, whatever the command (its event too)
    if command == "help":
        await pipeline.say(_HELP)
        return TaskRetVal.Normal
    if command == "list":
        return await _list(pipeline, config, admin)
    if command in ("show", "_authorize"):
        return await _read_only(pipeline, run, command, group, spec)
    if command in ("add", "remove", "empty"):
        return await _change(pipeline, run, command, group, spec, args, admin)
    pipeline.log(LogLevel.Error, f"groups: unknown command {command!r}")
    return TaskRetVal.Fail


async def _user_groups(
    pipeline: Pipeline, run: TaskRun, config: GroupsConfig, args: list[str]
) -> int:
    """`_usergroups <user> <parameter>`: the user's groups, as JSON, in that parameter."""
    user = args[0].strip() if args else ""
    parameter = args[1].strip() if len(args) > 1 else ""
    if not user or not parameter:
        pipeline.log(LogLevel.Error, "groups/_usergroups needs <username> and <parameter-key>")
        return TaskRetVal.ConfigurationError
    datums = pipeline.robot.datums
    if datums is None:
        return TaskRetVal.NotFound
    member_of = []
    for name, spec in config.groups.items():
        found = await datums.checkout(run.task.namespace, name, False)
        if found.ret_val != RetVal.Ok:
            pipeline.log(LogLevel.Warn, f"groups/_usergroups: cannot read group {name!r}")
            return TaskRetVal.NotFound
        if _member(user, spec, _remembered(found.datum)):
            member_of.append(name)
    pipeline.parameters[parameter] = json.dumps(sorted(member_of))
    return TaskRetVal.Success


async def _list(pipeline: Pipeline, config: GroupsConfig, admin: bool) -> int:
    user = pipeline.message.user
    mine = [n for n, s in config.groups.items() if admin or user in s.administrators]
    if not mine:
        await pipeline.say("You're not the administrator of any groups")
    else:
        await pipeline.say("Here are the groups you're an administrator for:\n" + "\n".join(mine))
    return TaskRetVal.Normal


async def _read_only(
    pipeline: Pipeline, run: TaskRun, command: str, group: str, spec: GroupSpec
) -> int:
    datums = pipeline.robot.datums
    found = (
        await datums.checkout(run.task.namespace, group, False, owner=str(pipeline.id))
        if datums is not None
        else None
    )
    if found is None or found.ret_val != RetVal.Ok:
        why = found.ret_val.name if found is not None else "no brain"
        pipeline.log(LogLevel.Error, f"groups: cannot load group {group!r}: {why}")
        if command == "_authorize":
            return TaskRetVal.MechanismFail
        await pipeline.reply("I had a problem loading the group, somebody should check my log file")
        return TaskRetVal.Normal
    remembered = _remembered(found.datum)
    if command == "_authorize":
        user = pipeline.message.user
        return TaskRetVal.Success if _member(user, spec, remembered) else TaskRetVal.Fail
    members: list[str] = []
    for user in [*spec.administrators, *spec.users, *remembered]:
        if user not in members:
            members.append(user)
    if not members:
        await pipeline.say(f"The {group} group has no members")
    else:
        await pipeline.say(f"The {group} group has the following members:\n" + "\n".join(members))
    return TaskRetVal.Normal


async def _change(
    pipeline: Pipeline,
    run: TaskRun,
    command: str,
    group: str,
    spec: GroupSpec,
    args: list[str],
    admin: bool,
) -> int:
    user = pipeline.message.user
    if not (admin or user in spec.administrators):
        if not spec.administrators:
            pipeline.log(LogLevel.Error, f"groups: no administrators configured for {group!r}")
        await pipeline.say("Sorry, only a group administrator can do that")
        return TaskRetVal.Normal
    datums = pipeline.robot.datums
    if datums is None:
        await pipeline.reply("I had a problem loading the group, somebody should check my log file")
        return TaskRetVal.Normal
    namespace = run.task.namespace
    found = await datums.checkout(namespace, group, True, owner=str(pipeline.id))
    token = found.token
    try:
        if found.ret_val != RetVal.Ok:
            why = found.ret_val.name
            pipeline.log(LogLevel.Error, f"groups: cannot load group {group!r}: {why}")
            await pipeline.reply(
                "I had a problem loading the group, somebody should check my log file"
            )
            return TaskRetVal.Normal
        remembered = _remembered(found.datum)
        target = args[0] if args else ""
        if command == "add":
            if target in remembered:
                await pipeline.say(f"User {target} is already in the {group} group")
                return TaskRetVal.Normal
            remembered.append(target)
            said = f"Ok, I added {target} to the {group} group"
            audit = f"user {user} added user {target} to group {group}"
        elif command == "remove":
            if not remembered:
                await pipeline.say(f'There are no dynamic users in the "{group}" group')
                return TaskRetVal.Normal
            if target not in remembered:
                await pipeline.say(
                    f"{target} isn't a dynamic member of the {group} group "
                    "(but may be a configured user)"
                )
                return TaskRetVal.Normal
            remembered.remove(target)
            said = f"Ok, I removed {target} from the {group} group"
            audit = f"user {user} removed user {target} from group {group}"
        else:
            remembered = []
            said, audit = "Emptied", f"user {user} removed all users from group {group}"
        stored = await datums.update(namespace, group, token, {"Users": remembered})
        if stored == RetVal.Ok:
            token = ""  # the update passed the lock on; otherwise it is checked in below
        else:
            pipeline.log(LogLevel.Error, f"groups: cannot save group {group!r}: {stored.name}")
            await pipeline.reply(
                "Crud. I had a problem saving my groups - somebody better check the log"
            )
            return TaskRetVal.Normal
        pipeline.log(LogLevel.Audit, audit)
        await pipeline.say(said)
        return TaskRetVal.Normal
    finally:
        if token:
            await datums.checkin(namespace, group, token)
