"""Help filtered by the authorizer's groups (`_usergroups`), with a Lua authorizer and groups.

A command that needs authorization for a group (`AuthRequire`) is left out of `help` and of
GetHelpMetadata for a user the authorizer says is not in that group; an authorizer that does
not know (NotFound) filters nothing, as upstream's help. Real robot, real Lua children.
"""

from __future__ import annotations

import re
from pathlib import Path

from burrow.connectors.testing import TestConnector
from burrow.engine.events import Event
from burrow.engine.robot import Robot
from support import run

ROBOT_YAML = """\
BotInfo: {UserName: burrow}
Alias: ";"
UserRoster:
  - {UserName: alice}
  - {UserName: bob}
  - {UserName: carol}
DefaultChannels: [general]
DefaultAuthorizer: groups
ExternalPlugins:
  desk: {Path: ext/desk.lua}
  ops: {Path: ext/ops.lua}
  opsauth: {Path: ext/opsauth.lua}
"""

GROUPS_YAML = "Disabled: false\nConfig:\n  Groups:\n    Helpdesk:\n      Users: [alice]\n"
DESK_YAML = "AuthorizedCommands: [fix]\nAuthRequire: Helpdesk\n"
OPS_YAML = "AuthorizedCommands: [deploy]\nAuthRequire: Ops\nAuthorizer: opsauth\n"

DESK_LUA = r"""
if arg[1] == "_configure" then
  return "Commands: [{Command: fix, Regex: 'fix'}, {Command: look, Regex: 'look'}, " ..
    "{Command: meta, Regex: 'meta'}]"
end
local gopherbot = require "gopherbot_v1"
local json = require "json"
local bot = gopherbot.Robot:new()
if arg[1] == "meta" then
  local names = {}
  for _, entry in ipairs(json.decode(bot:GetHelpMetadata("")).browseable) do
    if entry.plugin == "desk" or entry.plugin == "ops" then
      names[#names + 1] = entry.plugin .. "/" .. entry.command
    end
  end
  table.sort(names)
  bot:Say("META " .. table.concat(names, " "))
end
"""

OPS_LUA = r"""
if arg[1] == "_configure" then
  return "Commands: [{Command: deploy, Regex: 'deploy'}]"
end
"""

# alice is in Ops (named in lowercase), bob in no group; for anyone else it does not know.
OPSAUTH_LUA = r"""
if arg[1] == "_configure" then
  return "{}"
end
local gopherbot = require "gopherbot_v1"
local bot = gopherbot.Robot:new()
if arg[1] == "_usergroups" then
  local user, key = arg[2], arg[3]
  if user == "alice" then
    bot:SetParameter(key, '["ops"]')
  elseif user == "bob" then
    bot:SetParameter(key, "[]")
  else
    return gopherbot.task.NotFound
  end
  return gopherbot.task.Success
end
return gopherbot.task.Fail
"""


def _robot(root: Path) -> None:
    for folder in ("conf/plugins", "ext"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "conf" / "robot.yaml").write_text(ROBOT_YAML)
    (root / "conf" / "plugins" / "groups.yaml").write_text(GROUPS_YAML)
    (root / "conf" / "plugins" / "desk.yaml").write_text(DESK_YAML)
    (root / "conf" / "plugins" / "ops.yaml").write_text(OPS_YAML)
    (root / "ext" / "desk.lua").write_text(DESK_LUA)
    (root / "ext" / "ops.lua").write_text(OPS_LUA)
    (root / "ext" / "opsauth.lua").write_text(OPSAUTH_LUA)


def _ask(root: Path, lines: list[tuple[str, str]]) -> tuple[list[str], list[Event]]:
    _robot(root)

    async def main() -> tuple[list[str], list[Event]]:
        robot = Robot(root, state_dir=root / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        heard = []
        try:
            for user, text in lines:
                await connector.inject(user, text, "general")
                sent = await connector.next_sent(30.0)
                assert sent is not None
                heard.append(sent.text)
            return heard, [r.event for r in connector.events]
        finally:
            await robot.stop(grace=2.0)

    return run(main())


def _listed(help_text: str) -> set[str]:
    """The plugin/command pairs of our plugins that a help answer lists."""
    found = re.findall(r"^;(\w+).* \((desk|ops)\)$", help_text, re.MULTILINE)
    return {f"{plugin}/{command}" for command, plugin in found}


def test_help_leaves_out_commands_of_groups_the_user_is_not_in(tmp_path: Path) -> None:
    heard, events = _ask(tmp_path, [("alice", ";help"), ("bob", ";help"), ("carol", ";help")])
    alice, bob, carol = (_listed(text) for text in heard)
    assert alice == {"desk/fix", "desk/look", "desk/meta", "ops/deploy"}
    assert bob == {"desk/look", "desk/meta"}  # in neither Helpdesk nor (says opsauth) Ops
    assert carol == {"desk/look", "desk/meta", "ops/deploy"}  # opsauth does not know: shown
    # The authorizers were asked (no event, as upstream's); the help command itself ran.
    assert Event.ExternalTaskRan not in events and events.count(Event.GoPluginRan) == 3


def test_get_help_metadata_leaves_them_out_too(tmp_path: Path) -> None:
    heard, _ = _ask(tmp_path, [("alice", ";meta"), ("bob", ";meta")])
    assert heard[0] == "META desk/fix desk/look desk/meta ops/deploy"
    assert heard[1] == "META desk/look desk/meta"
