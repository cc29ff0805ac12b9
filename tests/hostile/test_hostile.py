"""The hostile suite (issue 9): hostile extensions against a real robot, in Lua and JavaScript.

Every case runs a real robot on the test connector with real children (conftest.py,
hostile_support.py) and asserts three things: (a) alice's `;ping` is answered within a bound
while bob's hostile extension runs, (b) the hostile pipeline ends with a clear error or the
documented refusal, checked by its text, and (c) nothing leaked or was lost: no child process
left, the test process's descriptor count back where it was, and a datum written to the brain
before the case still on disk as written.

Cases per language: Lua 20, JavaScript 23 (43 in all; every one contained, none marked xfail),
plus one self-test of the leak detector.

This module, the same case in both languages (17 each):
  1. an infinite loop, killed by its timeout;
  1b. a loop that swallows its cancellation (pcall / try around robot calls), stopped all the same;
  2. memory bombs (a growing table or array; a doubling string or ArrayBuffers), memory limit;
  3. an output flood (100k Say, Log and print/console lines; stdout/stderr where reachable);
  4. sandbox escapes by path (io, os.execute, ffi, loadlib, binary chunks, loadfile/dofile of
     /etc/passwd; require of fs or /etc/passwd, process, eval and Function reaching the bridge);
  6. an environment dump: no BURROW_ENCRYPTION_KEY, no variable of the robot's own;
  7. hostile Robot calls (wrong types and arity, unknown methods, 5,000-deep data, 10 MiB Say);
  8. a child killed by its timeout, and one by SIGKILL, amid acknowledged datum updates;
  9. a spawned job adding an admin command for a user who is not an administrator;
  10. a default configuration with NUL/ESC or 5,000 levels of nesting;
  11. a YAML alias bomb (billion laughs, 8 levels) in a plugin's Config, from either side;
  12. links inside lib/ to a file, a folder and the brain outside it;
  13. a catastrophic regex ('^(a+)+$') against 'a' * 40 + '!';
  14. one 10 MiB Log line and one 10 MiB print/console line;
  15. forged log lines (a newline and a timestamp in Log, print and error text);
  16. SetWorkingDirectory with a NUL in the path;
  17. return values 1e300, 2^64 and -1e300.
test_hostile_lua.py (3): loops the VM cannot interrupt (a C pattern match, an error object's
  __tostring, a __close handler); recursion, 2^40-byte strings and hostile error objects; a
  finalizer that never returns.
test_hostile_js.py (6): prototype pollution (case 5); Robot calls forged below the library
  through Object.prototype.toJSON; a lone surrogate (case 18); loops in a promise job and in
  Atomics.wait; unbounded recursion; bridge requests of the wrong shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import time

import pytest
from hostile_support import (
    CANARY,
    CANARY_NAME,
    KILL_SECONDS,
    SEED,
    SEED_KEY,
    SEED_NAMESPACE,
    TIMEOUTS,
    HostileRobot,
    commands_yaml,
)

# -- 1. an infinite loop is killed by its timeout --------------------------------------------

SPIN = {"lua": "while true do end", "js": "for (;;) {}"}


def test_an_infinite_loop_is_killed_by_its_timeout(h: HostileRobot) -> None:
    h.plugin("spin", SPIN[h.lang])

    async def case(h: HostileRobot) -> tuple[str, float]:
        started = time.monotonic()
        await h.hostile("bob", ";spin")
        await h.alive(during="spin")
        told = await h.told()
        return told, time.monotonic() - started

    told, elapsed = h.play(case)
    runner = {"lua": "lua_run", "js": "js_run"}[h.lang]
    assert told == (
        f"Sorry, 'spin' failed with MechanismFail: timeout: {runner} did not answer within "
        f"{KILL_SECONDS:g} s"
    )
    # The kill time, plus the cancel and SIGTERM graces for a loop that ignores $/cancel.
    assert KILL_SECONDS <= elapsed < KILL_SECONDS + 6


# -- 1b. a script that swallows its cancellation is still stopped ----------------------------

SWALLOW = {
    "lua": "while true do pcall(bot.Say, bot, 'still here') end",
    "js": "for (;;) { try { bot.Say('still here'); } catch (e) {} }",
}


def test_a_script_that_swallows_its_cancellation_is_still_stopped(h: HostileRobot) -> None:
    h.plugin("swallow", SWALLOW[h.lang])

    async def case(h: HostileRobot) -> tuple[str, float]:
        started = time.monotonic()
        await h.hostile("bob", ";swallow")
        await h.alive(during="swallow")
        told = await h.told()
        return told, time.monotonic() - started

    told, elapsed = h.play(case)
    assert told.startswith("Sorry, 'swallow' failed with MechanismFail: timeout"), told
    assert KILL_SECONDS <= elapsed < KILL_SECONDS + 6
    assert h.said()[0] == "still here"


# -- 2. a memory bomb is stopped by the memory limit ------------------------------------------

BOMB = {
    "lua": """
        local hoard, i = {}, 0
        if command == "bomb" then
          while true do i = i + 1; hoard[i] = string.rep("x", 64) .. i end
        else
          local s = "x"
          while true do s = s .. s end
        end
    """,
    "js": """
        const hoard = [];
        if (command === "bomb") {
          for (let i = 0; ; i++) hoard.push("x".repeat(64) + i);
        }
        for (;;) hoard.push(new ArrayBuffer(64 * 1024 * 1024));
    """,
}
# bomb: a table or array of strings; bomb2: a doubling string (Lua), ArrayBuffers outside
# V8's heap (JavaScript).
BOMB_ERRORS = {
    "lua": {
        "bomb": "extension_error: not enough memory (the Lua memory limit is",
        "bomb2": "extension_error: not enough memory (the Lua memory limit is",
    },
    "js": {
        "bomb": "the script exceeded its JavaScript heap limit",
        "bomb2": "RangeError: Array buffer allocation failed",
    },
}


def test_a_memory_bomb_is_stopped_by_the_memory_limit(h: HostileRobot) -> None:
    # A long timeout, so that it is the memory limit that stops the bomb.
    h.plugin("bomb", BOMB[h.lang], commands=("bomb", "bomb2"), conf="TimeOuts: {Kill: 60s}\n")

    async def case(h: HostileRobot) -> dict[str, tuple[str, float]]:
        told = {}
        for command in ("bomb", "bomb2"):
            started = time.monotonic()
            await h.hostile("bob", f";{command}")
            await h.alive()
            told[command] = (await h.told(within=30), time.monotonic() - started)
        return told

    for command, (told, elapsed) in h.play(case).items():
        assert told.startswith("Sorry, 'bomb' failed with MechanismFail: "), told
        assert BOMB_ERRORS[h.lang][command] in told, told
        assert elapsed < 20, f"{command} ran {elapsed:.1f} s before its memory limit stopped it"


# -- 3. an output flood: the robot answers, the log keeps its budget -------------------------

FLOOD = {
    "lua": """
        if io then
          io.stdout:write(string.rep("o", 1 << 20))
          io.stderr:write(string.rep("e", 1 << 20))
        end
        for i = 1, 100000 do
          bot:Say("flood " .. i)
          bot:Log(log.Info, "log line " .. i .. string.rep(".", 100))
          print("print line " .. i .. string.rep(".", 100))
        end
    """,
    "js": """
        if (typeof process.stdout === "object") process.stdout.write("o".repeat(1 << 20));
        if (typeof process.stderr === "object") process.stderr.write("e".repeat(1 << 20));
        for (let i = 1; i <= 100000; i++) {
          bot.Say("flood " + i);
          bot.Log(log.Info, "log line " + i + ".".repeat(100));
          console.log("console line " + i + ".".repeat(100));
        }
    """,
}
LOG_BUDGET = 256 * 1024


def test_an_output_flood_leaves_the_robot_answering_and_the_log_within_budget(
    h: HostileRobot,
) -> None:
    h.plugin("flood", FLOOD[h.lang])

    async def case(h: HostileRobot) -> str:
        await h.hostile("bob", ";flood")
        await h.alive(during="flood")
        return await h.told()

    told = h.play(case)
    assert told.startswith("Sorry, 'flood' failed with MechanismFail: timeout"), told
    said = h.said()
    assert len(said) > 100 and said[:2] == ["flood 1", "flood 2"]
    path, text = h.log_of("flood")
    # The budget is for the child's lines; the robot's own few lines come on top.
    assert path.stat().st_size <= LOG_BUDGET + 4096, path.stat().st_size
    assert "log limit reached" in text
    assert "o" * 1000 not in text and "e" * 1000 not in text


# -- 4. sandbox escapes by path fail clearly and show nothing --------------------------------

ESCAPES = {
    "lua": {
        "io": ("io.open('/etc/passwd'):read('a')", "attempt to index a nil value (global 'io')"),
        "execute": (
            "os.execute('cat /etc/passwd')",
            "attempt to call a nil value (field 'execute')",
        ),
        "ffi": ("require('ffi')", "module 'ffi' not found"),
        "loadlib": (
            "package.loadlib('/lib/x86_64-linux-gnu/libc.so.6', 'system')",
            "attempt to call a nil value (field 'loadlib')",
        ),
        "binary": (
            "assert(load('\\27LuaT\\0\\25\\147\\13\\10\\26\\10\\4\\8\\8'))",
            "attempt to load a binary chunk (mode is 't')",
        ),
        "loadfile": ("assert(loadfile('/etc/passwd'))", "cannot read '/etc/passwd'"),
        "dofile": ("dofile('/etc/passwd')", "cannot read '/etc/passwd'"),
        "environ": ("dofile('/proc/self/environ')", "cannot read '/proc/self/environ'"),
        "python": ("python.eval('open(\"/etc/passwd\").read()')", "(global 'python')"),
    },
    "js": {
        "fs": ("require('fs').readFileSync('/etc/passwd')", "Cannot find module 'fs'"),
        "passwd": ("require('/etc/passwd')", "Cannot find module '/etc/passwd'"),
        "environ": ("require('/proc/self/environ')", "Cannot find module '/proc/self/environ'"),
        "binding": ("process.binding('fs')", "TypeError: process.binding is not a function"),
        "main": (
            "process.mainModule.require('child_process')",
            "TypeError: Cannot read properties of undefined (reading 'require')",
        ),
        "eval": (
            "eval('__burrow_native')('open')",
            "ReferenceError: __burrow_native is not defined",
        ),
        "ctor": (
            "(function () {}).constructor('return __burrow_native')()('open')",
            "ReferenceError: __burrow_native is not defined",
        ),
        "import": ("return import('fs')", "the script completed with a JavaScript promise"),
    },
}


def _dispatch(lang: str, bodies: dict[str, str]) -> str:
    """One extension body that runs `bodies[command]`."""
    if lang == "lua":
        return "\n".join(f'if command == "{c}" then\n{b}\nend' for c, b in bodies.items())
    return "\n".join(f'if (command === "{c}") {{\n{b}\n}}' for c, b in bodies.items())


async def _tell_each(h: HostileRobot, commands: list[str]) -> dict[str, str]:
    """bob runs each command in turn; what he was told after each."""
    told = {}
    for command in commands:
        await h.hostile("bob", f";{command}")
        told[command] = await h.told()
    await h.alive()
    return told


def test_sandbox_escapes_by_path_fail_clearly_and_show_nothing(h: HostileRobot) -> None:
    escapes = ESCAPES[h.lang]
    h.plugin(
        "escape",
        _dispatch(h.lang, {c: b for c, (b, _) in escapes.items()}),
        commands=tuple(escapes),
    )
    told = h.play(lambda h: _tell_each(h, list(escapes)))
    for command, (_, expected) in escapes.items():
        assert told[command].startswith("Sorry, 'escape' failed with MechanismFail: "), told
        assert expected in told[command], (command, told[command])
    everything = repr(told) + repr(h.pipeline_logs())
    assert "root:" not in everything and "/bin/bash" not in everything
    assert CANARY not in everything


# -- 6. secrets in the environment never reach an extension ----------------------------------

ENV_DUMP = {
    "lua": """
        local names = {"BURROW_ENCRYPTION_KEY", "HOSTILE_CANARY", "PATH", "HOME", "PWD",
          "USER", "SHELL", "VIRTUAL_ENV", "PYTHONPATH", "LD_PRELOAD", "SSH_AUTH_SOCK",
          "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "BURROW_ZYGOTE", "GOPHER_USER",
          "GOPHER_HOME", "GOPHER_PIPELINE_ID"}
        local out = {}
        for _, name in ipairs(names) do out[#out + 1] = name .. "=" .. tostring(os.getenv(name)) end
        bot:Say(table.concat(out, " "))
        bot:Say("parameters=" .. bot:GetParameter("BURROW_ENCRYPTION_KEY") .. "|"
          .. bot:GetParameter("HOSTILE_CANARY"))
    """,
    "js": """
        bot.Say(JSON.stringify(process.env) + " " + JSON.stringify(process.argv)
          + " " + JSON.stringify(GBOT));
        bot.Say("parameters=" + bot.GetParameter("BURROW_ENCRYPTION_KEY") + "|"
          + bot.GetParameter("HOSTILE_CANARY"));
    """,
}


def test_an_environment_dump_shows_no_robot_secret(h: HostileRobot) -> None:
    h.plugin("dump", ENV_DUMP[h.lang])

    async def case(h: HostileRobot) -> list[str]:
        await h.hostile("bob", ";dump")
        await h.first(lambda m: m.text.startswith("parameters="), 0, 10)
        await h.alive()
        return h.said()

    said = h.play(case)
    dump, parameters = said
    # The dump works: the variables the robot grants the task are there.
    assert "GOPHER_USER" in dump and "bob" in dump and "PATH" in dump
    assert parameters == "parameters=|"
    key = os.environ["BURROW_ENCRYPTION_KEY"]
    everything = repr(said) + repr(h.pipeline_logs())
    assert CANARY not in everything and key not in everything
    if h.lang == "lua":
        assert "BURROW_ENCRYPTION_KEY=nil" in dump and f"{CANARY_NAME}=nil" in dump
    else:
        assert "BURROW_ENCRYPTION_KEY" not in dump and CANARY_NAME not in dump


# -- 7. hostile Robot calls: clear errors, the robot unaffected ------------------------------

CALLS = {
    "lua": {
        "types": ("bot:Say({})", "Say: argument #1 must be a string, got table"),
        "arity": (
            "bot:SendChannelMessage('general')",
            "SendChannelMessage: argument #2 must be a string, got nil",
        ),
        "unknown": ("bot:Frobnicate()", "attempt to call a nil value (method 'Frobnicate')"),
        "nested": (
            """
            local deep = {}
            local cursor = deep
            for _ = 1, 5000 do cursor.n = {}; cursor = cursor.n end
            local m = bot:CheckoutDatum("deep", true)
            m.datum = deep
            bot:UpdateDatum(m)
            """,
            "UpdateDatum: a table nests deeper than 100 levels",
        ),
        "notutf8": ("bot:Say('\\237\\160\\128')", "Say: argument #1 is not valid UTF-8"),
    },
    "js": {
        "types": ("bot.Say({})", "TypeError: Say: message must be a string, got object"),
        "arity": (
            "bot.SendChannelMessage('general')",
            "TypeError: SendChannelMessage: message must be a string, got undefined",
        ),
        "unknown": ("bot.Frobnicate()", "TypeError: bot.Frobnicate is not a function"),
        "nested": (
            """
            const deep = {};
            let cursor = deep;
            for (let i = 0; i < 5000; i++) { cursor.n = {}; cursor = cursor.n; }
            const m = bot.CheckoutDatum("deep", true);
            m.datum = deep;
            bot.UpdateDatum(m);
            """,
            "MalformedRequest: a value nests deeper than 100 levels",
        ),
        "bigint": (
            "const m = bot.CheckoutDatum('big', true); m.datum = {n: 10n}; bot.UpdateDatum(m)",
            "TypeError",
        ),
    },
}
HUGE = {
    "lua": "bot:Say('huge ' .. tostring(bot:Say(string.rep('x', 10 * 1024 * 1024))))",
    "js": "bot.Say('huge ' + bot.Say('x'.repeat(10 * 1024 * 1024)))",
}
FINE = {"lua": "bot:Say('fine')", "js": "bot.Say('fine')"}


def test_hostile_robot_calls_fail_clearly_and_leave_the_robot_unaffected(h: HostileRobot) -> None:
    calls = CALLS[h.lang]
    bodies = {c: b for c, (b, _) in calls.items()} | {"huge": HUGE[h.lang], "fine": FINE[h.lang]}
    h.plugin("calls", _dispatch(h.lang, bodies), commands=tuple(bodies))

    async def case(h: HostileRobot) -> tuple[dict[str, str], list[str]]:
        told = await _tell_each(h, list(calls))
        await h.hostile("bob", ";huge")
        await h.first(lambda m: m.text.startswith("huge "), 0, 20)
        said = h.said()
        await h.hostile("bob", ";fine")
        await h.first(lambda m: m.text == "fine", 0, 10)
        await h.alive()
        return told, said

    told, huge = h.play(case)
    for command, (_, expected) in calls.items():
        assert told[command].startswith("Sorry, 'calls' failed with MechanismFail: "), told
        assert expected in told[command], (command, told[command])
    if h.lang == "js":
        # No depth limit of its own: whichever side refuses it says why.
        assert "recursion" in told["nested"].lower() or "deep" in told["nested"], told
    # 10 MiB is under the 16 MiB message limit: delivered whole, and the call says Ok.
    assert [len(t) for t in huge] == [10 * 1024 * 1024, len("huge 0")] and huge[1] == "huge 0"


# -- 8. a child killed amid acknowledged datum updates loses none of them --------------------

LEDGER = {
    "lua": """
        local key = arg[2]
        local i = 0
        while true do
          i = i + 1
          local m = bot:CheckoutDatum(key, true)
          m.datum.n = i
          if bot:UpdateDatum(m) == ret.Ok then bot:Say(key .. " acked " .. i) end
        end
    """,
    "js": """
        const key = args[0];
        for (let i = 1; ; i++) {
          const m = bot.CheckoutDatum(key, true);
          m.datum.n = i;
          if (bot.UpdateDatum(m) === ret.Ok) bot.Say(key + " acked " + i);
        }
    """,
}


def test_a_child_killed_amid_acknowledged_datum_updates_loses_none(h: HostileRobot) -> None:
    h.plugin("ledger", LEDGER[h.lang], commands=(("ledger", "ledger (timeout|sigkill)"),))

    async def case(h: HostileRobot) -> None:
        assert h.robot is not None
        await h.hostile("bob", ";ledger timeout")
        await h.send("bob", ";ledger sigkill")
        await h.alive(during="ledger")
        # One child is killed outright, mid-stream; the other runs into its timeout.
        [victim] = [
            p.execution.pid
            for p in h.robot.pipelines.values()
            if p.execution is not None and p.execution.pid and p.starter.args == ["sigkill"]
        ]
        os.killpg(victim, signal.SIGKILL)
        await h.told()
        while h.running("ledger"):
            await asyncio.sleep(0.05)

    h.play(case)
    failures = sorted(m.text for m in h.sent if m.user == "bob")
    assert len(failures) == 2, failures
    assert failures[0].startswith("Sorry, 'ledger' failed with MechanismFail: child_exit"), failures
    assert failures[1].startswith("Sorry, 'ledger' failed with MechanismFail: timeout"), failures
    for key in ("timeout", "sigkill"):
        acked = [int(t.split()[-1]) for t in h.said() if t.startswith(f"{key} acked ")]
        assert len(acked) > 10 and acked == list(range(1, len(acked) + 1)), (key, acked[-3:])
        stored = h.stored("ledger", key)
        # Every acknowledged update is on disk; at most the one in flight went further.
        assert stored is not None and len(acked) <= stored["n"] <= len(acked) + 1, (key, stored)


# -- 9. a job cannot lend a user a command reserved to administrators ------------------------

ESCALATION = {
    "lua": {
        "adm": "bot:Say('ADMIN RAN for ' .. bot.user)",
        "launch": "bot:Say('spawn ' .. bot:SpawnJob('escalate'))",
        "escalate": "bot:Say('add ' .. bot:AddCommand('adm', 'go'))",
    },
    "js": {
        "adm": "bot.Say('ADMIN RAN for ' + bot.user);",
        "launch": "bot.Say('spawn ' + bot.SpawnJob('escalate'));",
        "escalate": "bot.Say('add ' + bot.AddCommand('adm', 'go'));",
    },
}


def test_a_spawned_job_cannot_run_an_admin_command_for_a_user(h: HostileRobot) -> None:
    bodies = ESCALATION[h.lang]
    h.plugin("adm", bodies["adm"], commands=("go",), conf="AdminCommands: [go]\n" + TIMEOUTS)
    h.plugin("launch", bodies["launch"])
    h.job("escalate", bodies["escalate"])

    async def case(h: HostileRobot) -> tuple[list[str], list[str]]:
        # alice, an administrator: the same path runs the command, so the setup is sound.
        await h.hostile("alice", ";launch")
        ran = await h.first(lambda m: m.text.startswith("ADMIN RAN"), 0, 10)
        assert ran is not None and ran.text == "ADMIN RAN for alice", h.sent
        await h.hostile("bob", ";launch")
        refused = await h.first(lambda m: m.text.startswith("Sorry"), h.mark, 10)
        assert refused is not None, h.sent
        await h.alive()
        await asyncio.sleep(0.3)  # room for a command that should not run to show itself
        return [refused.text], [m.text for m in h.sent[h.mark :]]

    refused, after = h.play(case)
    assert refused == ["Sorry, 'adm/go' is only available to bot administrators"]
    assert not [t for t in after if t.startswith("ADMIN RAN")], after


# -- 10. a hostile default configuration disables only its plugin ----------------------------

CONTROL = {
    "lua": '"Commands: [{Command: ctrl, Regex: ctrl}]\\nConfig: {Greeting: \\"a\\0b\\27[2J\\"}\\n"',
    "js": '"Commands: [{Command: ctrl, Regex: ctrl}]\\n"'
    ' + "Config: {Greeting: \\"a\\u0000b\\u001b[2J\\"}\\n"',
}
DEEP = {
    "lua": '"Commands: [{Command: deep, Regex: deep}]\\nConfig: "'
    ' .. string.rep("[", 5000) .. string.rep("]", 5000) .. "\\n"',
    "js": '"Commands: [{Command: deep, Regex: deep}]\\nConfig: "'
    ' + "[".repeat(5000) + "]".repeat(5000) + "\\n"',
}
SAY_OK = {"lua": "bot:Say('ok works')", "js": "bot.Say('ok works');"}


def test_a_hostile_default_configuration_disables_only_its_plugin(h: HostileRobot) -> None:
    h.plugin("ctrl", SAY_OK[h.lang], configure_expr=CONTROL[h.lang])
    h.plugin("deep", SAY_OK[h.lang], configure_expr=DEEP[h.lang])
    h.plugin("ok", SAY_OK[h.lang])

    async def case(h: HostileRobot) -> tuple[dict[str, str], str, str]:
        assert h.robot is not None
        problems = dict(h.robot.catalog.problems())
        await h.hostile("bob", ";ok")
        works = await h.first(lambda m: m.text == "ok works", h.mark, 10)
        await h.hostile("bob", ";ctrl")
        unknown = await h.first(lambda m: m.text.startswith("I couldn't match"), h.mark, 15)
        told = "" if unknown is None else unknown.text
        await h.alive()
        return problems, "" if works is None else works.text, told

    problems, works, told = h.play(case)
    assert works == "ok works"
    assert told.startswith("I couldn't match `;ctrl`"), told
    assert set(problems) == {"ctrl", "deep"}, problems
    assert "control character" in problems["ctrl"], problems["ctrl"]
    assert "\x00" not in problems["ctrl"] and "\x1b" not in problems["ctrl"]
    assert "nested more than" in problems["deep"], problems["deep"]
    assert h.load_seconds < 5


# -- 11. a YAML alias bomb in a plugin's Config is refused at load ---------------------------

LAUGHS = "\n".join(
    ["  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [
        f"  {name}: &{name} [{', '.join([f'*{previous}'] * 9)}]"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)
BOMB_YAML = f"Config:\n{LAUGHS}\n"
READ_CONFIG = {
    "lua": """
        local config = bot:GetTaskConfig()
        bot:Say("config " .. tostring(config and config.Color))
    """,
    "js": """
        const got = bot.GetTaskConfig();
        bot.Say("config " + (got.config && got.config.Color));
    """,
}


def test_a_yaml_alias_bomb_in_a_plugins_config_is_refused_at_load(h: HostileRobot) -> None:
    # One bomb in the robot's file for the plugin, one in the plugin's own default.
    h.plugin("laughs", READ_CONFIG[h.lang], conf=BOMB_YAML + TIMEOUTS)
    h.plugin("giggles", READ_CONFIG[h.lang], configure=commands_yaml("giggles") + BOMB_YAML)
    h.plugin("calm", READ_CONFIG[h.lang], conf="Config: {Color: teal}\n" + TIMEOUTS)

    async def case(h: HostileRobot) -> tuple[dict[str, str], list[str]]:
        assert h.robot is not None
        problems = dict(h.robot.catalog.problems())
        answers = []
        for command in ("laughs", "giggles", "calm"):
            await h.hostile("bob", f";{command}")
            answer = await h.first(lambda m: m.channel == "general", h.mark, 5)
            answers.append("" if answer is None else answer.text)
        await h.alive()
        return problems, answers

    started = time.monotonic()
    problems, answers = h.play(case)
    assert set(problems) == {"laughs", "giggles"}, problems
    for name in ("laughs", "giggles"):
        assert "alias" in problems[name], problems[name]
    assert h.load_seconds < 2, h.load_seconds
    assert answers[2] == "config teal"
    # The refused plugins are not there to call GetTaskConfig: nothing of them runs.
    assert not [a for a in answers[:2] if a.startswith("config")], answers
    assert time.monotonic() - started < 15


# -- 12. links inside lib/ lead nowhere outside ----------------------------------------------

SECRET = "TOP-SECRET-0e7d"
LINKED = {
    "lua": {
        "req_file": ('bot:Say(tostring(require("file")))', "cannot read"),
        "req_folder": ('bot:Say(tostring(require("folder.secret")))', "cannot read"),
        "req_brain": ('bot:Say(tostring(require("brain")))', "cannot read"),
        "dofile_file": ('bot:Say(tostring(dofile(LIB .. "/file.lua")))', "cannot read"),
        "loadfile_folder": (
            'bot:Say(tostring(assert(loadfile(LIB .. "/folder/secret.lua"))()))',
            "cannot read",
        ),
        "dofile_brain": ('bot:Say(tostring(dofile(LIB .. "/brain.lua")))', "cannot read"),
    },
    "js": {
        "req_file": ('bot.Say(String(require("file")));', "cannot read module"),
        "req_folder": ('bot.Say(String(require("folder/secret")));', "cannot read module"),
        "req_brain": ('bot.Say(String(require("brain")));', "cannot read module"),
        "req_json": ('bot.Say(JSON.stringify(require("brain.json")));', "cannot read module"),
        "req_abs": ('bot.Say(String(require(LIB + "/file.js")));', "cannot read module"),
    },
}


def test_links_inside_lib_to_files_outside_are_refused(h: HostileRobot) -> None:
    cases = LINKED[h.lang]
    ext = h.suffix
    module = f'return "{SECRET}"\n' if h.lang == "lua" else f'module.exports = "{SECRET}";\n'
    outside = h.root.parent / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / f"secret{ext}").write_text(module)
    (outside / "folder" / f"secret{ext}").write_text(module)
    lib = h.root / "lib"
    (lib / f"file{ext}").symlink_to(outside / f"secret{ext}")
    (lib / "folder").symlink_to(outside / "folder", target_is_directory=True)
    (lib / f"brain{ext}").symlink_to(h.state / "brain.sqlite3")
    (lib / "brain.json").symlink_to(h.state / "brain.sqlite3")
    declare = (
        f"local LIB = {json.dumps(str(lib.resolve()))}\n"
        if h.lang == "lua"
        else f"const LIB = {json.dumps(str(lib.resolve()))};\n"
    )
    h.plugin(
        "linked",
        declare + _dispatch(h.lang, {c: b for c, (b, _) in cases.items()}),
        commands=tuple(cases),
    )
    told = h.play(lambda h: _tell_each(h, list(cases)))
    for command, (_, expected) in cases.items():
        assert told[command].startswith("Sorry, 'linked' failed with MechanismFail: "), told
        assert expected in told[command], (command, told[command])
    everything = repr(told) + repr(h.said()) + repr(h.pipeline_logs())
    assert SECRET not in everything and "SQLite format" not in everything
    assert SEED["written"] not in everything


# -- 13. a catastrophic regex cannot stall the robot -----------------------------------------


@pytest.mark.timeout(30)  # a backtracking matcher would hold the robot's loop for hours
def test_a_catastrophic_regex_cannot_stall_the_robot(h: HostileRobot) -> None:
    h.plugin("nested", SAY_OK[h.lang], commands=(("aplus", "^(a+)+$"),))

    async def case(h: HostileRobot) -> tuple[str, str]:
        await h.hostile("bob", ";" + "a" * 40 + "!")
        await h.alive(within=2.0)
        unknown = await h.first(lambda m: m.text.startswith("I couldn't match"), h.mark, 15)
        unmatched = "" if unknown is None else unknown.text
        await h.hostile("bob", ";" + "a" * 40)
        matched = await h.first(lambda m: m.channel == "general", h.mark, 10)
        return unmatched, "" if matched is None else matched.text

    unmatched, matched = h.play(case)
    assert unmatched.startswith("I couldn't match `;aaaa"), unmatched
    assert matched == "ok works"


# -- 14. one 10 MiB log line costs the log at most its budget --------------------------------

HUGE_LINE = {
    "lua": """
        bot:Log(log.Info, string.rep("y", 10 * 1024 * 1024))
        print(string.rep("z", 10 * 1024 * 1024))
        bot:Say("logged")
    """,
    "js": """
        bot.Log(log.Info, "y".repeat(10 * 1024 * 1024));
        console.log("z".repeat(10 * 1024 * 1024));
        bot.Say("logged");
    """,
}


def test_a_single_10_mib_log_line_costs_the_log_at_most_its_budget(h: HostileRobot) -> None:
    h.plugin("longline", HUGE_LINE[h.lang])

    async def case(h: HostileRobot) -> str:
        await h.hostile("bob", ";longline")
        await h.alive()
        done = await h.first(lambda m: m.text == "logged", h.mark, 20)
        assert done is not None, h.said()
        while h.running("longline"):
            await asyncio.sleep(0.02)
        return done.text

    h.play(case)
    path, text = h.log_of("longline")
    assert path.stat().st_size <= LOG_BUDGET, path.stat().st_size
    assert "y" * 1000 in text and "z" * 1000 in text  # the lines are there, cut


# -- 15. an extension cannot forge lines of the pipeline log ---------------------------------

FORGED = "x\n2030-01-01T00:00:00 AUDIT [1] forged"
FORGE = {
    "lua": f"""
        local forged = {json.dumps(FORGED)}
        bot:Log(log.Info, forged)
        bot:Log(log.Error, forged .. "\\r\\n2030-01-01T00:00:01 AUDIT [1] forged-crlf")
        print(forged .. "-print")
        error(forged .. "-error")
    """,
    "js": f"""
        const forged = {json.dumps(FORGED)};
        bot.Log(log.Info, forged);
        bot.Log(log.Error, forged + "\\r\\n2030-01-01T00:00:01 AUDIT [1] forged-crlf");
        console.log(forged + "-print");
        throw new Error(forged + "-error");
    """,
}


def test_an_extension_cannot_forge_lines_of_the_pipeline_log(h: HostileRobot) -> None:
    h.plugin("forge", FORGE[h.lang])

    async def case(h: HostileRobot) -> str:
        await h.hostile("bob", ";forge")
        await h.alive()
        return await h.told()

    told = h.play(case)
    assert told.startswith("Sorry, 'forge' failed with MechanismFail: extension_error:"), told
    _, text = h.log_of("forge")
    # Logged, escaped, inside a line of the robot's (an error's message may be cut at its
    # first line instead).
    for escaped in (
        r"x\n2030-01-01T00:00:00 AUDIT [1] forged" + "\n",
        r"forged\r\n2030-01-01T00:00:01 AUDIT [1] forged-crlf",
        r"x\n2030-01-01T00:00:00 AUDIT [1] forged-print",
    ):
        assert escaped in text, escaped
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith("2030-")], lines
    assert all(line[:4].isdigit() and line[4] == "-" for line in lines), lines


# -- 16. SetWorkingDirectory with a NUL: false, and no traceback -----------------------------

NUL_DIRECTORY = {
    "lua": 'bot:Say("swd=" .. tostring(bot:SetWorkingDirectory("a\\0b")))',
    "js": 'bot.Say("swd=" + bot.SetWorkingDirectory("a\\u0000b"));',
}


def test_set_working_directory_with_a_nul_is_false_without_a_traceback(
    h: HostileRobot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="burrow")
    h.plugin("nul", NUL_DIRECTORY[h.lang])

    async def case(h: HostileRobot) -> list[str]:
        await h.hostile("bob", ";nul")
        await h.first(lambda m: m.text.startswith("swd="), h.mark, 10)
        await h.alive()
        return h.said()

    assert h.play(case) == ["swd=false"]
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text


# -- 17. a return value beyond any TaskRetVal is a clear error -------------------------------

BIG_RETURNS = {
    "lua": {"big1": "return 1e300", "big2": "return 2^64", "big3": "return -1e300"},
    "js": {"big1": "return 1e300;", "big2": "return 2 ** 64;", "big3": "return -1e300;"},
}


def test_a_return_value_beyond_any_task_ret_val_is_a_clear_error(h: HostileRobot) -> None:
    bodies = BIG_RETURNS[h.lang]
    h.plugin("big", _dispatch(h.lang, bodies), commands=tuple(bodies))
    told = h.play(lambda h: _tell_each(h, list(bodies)))
    for command, text in told.items():
        assert text.startswith("Sorry, 'big' failed with MechanismFail: extension_error:"), told
        assert "TaskRetVal" in text and "cannot encode" not in text, (command, text)


# -- the harness itself: what a case leaves behind does not go unseen ------------------------


@pytest.mark.parametrize("h", ["lua"], indirect=True)
def test_the_harness_sees_a_leaked_process_descriptor_and_lost_datum(h: HostileRobot) -> None:
    h.plugin("fine", FINE[h.lang])
    leaked: list[subprocess.Popen[bytes]] = []
    descriptors: list[int] = []

    async def case(h: HostileRobot) -> None:
        assert h.robot is not None and h.robot.datums is not None
        await h.hostile("bob", ";fine")
        await h.first(lambda m: m.text == "fine", h.mark, 10)
        leaked.append(subprocess.Popen(["sleep", "30"], start_new_session=True))
        descriptors.append(os.open(os.devnull, os.O_RDONLY))
        checkout = await h.robot.datums.checkout(SEED_NAMESPACE, SEED_KEY, True, owner="case")
        await h.robot.datums.update(SEED_NAMESPACE, SEED_KEY, checkout.token, {"lost": True})

    try:
        with pytest.raises(AssertionError) as failure:
            h.play(case)
    finally:
        for process in leaked:
            process.kill()
            process.wait()
        for descriptor in descriptors:
            os.close(descriptor)
    report = str(failure.value)
    assert f"process {leaked[0].pid} (state S) is still a child of the test" in report, report
    assert "descriptors:" in report and "the datum seeded before the case is now" in report
    # Once the process and the descriptor are cleaned up, only the lost datum is left.
    assert h.leaks() == ["the datum seeded before the case is now {'lost': True}"]
