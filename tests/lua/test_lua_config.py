"""lua_get_config: the script runs with arg[1] == "_configure" and returns its default YAML."""

from __future__ import annotations

from pathlib import Path

import yaml

from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode

EXAMPLES = Path(__file__).parents[2] / "conf" / "extensions"


def test_configure_answers_the_yaml_the_script_returns(run_lua) -> None:
    run = run_lua(
        """
        if arg[1] == "_configure" then
            return "Commands:\\n- Regex: '(?i:ping)'\\n  Command: ping\\n"
        end
        return 1
        """,
        method="lua_get_config",
    )
    assert run.result.ret_val == TaskRetVal.Normal, run.result.error
    assert yaml.safe_load(run.result.config) == {
        "Commands": [{"Regex": "(?i:ping)", "Command": "ping"}]
    }


def test_configure_runs_with_a_blank_bot_and_no_robot_api(run_lua) -> None:
    run = run_lua(
        """
        local bot = require("gopherbot_v1").Robot:new()
        local said = bot:Say("hello?")
        local admin = bot:CheckAdmin()
        return string.format("said: %d\\nadmin: %s\\nuser: '%s'\\nargs: %d\\n",
                             said, tostring(admin), GBOT.user, #arg)
        """,
        method="lua_get_config",
    )
    assert yaml.safe_load(run.result.config) == {
        "said": 63, "admin": False, "user": "", "args": 1
    }  # fmt: skip
    assert run.calls == []  # refused in the child, never sent to the robot
    assert any(level == 4 and "not available during _configure" in m for level, m in run.logs)


def test_configure_must_return_a_string(run_lua) -> None:
    run = run_lua("return {Commands = {}}", method="lua_get_config")
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert "must return its default configuration as a YAML string" in run.result.error.message
    assert "returned a table" in run.result.error.message


def test_configure_reports_script_errors_with_their_line(run_lua) -> None:
    run = run_lua("local x = 1\nreturn x .. nil\n", method="lua_get_config")
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert run.error_data["line"] == 2


def test_the_example_plugin_offers_valid_default_configuration(run_lua, tmp_path) -> None:
    source = (EXAMPLES / "hello.lua").read_text()
    run = run_lua(source, method="lua_get_config", name="hello.lua")
    assert run.result.error is None, run.result.error
    config = yaml.safe_load(run.result.config)
    assert [c["Command"] for c in config["Commands"]] == ["hello", "remember", "recall", "count"]
    assert config["Config"]["Greetings"]
