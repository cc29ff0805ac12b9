"""The Lua state a zygote builds once (burrow_lua.runtime.zygote_preload), and each fork's copy.

Every child of a zygote that preloads the Lua binding inherits a copy-on-write copy of one
sandboxed state, built in the zygote before any request: these tests hold that each copy is
private to its child, takes its request's memory limit, and that the zygote stays safe to
fork; and that a robot gives each binding its extensions use a zygote of its own.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import pytest
from test_spares_bindings import spec_for

from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding
from burrow.connectors.testing import TestConnector
from burrow.engine.robot import Robot
from burrow.runner.execution import Execution
from burrow.runner.zygote import Zygote
from support import RecordingDispatcher, run

# The first child spoils whatever a later one could reach, were the state shared.
SPOIL = """\
local gopherbot = require "gopherbot_v1"
leaked = "from the first child"
string.rep = function() return "spoiled" end
gopherbot.task.Normal = 99
package.loaded.gopherbot_v1.Robot = nil
return 3
"""
PROBE = """\
local gopherbot = require "gopherbot_v1"
local bot = gopherbot.Robot:new()
bot:Say(string.format("%s %s %s", tostring(leaked), string.rep("a", 3), gopherbot.task.Normal))
return gopherbot.task.Normal
"""
# Allocates until the state's limit stops it.
HOG = """\
local t = {}
for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end
return 0
"""


@pytest.fixture(scope="module")
def lua() -> Binding:
    return BindingRegistry.discover(environ={}).bindings["lua"]


def test_each_child_of_the_zygote_has_its_own_copy_of_the_prepared_state(
    lua: Binding, tmp_path: Path
) -> None:
    async def go() -> tuple[int, int, list[tuple[str, list[object]]]]:
        zygote = Zygote(preload=["burrow_lua.runtime"])
        try:
            first = await Execution(spec_for(lua, tmp_path, SPOIL), spawner=zygote.spawn).run()
            dispatcher = RecordingDispatcher()
            second = await Execution(
                spec_for(lua, tmp_path, PROBE), dispatcher, spawner=zygote.spawn
            ).run()
            assert first.error is None and second.error is None, (first.error, second.error)
            assert zygote.pid is not None
            threads = len(os.listdir(f"/proc/{zygote.pid}/task"))
            return first.ret_val, threads, [(c.method, c.args) for c in dispatcher.calls]
        finally:
            await zygote.close()

    first, threads, calls = run(go())
    assert first == 3
    assert calls == [("Say", ["nil aaa 0"])]  # nothing of the first child's changes
    assert threads == 1  # building the state started no thread: the zygote is safe to fork


@pytest.mark.parametrize("limit_mib", [8, 256])
def test_the_copy_takes_the_requests_memory_limit(
    lua: Binding, tmp_path: Path, limit_mib: int
) -> None:
    params = {"lua_memory_limit": limit_mib * 1024 * 1024}

    async def go() -> str:
        zygote = Zygote(preload=["burrow_lua.runtime"])
        try:
            spec = spec_for(lua, tmp_path, HOG, params, timeout=120.0)
            result = await Execution(spec, spawner=zygote.spawn).run()
            assert result.error is not None
            return result.error.message
        finally:
            await zygote.close()

    message = run(go())
    assert "not enough memory" in message, message


LUA_EXTENSION = """\
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then return "Commands: [{Command: hi, Regex: '^hi$'}]" end
if arg[1] == "_init" then return gopherbot.task.Normal end
gopherbot.Robot:new():Say("hi there")
return gopherbot.task.Normal
"""
JS_EXTENSION = """\
const { Robot, task } = require('gopherbot_v1')();
if (process.argv[2] === "_configure") {
  "Commands: [{Command: hey, Regex: '^hey$'}]";
} else if (process.argv[2] === "_init") {
  task.Normal;
} else {
  new Robot().Say("hey there");
  task.Normal;
}
"""


@pytest.mark.parametrize("with_js", [False, True])
def test_each_binding_has_its_own_zygote_preloading_it_alone(tmp_path: Path, with_js: bool) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "ext").mkdir()
    (tmp_path / "ext" / "hi.lua").write_text(LUA_EXTENSION)
    (tmp_path / "ext" / "hey.js").write_text(JS_EXTENSION)
    js = "  hey: {Path: ext/hey.js}\n" if with_js else "  hey: {Path: ext/hey.js, Disabled: true}\n"
    (tmp_path / "conf" / "robot.yaml").write_text(
        textwrap.dedent("""\
            UserRoster: [{UserName: alice}]
            ExternalPlugins:
              hi: {Path: ext/hi.lua}
            """)
        + js
    )

    async def go() -> tuple[list[str], dict[str, str]]:
        robot = Robot(tmp_path, state_dir=tmp_path / "state", environ={})
        await robot.load()
        connector = TestConnector({})
        await robot.start({"test": connector}, primary="test")
        try:
            replies = []
            for command in [";hi"] + ([";hey"] if with_js else []):
                await connector.inject("alice", command, "general")
                reply = await connector.next_sent(30)
                assert reply is not None
                replies.append(reply.text)
            assert robot.zygote is not None
            maps = {}
            for binding, pid in robot.zygote.pids.items():
                with open(f"/proc/{pid}/maps") as handle:
                    maps[binding] = handle.read()
            return replies, maps
        finally:
            await robot.stop(grace=5)

    replies, maps = asyncio.run(go())
    assert replies == ["hi there", "hey there"][: 2 if with_js else 1]
    assert sorted(maps) == (["js", "lua"] if with_js else ["lua"])
    assert "lua54" in maps["lua"]  # the Lua engine, preloaded for the Lua children
    assert "libmini_racer" not in maps["lua"]  # and never V8's library
    if with_js:
        assert "libmini_racer" in maps["js"] and "lua54" not in maps["js"]
