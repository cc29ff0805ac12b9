"""`burrow transcript` plays Gopherbot's flow suites: scripted steps against a Lua robot.

A flow sends, receives the next message and checks it (pattern, exact text, contains and
contains_none, uppercased forms), keeps what it captured for later steps (`${name}`), runs a
case, waits for the robot's `_init` pipelines, drains and checks events, and stops at the first
step that fails. Every test runs the real `burrow transcript` on a robot written here.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support import burrow

ROBOT_YAML = """\
BotInfo: {UserName: bender}
Alias: ";"
UserRoster: [{UserName: alice}, {UserName: bob}]
DefaultChannels: [general]
DefaultMessageFormat: Raw
Brain: memory
ExternalPlugins:
  desk: {Path: ext/desk.lua}
"""

# `open` makes a ticket number the flow must capture; `close T-<n>` needs that number back;
# `ask` prompts for a name in the channel.
DESK_LUA = r"""
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then
  return "Commands: [{Command: open, Regex: 'open'}, {Command: close, Regex: 'close T-(\\d+)'}," ..
    " {Command: ask, Regex: 'ask'}]"
end
local bot = gopherbot.Robot:new()
if arg[1] == "open" then
  local n = tostring(4000 + bot:RandomInt(999))
  bot:Remember("ticket", n, true)
  bot:Say("Ticket T-" .. n .. " opened (by " .. bot.user .. ")")
elseif arg[1] == "close" then
  if arg[2] == bot:Recall("ticket", true) then
    bot:Say("Closed T-" .. arg[2])
  else
    bot:Say("No ticket T-" .. arg[2])
  end
elseif arg[1] == "ask" then
  local name = bot:PromptForReply("SimpleString", "Your name?")
  bot:Say("Hello " .. name)
end
"""

FLOW = """\
name: DeskFlow
config_dir: test/desk
flow:
  - name: ready
    wait_for_idle: true
    drain_events: true
    send: {user: alice, channel: general, text: ;open}
    receive:
      channel: general
      text_pattern: '^Ticket T-\\d+ opened'
      contains: ['(by alice)']
      contains_upper: ['TICKET']
      contains_none: ['closed']
      capture_regex: {ticket: 'T-(\\d+)'}
      save_text_as: opened
    expect_events: [CommandTaskRan, ExternalTaskRan]
  - name: close-it
    send: {user: alice, channel: general, text: ';close T-${ticket}'}
    receive:
      channel: general
      text_pattern: '^Closed T-${ticket}$'
      exact_text: 'Closed T-${ticket}'
  - name: a-case
    case:
      input: {user: bob, channel: general, text: ;ask}
      replies:
        - {user: bob, channel: general, text_pattern: 'Your name\\?'}
      replies_only: true
  - sleep: 100ms
    send: {user: bob, channel: general, text: Bob}
    receive: {channel: general, text_pattern: '^Hello Bob$'}
"""


def _run(tmp_path: Path, flow: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    robot = tmp_path / "robot"
    (robot / "conf").mkdir(parents=True)
    (robot / "conf" / "robot.yaml").write_text(ROBOT_YAML)
    (robot / "ext").mkdir()
    (robot / "ext" / "desk.lua").write_text(DESK_LUA)
    suite = tmp_path / "DeskFlow.yaml"
    suite.write_text(flow)
    results = tmp_path / "results.json"
    done = burrow("transcript", str(robot), str(suite), "--json", str(results))
    data = json.loads(results.read_text()) if results.exists() else [{}]
    return done, data[0]


def test_a_flow_captures_and_reuses_values_runs_cases_and_checks_events(tmp_path: Path) -> None:
    # A last step that receives nothing: what it causes is noted, not failed, as Gopherbot
    # reads no more than a flow asks for.
    unread = "  - send: {user: alice, channel: general, text: ;open}\n"
    done, results = _run(tmp_path, FLOW + unread)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Gopherbot suite 'DeskFlow'" in done.stdout
    assert "5 passed, 0 failed" in done.stdout
    assert "1 message(s) sent after the flow's last receive" in results["notes"]
    ready, close, case, answer, _ = results["cases"]
    assert ready["title"].startswith("step 1 (ready): wait, drain, send alice in #general")
    ticket = ready["sent"][0]["text"].split()[1]
    assert close["input"]["text"] == ";close T-${ticket}"  # as written; sent expanded
    assert close["sent"][0]["text"] == f"Closed {ticket}"
    assert ready["events"] == ["CommandTaskRan", "ExternalTaskRan"]
    assert [s["text"] for s in case["sent"]] == ["Your name?"]
    assert answer["sent"][0]["text"] == "Hello Bob"


def test_the_first_failing_step_ends_the_flow_and_says_why(tmp_path: Path) -> None:
    broken = FLOW.replace("contains_none: ['closed']", "contains_none: ['opened']").replace(
        "exact_text: 'Closed T-${ticket}'", "exact_text: 'never'"
    )
    done, results = _run(tmp_path, broken)

    assert done.returncode == 1
    assert "0 passed, 1 failed" in done.stdout
    [ready] = results["cases"]
    assert "unexpected 'opened'" in ready["problems"][0]
    assert "steps 2 to 4 not run: step 1 failed" in results["notes"]


def test_a_flow_of_mistakes_is_refused_naming_the_key_and_line(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, FLOW.replace("expect_events: [CommandTaskRan", "expect_events: [Nope"))
    assert done.returncode != 0
    assert "flow.0.expect_events" in done.stderr and "unknown event 'Nope'" in done.stderr
    assert "(line 16)" in done.stderr
