"""The example plugin (conf/extensions/hello.lua) answers each of its commands."""

from __future__ import annotations

from pathlib import Path

from burrow.constants import TaskRetVal

HELLO = (Path(__file__).parents[2] / "conf" / "extensions" / "hello.lua").read_text()


def test_hello_greets_with_a_configured_greeting_and_the_first_name(run_lua, robot) -> None:
    robot.answers["GetTaskConfig"] = {"ret_val": 0, "config": {"Greetings": ["Howdy"]}}
    robot.answers["RandomString"] = {"string": "Howdy"}
    robot.answers["GetSenderAttribute"] = {"attribute": "Alice", "ret_val": 0}
    run = run_lua(HELLO, "hello", name="hello.lua")
    assert run.result.ret_val == TaskRetVal.Normal, run.result.error
    assert [c.method for c in run.calls] == [
        "GetTaskConfig", "RandomString", "GetSenderAttribute", "Say"
    ]  # fmt: skip
    assert run.calls[1].args == [["Howdy"]]
    assert run.calls[-1].args == ["Howdy, Alice! (from Lua, Lua 5.4)"]


def test_remember_and_recall_use_short_term_memory(run_lua, robot) -> None:
    run_lua(HELLO, "remember", "the milk", name="hello.lua")
    robot.answers["Recall"] = {"string": "the milk"}
    run = run_lua(HELLO, "recall", name="hello.lua")
    assert [(c.method, c.args) for c in run.calls] == [
        ("Remember", ["hello-lua:thing", "the milk", False]),
        ("Reply", ['I\'ll remember "the milk" for a while.']),
        ("Recall", ["hello-lua:thing", False]),
        ("Reply", ['You asked me to remember "the milk".']),
    ]


def test_count_increments_a_datum_in_long_term_memory(run_lua, robot) -> None:
    robot.answers["CheckoutDatum"] = {
        "ret_val": 0, "exists": True, "lock_token": "t9", "datum": {"count": 41, "last": "bob"}
    }  # fmt: skip
    run = run_lua(HELLO, "count", name="hello.lua")
    assert run.result.ret_val == TaskRetVal.Normal, run.result.error
    assert [(c.method, c.args) for c in run.calls] == [
        ("CheckoutDatum", ["hello-lua-counter", True]),
        ("UpdateDatum", ["hello-lua-counter", "t9", {"count": 42, "last": "alice"}]),
        ("Say", ["The count is now 42."]),
    ]


def test_an_unknown_command_fails_and_logs(run_lua) -> None:
    run = run_lua(HELLO, "dance", name="hello.lua")
    assert run.result.ret_val == TaskRetVal.Fail
    assert [(c.method, c.args) for c in run.calls] == [
        ("Log", [5, "hello.lua: unknown command 'dance'"])
    ]
