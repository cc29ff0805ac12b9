"""A Direct() Robot's prompt asks in a direct message and takes its answer from there only.

As upstream's Robot, whose Direct() has no channel: the prompt is a DM, and a message in the
channel the command came from is not the answer. Real robot, real Lua and JavaScript children.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from burrow.connectors.testing import SentMessage, TestConnector
from burrow.engine.robot import Robot
from support import run

ROBOT_YAML = """\
BotInfo: {UserName: burrow}
Alias: ";"
UserRoster: [{UserName: alice}]
DefaultChannels: [general]
ExternalPlugins:
  ask: {Path: ext/ask.SUFFIX}
"""

ASK_LUA = r"""
if arg[1] == "_configure" then
  return "Commands: [{Command: listen, Regex: 'listen'}]"
end
if arg[1] == "_init" then return 0 end  -- nothing to set up at start
local gopherbot = require "gopherbot_v1"
local bot = gopherbot.Robot:new()
local reply, ret = bot:Direct():PromptForReply("SimpleString", "What do you want to tell me?")
bot:Direct():Say("heard '" .. reply .. "' " .. gopherbot.ret:string(ret))
"""
ASK_JS = r"""
const { Robot, ret } = require("gopherbot_v1")();
if (process.argv[2] === "_configure") {
  "Commands: [{Command: listen, Regex: 'listen'}]";
} else if (process.argv[2] === "_init") {
  0;  // nothing to set up at start
} else {
  const bot = new Robot();
  const got = bot.Direct().PromptForReply("SimpleString", "What do you want to tell me?");
  bot.Direct().Say(`heard '${got.reply}' ${ret.string(got.retVal)}`);
}
"""
SOURCES = {"lua": ASK_LUA, "js": ASK_JS}


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_a_direct_prompt_asks_and_listens_in_a_direct_message(
    tmp_path: Path, language: str
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text(ROBOT_YAML.replace("SUFFIX", language))
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / f"ask.{language}").write_text(SOURCES[language])

    async def main() -> list[SentMessage]:
        robot = Robot(tmp_path, state_dir=tmp_path / "state")
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            await connector.inject("alice", ";listen", "general")
            prompt = await connector.next_sent(30.0)
            assert prompt is not None
            await connector.inject("alice", "said in the channel", "general")
            await connector.inject("alice", "said in private", "")
            answer = await connector.next_sent(30.0)
            assert answer is not None
            return [prompt, answer]
        finally:
            await robot.stop(grace=2.0)

    prompt, answer = run(main())
    assert (prompt.channel, prompt.user, prompt.text) == (
        "",
        "alice",
        "What do you want to tell me?",
    )
    assert (answer.channel, answer.text) == ("", "heard 'said in private' Ok")
