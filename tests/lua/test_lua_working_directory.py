"""SetWorkingDirectory from a Lua extension served by a real robot: a path the file system
cannot even name (a NUL inside) or a symbolic link loop is refused with false, without a
traceback in the robot."""

from __future__ import annotations

import logging
from pathlib import Path

from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot
from support import run

ROBOT_YAML = """\
BotInfo: {UserName: burrow, FullName: Burrow Robot}
Alias: ";"
AdminUsers: [alice]
UserRoster:
  - {UserName: alice, FullName: Alice Admin}
DefaultChannels: [general]
ExternalPlugins:
  wd: {Path: ext/wd.lua}
"""

WD_LUA = r"""
if arg[1] == "_configure" then
  return "Commands: [{Command: wd, Regex: wd}]"
end
local bot = require("gopherbot_v1").Robot:new()
local nul = bot:SetWorkingDirectory("sub\0dir")
local loop = bot:SetWorkingDirectory("loop")
local fine = bot:SetWorkingDirectory("sub")
bot:Say(string.format("nul=%s loop=%s sub=%s", tostring(nul), tostring(loop), tostring(fine)))
"""


def test_a_nul_in_the_path_is_refused_cleanly(tmp_path: Path, caplog) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text(ROBOT_YAML)
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "wd.lua").write_text(WD_LUA)
    (tmp_path / "sub").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")

    async def main() -> str:
        robot = Robot(tmp_path, state_dir=tmp_path / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            await connector.inject("alice", ";wd", "general")
            sent = await connector.next_sent(20.0)
            assert sent is not None
            return sent.text
        finally:
            await robot.stop(grace=2.0)

    with caplog.at_level(logging.WARNING):
        text = run(main())
    assert text == "nul=false loop=false sub=true"
    failures = [r for r in caplog.records if r.exc_info or "SetWorkingDirectory" in r.getMessage()]
    assert failures == [], [r.getMessage() for r in failures]
