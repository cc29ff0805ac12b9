"""The JavaScript library's Email*, identity and GetHelpMetadata methods, served by a real robot.

One JavaScript plugin calls each method in a real child; the robot sends its email to a real
SMTP server on loopback and keeps the identity link in its brain.
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
  js: {{Path: ext/all.js, ParameterSets: [gh]}}
"""

ALL_JS = r"""
const { Robot, task } = require("gopherbot_v1")();

function all() {
  const bot = new Robot();
  const out = [];
  out.push(bot.Email("Status", "from js"));
  out.push(bot.EmailUser("alice", "Report", "<b>bold</b>", true));
  out.push(bot.EmailAddress("nobody", "s", "b"));
  out.push(bot.LinkOAuth2Identity({ Provider: "github", User: bot.user, AccessToken: "js-tok" }));
  const got = bot.GetIdentityCredential("GitHub", bot.user);
  out.push(got.retVal, got.credential.headerValue);
  out.push(bot.UnlinkIdentity("github", bot.user));
  const gone = bot.GetIdentityCredential("github", bot.user);
  out.push(String(gone.credential), gone.retVal);
  const top = JSON.parse(bot.GetHelpMetadata("all")).ranked_here[0];
  out.push(`${top.plugin}/${top.command}=${top.score}`);
  try {
    bot.EmailUser("alice", "subject", "body", "yes");
  } catch (error) {
    out.push(`${error.name}: ${error.message}`);
  }
  bot.Say(out.join(" | "));
  return task.Normal;
}

process.argv[2] === "_configure"
  ? "Commands: [{Command: all, Regex: all, Usage: '(alias) all', Keywords: [mail]}]"
  : process.argv[2] === "_init" ? 0 : all();  // nothing to set up at start
"""


def test_email_identity_and_help_metadata_from_javascript(tmp_path: Path) -> None:
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "all.js").write_text(ALL_JS)
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
                sent = await connector.next_sent(60.0)
                assert sent is not None
                return sent.text
            finally:
                await robot.stop(grace=2.0)

        text = run(main())

    assert text.split(" | ") == [
        "0",  # Email to alice, the sender
        "0",  # EmailUser, as HTML
        "3",  # EmailAddress to a user with no address: AttributeNotFound
        "0",  # LinkOAuth2Identity
        "0",
        "Bearer js-tok",
        "0",  # UnlinkIdentity
        "null",
        "31",  # IdentityNotLinked
        "js/all=100",
        "TypeError: EmailUser: html must be a boolean, got string",
    ]
    [(_, to1, plain), (_, to2, html)] = inbox.received
    assert (to1, plain["Subject"], plain.get_content().strip()) == (
        ["alice@example.com"],
        "Status",
        "from js",
    )
    assert (to2, html.get_content_type(), html.get_content().strip()) == (
        ["alice@example.com"],
        "text/html",
        "<b>bold</b>",
    )
