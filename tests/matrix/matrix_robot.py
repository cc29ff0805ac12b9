"""A real robot on the Matrix connector: `burrow run` in a child process, its log on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

ROBOT_NAME = "burrow"
DISPLAY_NAME = "Burrow Bot"

# A trivial Lua plugin: `echo` (Reply: mentions the sender), `ask` (a prompt), `md`
# (BasicMarkdown), `long N` (a message of N bytes), `lines N` (N messages in a row).
LUA_PLUGIN = r"""
local defaultConfig = [[
AllowedPrivateCommands: ["*"]
Commands:
- {Command: echo, Regex: '(?i:echo) (.+)'}
- {Command: ask, Regex: '(?i:ask)'}
- {Command: md, Regex: '(?i:md)'}
- {Command: long, Regex: '(?i:long) (\d+)'}
- {Command: say, Regex: '(?i:say) (.+)'}
- {Command: who, Regex: '(?i:who am i)'}
- {Command: dm, Regex: '(?i:dm me)'}
]]
local gopherbot = require "gopherbot_v1"
local task, ret, fmt, Robot = gopherbot.task, gopherbot.ret, gopherbot.fmt, gopherbot.Robot
local command = arg[1]
if command == "_configure" then return defaultConfig end
if command == "_init" then return task.Normal end
local bot = Robot:new()
if command == "echo" then
  bot:Reply(arg[2])
elseif command == "say" then
  bot:Say(arg[2])
elseif command == "dm" then
  bot:Direct():Say("privately")
  bot:Say("sent " .. ret:string(bot:SendUserMessage(bot.user, "again")))
elseif command == "who" then
  local full = bot:GetSenderAttribute("fullname")
  local first = bot:GetSenderAttribute("firstname")
  local id = bot:GetSenderAttribute("id")
  bot:Say(string.format("%s|%s|%s|%s", bot.user, full, first, id))
elseif command == "ask" then
  local reply, rv = bot:PromptForReply("YesNo", "Really?")
  bot:Say("answer '" .. reply .. "' " .. ret:string(rv))
elseif command == "md" then
  bot:MessageFormat(fmt.BasicMarkdown):Say("**bold** and `code`")
elseif command == "long" then
  local n = tonumber(arg[2])
  local line = string.rep("x", 99) .. "\n"
  bot:Say(string.rep(line, n // 100))
end
return task.Normal
"""


def robot_yaml(homeserver: str, user_id: str, extra: dict[str, Any] | None = None) -> str:
    matrix: dict[str, Any] = {
        "Homeserver": homeserver,
        "UserID": user_id,
        "DisplayName": DISPLAY_NAME,
        "Rooms": ["#general:localhost"],
    }
    matrix.update(extra or {})
    config = {
        "BotInfo": {"UserName": ROBOT_NAME, "FullName": "Burrow the test robot"},
        "Alias": ";",
        "AdminUsers": ["alice"],
        "UserRoster": [
            {"UserName": "alice", "UserID": "@alice:localhost"},
            {"UserName": "bob", "UserID": "@bob:localhost", "FullName": "Bob Roster"},
        ],
        "DefaultChannels": ["general"],
        "PrimaryProtocol": "matrix",
        "ProtocolConfig": {"matrix": matrix},
        "Brain": "mem",
        "ExternalPlugins": {"mx": {"Path": "ext/mx.lua", "Description": "Matrix test plugin"}},
    }
    return json.dumps(config, indent=2)


class Robot:
    """`burrow run` of a robot folder made for one homeserver and robot account."""

    def __init__(
        self,
        folder: Path,
        homeserver: str,
        account: Any,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.folder = folder
        self.account = account
        self.state = folder / "state"
        (folder / "ext").mkdir(parents=True, exist_ok=True)
        (folder / "ext" / "mx.lua").write_text(textwrap.dedent(LUA_PLUGIN), encoding="utf-8")
        (folder / "conf").mkdir(parents=True, exist_ok=True)
        (folder / "conf" / "robot.yaml").write_text(
            robot_yaml(homeserver, account.user_id, extra), encoding="utf-8"
        )
        self.token_in_env = True  # MATRIX_ACCESS_TOKEN holds the account's token
        self.environ: dict[str, str] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_path = folder / "stderr.log"

    @property
    def sync_file(self) -> Path:
        return (
            self.state
            / "matrix"
            / (self.account.user_id.replace("@", "_").replace(":", "_") + ".json")
        )

    def saved_position(self) -> str:
        try:
            return str(json.loads(self.sync_file.read_text(encoding="utf-8"))["next_batch"])
        except (OSError, ValueError, KeyError):
            return ""

    def log(self) -> str:
        parts = []
        for path in (self.stderr_path, self.state / "robot.log"):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            parts.append(f"--- {path.name}\n" + "\n".join(text.splitlines()[-80:]))
        return "\n".join(parts)

    def start(self, timeout: float = 60.0) -> None:
        env = dict(os.environ, BURROW_BINDINGS="lua")
        env.pop("MATRIX_PASSWORD", None)
        env["MATRIX_ACCESS_TOKEN"] = self.account.access_token if self.token_in_env else ""
        env.update(self.environ)
        before = self.listening()
        with self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "burrow",
                    "run",
                    str(self.folder),
                    "--state",
                    str(self.state),
                ],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )
        # Ready once it has completed its first sync (it says so in its log).
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the robot exited with {self.process.returncode}:\n{self.log()}"
                )
            if self.listening() > before:
                return
            time.sleep(0.05)
        raise AssertionError(f"the robot did not sync within {timeout:.0f} s:\n{self.log()}")

    def listening(self) -> int:
        try:
            text = (self.state / "robot.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return 0
        return text.count("matrix: listening as")

    def stop(self) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                raise AssertionError(f"the robot did not stop on SIGTERM:\n{self.log()}") from None
        return int(process.returncode)
