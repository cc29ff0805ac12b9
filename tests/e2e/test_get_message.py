"""GetMessage and CheckAdmin from Lua and JavaScript, served by a real robot to a real child.

GetMessage gives the Go API's Message (Go's field names): the Robot's user, channel and
format, and the message as it came in. CheckAdmin records upstream's AdminCheckPassed or
AdminCheckFailed event on the message's connector, as Gopherbot's Robot.CheckAdmin does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from burrow.connectors.testing import TestConnector
from burrow.engine.events import Event
from burrow.engine.robot import Robot
from support import run

ROBOT_YAML = """\
BotInfo: {UserName: burrow}
Alias: ";"
DefaultMessageFormat: Variable
AdminUsers: [alice]
UserRoster:
  - {UserName: alice}
  - {UserName: bob}
DefaultChannels: [general]
ExternalPlugins:
  msg: {Path: ext/msg.SUFFIX}
"""

MSG_LUA = r"""
if arg[1] == "_configure" then
  return "{AllowedPrivateCommands: [msg], Commands: [{Command: msg, Regex: 'msg'}]}"
end
if arg[1] == "_init" then return 0 end  -- nothing to set up at start
local gopherbot = require "gopherbot_v1"
local bot = gopherbot.Robot:new()
local function show(m)
  local i = m.Incoming
  return table.concat({ m.User, m.ProtocolUser, m.Channel, m.ProtocolChannel,
    gopherbot.proto:string(m.Protocol), gopherbot.fmt:string(m.Format), i.Protocol,
    i.UserName, i.ChannelName, i.ChannelID, tostring(i.ThreadID ~= ""),
    tostring(i.DirectMessage) }, ",")
end
local admin = bot:CheckAdmin()
bot:Say(table.concat({ show(bot:GetMessage()), show(bot:Direct():GetMessage()),
  show(bot:Fixed():GetMessage()), tostring(admin) }, " | "))
"""

MSG_JS = r"""
const { Robot, proto, fmt } = require("gopherbot_v1")();
function configure() {
  return "{AllowedPrivateCommands: [msg], Commands: [{Command: msg, Regex: 'msg'}]}";
}
function show(m) {
  const i = m.Incoming;
  return [m.User, m.ProtocolUser, m.Channel, m.ProtocolChannel, proto.string(m.Protocol),
    fmt.string(m.Format), i.Protocol, i.UserName, i.ChannelName, i.ChannelID,
    String(i.ThreadID !== ""), String(i.DirectMessage)].join(",");
}
function msg() {
  const bot = new Robot();
  const admin = bot.CheckAdmin();
  bot.Say([show(bot.GetMessage()), show(bot.Direct().GetMessage()),
    show(bot.Fixed().GetMessage()), String(admin)].join(" | "));
}
if (process.argv[2] === "_configure") configure();
else if (process.argv[2] !== "_init") msg();  // nothing to set up at start
"""

SOURCES = {"lua": MSG_LUA, "js": MSG_JS}
LANGUAGES = pytest.mark.parametrize("language", sorted(SOURCES))


def _ask(tmp_path: Path, language: str, user: str, channel: str) -> tuple[str, list[Event]]:
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "robot.yaml").write_text(ROBOT_YAML.replace("SUFFIX", language))
    (tmp_path / "ext").mkdir(exist_ok=True)
    (tmp_path / "ext" / f"msg.{language}").write_text(SOURCES[language])

    async def main() -> tuple[str, list[Event]]:
        robot = Robot(tmp_path, state_dir=tmp_path / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            await connector.inject(user, ";msg" if channel else "msg", channel)
            sent = await connector.next_sent(30.0)
            assert sent is not None
            return sent.text, [r.event for r in connector.events]
        finally:
            await robot.stop(grace=2.0)

    return run(main())


@LANGUAGES
def test_get_message_gives_the_go_apis_message(tmp_path: Path, language: str) -> None:
    text, events = _ask(tmp_path, language, "alice", "general")
    plain, direct, fixed, admin = text.split(" | ")
    assert plain == (
        "alice,u-alice,general,c-general,Test,Variable,test,alice,general,c-general,true,false"
    )
    # Direct() blanks the Robot's channel; the message as it came in keeps it.
    assert direct == "alice,u-alice,,,Test,Variable,test,alice,general,c-general,true,false"
    assert fixed.split(",")[5] == "Fixed"
    assert admin == "true"
    assert Event.AdminCheckPassed in events


@LANGUAGES
def test_check_admin_from_an_extension_records_a_failed_check(
    tmp_path: Path, language: str
) -> None:
    text, events = _ask(tmp_path, language, "bob", "")
    assert text.split(" | ")[0] == "bob,u-bob,,,Test,Variable,test,bob,,,true,true"
    assert text.endswith(" | false")
    assert Event.AdminCheckFailed in events and Event.AdminCheckPassed not in events
