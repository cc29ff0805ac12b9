"""How a Lua extension is invoked: arg, GBOT, the Robot's fields, modules, constants, ret_val."""

from __future__ import annotations

import pytest

from burrow.constants import LogLevel, MessageFormat, RetVal, TaskRetVal


def test_arg_holds_the_script_path_then_the_command_and_captures(run_lua, tmp_path) -> None:
    run = run_lua(
        'local report = require "report"; report(arg[0], arg[1], arg[2], arg[3], #arg)',
        "remember",
        "the milk",
        "",
    )
    assert run.result.ret_val == TaskRetVal.Normal, run.result.error
    assert run.report == [str(tmp_path / "ext.lua"), "remember", "the milk", "", 3]


def test_the_chunk_also_receives_the_args_as_varargs(run_lua) -> None:
    run = run_lua('require "report"(select("#", ...), ...)', "hello", "world")
    assert run.report == [2, "hello", "world"]


def test_gbot_holds_the_message_fields_with_ids_unwrapped(run_lua) -> None:
    run = run_lua(
        """
        local report = require "report"
        report(GBOT.user, GBOT.user_id, GBOT.channel, GBOT.channel_id, GBOT.thread_id,
               GBOT.message_id, GBOT.threaded_message, GBOT.protocol, GBOT.brain)
        """
    )
    assert run.report == [
        "alice", "U001", "general", "C001", "0042", "0041", False, "test", "mem"
    ]  # fmt: skip


def test_missing_message_fields_are_blank(run_lua) -> None:
    run = run_lua('require "report"(GBOT.user, GBOT.channel_id, GBOT.threaded_message)', bot={})
    assert run.report == ["", "", False]


def test_robot_copies_the_fields_of_gbot(run_lua) -> None:
    run = run_lua(
        """
        report(bot.user, bot.user_id, bot.channel, bot.channel_id, bot.thread_id,
               bot.message_id, bot.threaded_message, bot.protocol, bot.brain, bot.type,
               bot.gbot == GBOT)
        """,
        prelude=True,
        bot={"user": "bob", "channel": "", "threaded_message": True, "protocol": "slack"},
    )
    assert run.report == ["bob", "", "", "", "", "", True, "slack", "", "native", True]


def test_robot_new_takes_an_explicit_bot_table_and_the_dot_form(run_lua) -> None:
    run = run_lua(
        """
        local other = Robot:new({user = "carol", channel = "random"})
        local dotted = Robot.new()
        report(other.user, other.channel, dotted.user, getmetatable(other) == Robot)
        """,
        prelude=True,
    )
    assert run.report == ["carol", "random", "alice", True]


@pytest.mark.parametrize(
    ("source", "ret_val"),
    [
        ("return 7", 7),
        ("return task.Fail", 1),
        ("return 3.9", 3),
        ("return 4, 5", 4),
        ("return '7'", 0),
        ("return true", 0),
        ("return {}", 0),
        ("return nil", 0),
        ("local x = 1", 0),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_the_chunk_return_value_is_the_task_ret_val(run_lua, source, ret_val) -> None:
    run = run_lua(source, prelude=True)
    assert run.result.error is None
    assert run.result.ret_val == ret_val


@pytest.mark.parametrize(
    ("table", "enum", "unknown"),
    [
        ("ret", RetVal, "UnknownRetVal"),
        ("task", TaskRetVal, "UnknownTaskRetVal"),
        ("log", LogLevel, "UnknownLogLevel"),
        ("fmt", MessageFormat, "UnknownMessageFormat"),
    ],
)
def test_constants_match_the_reference_and_name_themselves(run_lua, table, enum, unknown) -> None:
    run = run_lua(
        f"""
        local values = {{}}
        for name, value in pairs({table}) do
            if type(value) == "number" then values[name] = value end
        end
        local names = {{}}
        for name, value in pairs(values) do names[name] = {table}:string(value) end
        report(values, names, {table}:string(999), {table}.string({table}.{enum(0).name}))
        """,
        prelude=True,
    )
    values, names, missing, dotted = run.report
    assert values == {member.name: member.value for member in enum}
    assert names == {member.name: member.name for member in enum}
    assert (missing, dotted) == (unknown, enum(0).name)


def test_proto_uses_the_go_protocol_values(run_lua) -> None:
    run = run_lua(
        "report(proto.Slack, proto.GoogleChat, proto.Rocket, proto.Terminal, proto.Test,"
        " proto.Null, proto.SSH, proto:string(4), proto:string(42))",
        prelude=True,
    )
    assert run.report == [0, 1, 2, 3, 4, 5, 6, "Test", "UnknownProtocol"]


def test_burrow_is_another_name_for_gopherbot_v1(run_lua) -> None:
    run = run_lua('require "report"(require "burrow" == require "gopherbot_v1")')
    assert run.report == [True]


def test_modules_are_found_in_lib_paths_in_order(run_lua, tmp_path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "pkg").mkdir(parents=True)
    second.mkdir()
    (first / "shared.lua").write_text('return "from first"')
    (second / "shared.lua").write_text('return "from second"')
    (second / "only.lua").write_text('return {name = "only in second"}')
    (first / "pkg" / "init.lua").write_text('return "package init"')
    run = run_lua(
        'require "report"(require "shared", require("only").name, (require "pkg"))',
        lib_paths=[first, second],
    )
    assert run.report == ["from first", "only in second", "package init"]


def test_a_missing_module_is_an_error_naming_the_places_searched(run_lua, tmp_path) -> None:
    run = run_lua('require "nowhere"', lib_paths=[tmp_path])
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert "module 'nowhere' not found" in run.result.error.message
    assert f"{tmp_path}/nowhere.lua" in run.error_data["traceback"]


def test_a_lib_path_that_package_path_cannot_express_is_skipped(run_lua, tmp_path) -> None:
    odd = tmp_path / "a;b"
    odd.mkdir()
    (odd / "odd.lua").write_text("return 1")
    run = run_lua('require "report"(pcall(require, "odd"))', lib_paths=[odd])
    assert run.report[0] is False
    assert any(level == 4 and "a;b" in message for level, message in run.logs)


def test_print_writes_tab_separated_values_to_the_task_log(run_lua) -> None:
    run = run_lua('print("one", 2, nil, true, "caf\\195\\169", "bad\\255")')
    assert run.printed == ["one\t2\tnil\ttrue\tcafé\tbad\ufffd"]
