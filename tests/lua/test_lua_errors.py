"""Failures of Lua extensions: syntax and runtime errors, hangs and cancellation."""

from __future__ import annotations

import asyncio
import time

from lua_support import BOT, CannedRobot

from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode
from burrow.runner.execution import Execution, ExecutionSpec, RobotCall
from support import run


def test_syntax_error_names_the_file_and_line(run_lua, tmp_path) -> None:
    run = run_lua("local ok = 1\nlocal broken = = 2\nreturn 0\n")
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert "unexpected symbol near '='" in run.result.error.message
    assert run.error_data["language"] == "lua"
    assert run.error_data["file"] == str(tmp_path / "ext.lua")
    assert run.error_data["line"] == 2
    assert run.calls == []
    assert len(run.errors) == 1 and "unexpected symbol" in run.errors[0]


def test_runtime_error_carries_a_lua_traceback(run_lua, tmp_path) -> None:
    run = run_lua(
        """local function inner(t)
            local value = t.missing.field
            return value
        end
        local function outer()
            local value = inner({})
            return value
        end
        outer()
        """
    )
    data = run.error_data
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert "attempt to index a nil value (field 'missing')" in run.result.error.message
    assert (data["file"], data["line"]) == (str(tmp_path / "ext.lua"), 2)
    traceback = data["traceback"]
    assert traceback.startswith(run.result.error.message)
    assert "in upvalue 'inner'" in traceback and "in local 'outer'" in traceback
    assert "in main chunk" in traceback
    assert "sandbox.lua" not in traceback  # the runner's own frames are trimmed
    assert run.errors and "in upvalue 'inner'" in run.errors[0]


def test_an_error_in_a_required_module_names_the_module_file(run_lua, tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper.lua").write_text(
        "local M = {}\nfunction M.go()\n  error('helper broke')\nend\nreturn M\n"
    )
    run = run_lua('local helper = require "helper"\nhelper.go()\n', lib_paths=[lib])
    assert "helper broke" in run.result.error.message
    assert (run.error_data["file"], run.error_data["line"]) == (str(lib / "helper.lua"), 3)
    assert "ext.lua:2: in main chunk" in run.error_data["traceback"]


def test_a_syntax_error_in_a_required_module_is_reported_at_the_require(run_lua, tmp_path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "broken.lua").write_text("return {\n")
    run = run_lua('local x = 1\nrequire "broken"\n', lib_paths=[lib])
    assert "error loading module 'broken'" in run.result.error.message
    assert run.error_data["line"] == 2
    assert "broken.lua:2:" in run.error_data["traceback"]


def test_error_values_that_are_not_strings_are_described(run_lua) -> None:
    run = run_lua("local x = 1\nerror({code = 42})\n")
    assert run.result.error.message == "(error object is a table value)"
    assert run.error_data["line"] == 2


def test_an_error_without_position_is_placed_in_the_extension(run_lua) -> None:
    run = run_lua('local x = 1\nlocal y = 2\nerror("no position", 0)\n')
    assert run.result.error.message == "no position"
    assert run.error_data["line"] == 3


def test_a_missing_script_is_an_extension_error(run_lua, lua_binding, tmp_path, robot) -> None:
    spec = ExecutionSpec(
        lua_binding,
        "lua_run",
        {"path": str(tmp_path / "absent.lua"), "args": [], "bot": BOT},
        tmp_path,
        timeout=30,
    )
    result = run(Execution(spec, robot).run())
    assert result.ret_val == TaskRetVal.MechanismFail
    assert result.error.code == ErrorCode.EXTENSION_ERROR
    assert "cannot open" in result.error.message


def test_an_endless_loop_is_killed_by_the_runner_timeout(run_lua) -> None:
    started = time.monotonic()
    run = run_lua("while true do end", timeout=1.0, cancel_grace=0.2, term_grace=0.2)
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.TIMEOUT
    assert run.result.exit_status is not None and run.result.exit_status < 0
    assert time.monotonic() - started < 5


def test_cancel_during_a_robot_call_ends_the_script_promptly(lua_binding, tmp_path) -> None:
    script = tmp_path / "ext.lua"
    script.write_text(
        'local bot = require("gopherbot_v1").Robot:new()\n'
        'bot:Say("starting")\n'
        "bot:Pause(60)\n"
        'bot:Say("never reached")\n'
    )
    spec = ExecutionSpec(
        lua_binding,
        "lua_run",
        {"path": str(script), "args": [], "bot": BOT},
        tmp_path,
        timeout=30,
        cancel_grace=10,  # a child that ignored the cancel would take this long to die
    )
    robot = CannedRobot()
    execution = Execution(spec, robot)

    async def cancel_on_pause(call: RobotCall) -> None:
        if call.method == "Pause":
            execution.cancel()
            await asyncio.sleep(60)

    robot.on_call = cancel_on_pause
    started = time.monotonic()
    result = run(execution.run())
    assert result.error.code == ErrorCode.CANCELED
    assert [c.method for c in robot.calls] == ["Say", "Pause"]
    assert result.exit_status == 0  # it answered and left on its own, not by a signal
    assert time.monotonic() - started < 5
