"""The Lua library's Email*, identity and GetHelpMetadata methods, served by a real robot.

One Lua plugin calls each method in a real child; the robot sends its email to a real SMTP
server on loopback and keeps the identity link in its brain.
"""

from __future__ import annotations

import os
from pathlib import Path

from burrow.brain import generate_key
from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot
from mail_support import smtp_server
from support import run

ROBOT_YAML = """\
BotInfo: {{UserName: burrow, FullName: Burrow Robot, Email: burrow@example.com}}
Alias: ";"
UserRoster:
  - {{UserName: alice, Email: alice@example.com}}
DefaultChannels: [general]
MailConfig: {{Mailhost: '127.0.0.1:{port}'}}
ParameterSets:
  gh: {{Parameters: [{{Name: CLIENT_ID, Value: c}}]}}
IdentityProviders:
  github: {{Type: oauth2, CredentialParameterSet: gh, OAuth2: {{}}}}
ExternalPlugins:
  lua: {{Path: ext/all.lua, ParameterSets: [gh]}}
"""

ALL_LUA = r"""
if arg[1] == "_configure" then
  return "Commands: [{Command: all, Regex: all, Usage: '(alias) all', Keywords: [mail]}]"
end
if arg[1] == "_init" then return 0 end  -- nothing to set up at start
local gopherbot = require "gopherbot_v1"
local json = require "json"
local bot = gopherbot.Robot:new()
local out = {}
local function add(v) out[#out + 1] = tostring(v) end
add(bot:Email("Status", "from lua"))
add(bot:EmailUser("alice", "Report", "<b>bold</b>", true))
add(bot:EmailAddress("nobody", "s", "b"))
add(bot:LinkOAuth2Identity({Provider = "github", User = bot.user, AccessToken = "lua-tok"}))
local credential, found = bot:GetIdentityCredential("GitHub", bot.user)
add(found)
add(credential.header_value)
add(bot:UnlinkIdentity("github", bot.user))
local none, gone = bot:GetIdentityCredential("github", bot.user)
add(none)
add(gone)
local meta = json.decode(bot:GetHelpMetadata("all"))
local top = meta.ranked_here[1]
add(top.plugin .. "/" .. top.command .. "=" .. top.score)
add(select(2, pcall(bot.Email, bot, nil, "body")))
bot:Say(table.concat(out, " | "))
"""


def test_email_identity_and_help_metadata_from_lua(tmp_path: Path) -> None:
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "all.lua").write_text(ALL_LUA)
    environ = {**os.environ, "BURROW_ENCRYPTION_KEY": generate_key()}

    with smtp_server() as inbox:
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "robot.yaml").write_text(ROBOT_YAML.format(port=inbox.port))

        async def main() -> str:
            robot = Robot(tmp_path, state_dir=tmp_path / "state", environ=environ)
            await robot.load()
            connector = TestConnector({})
            await robot.start({"test": connector}, primary="test")
            try:
                await connector.inject("alice", ";all", "general")
                sent = await connector.next_sent(30.0)
                assert sent is not None
                return sent.text
            finally:
                await robot.stop(grace=2.0)

        text = run(main())

    assert text.split(" | ")[:10] == [
        "0",  # Email to alice, the sender
        "0",  # EmailUser, as HTML
        "3",  # EmailAddress to a user with no address: AttributeNotFound
        "0",  # LinkOAuth2Identity
        "0",
        "Bearer lua-tok",
        "0",  # UnlinkIdentity
        "nil",
        "31",  # IdentityNotLinked
        "lua/all=100",
    ]
    assert "Email: argument #1 must be a string, got nil" in text.split(" | ")[10]
    [(_, to1, plain), (_, to2, html)] = inbox.received
    assert (to1, plain["Subject"], plain.get_content().strip()) == (
        ["alice@example.com"],
        "Status",
        "from lua",
    )
    assert (to2, html.get_content_type(), html.get_content().strip()) == (
        ["alice@example.com"],
        "text/html",
        "<b>bold</b>",
    )
