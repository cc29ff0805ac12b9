"""Numbers at the edges of the wire: a TaskRetVal beyond Go's int and huge robot-call arguments
end as clear extension errors or documented conversions, never as an encoding failure."""

from __future__ import annotations

import pytest

from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("return 1e300", "1e+300"),
        ("return 2^64", "1.8446744073709552e+19"),
        ("return 2^63", "9.223372036854776e+18"),
        ("return -1e300", "-1e+300"),
        ("return math.huge", "inf"),
        ("return -math.huge", "-inf"),
        ("return 0/0", "nan"),
    ],
)
def test_a_return_value_beyond_a_go_int_is_an_extension_error(run_lua, source, shown) -> None:
    run = run_lua(source)
    assert run.result.ret_val == TaskRetVal.MechanismFail
    error = run.result.error
    assert error is not None and error.code == ErrorCode.EXTENSION_ERROR
    assert error.message.replace("-nan", "nan") == (
        f"return value {shown} is not a valid TaskRetVal (a number from -2^63 to 2^63-1 once "
        "truncated toward zero)"
    )
    assert run.error_data["file"].endswith("ext.lua")
    assert any("is not a valid TaskRetVal" in line for line in run.errors)


@pytest.mark.parametrize(
    ("source", "ret_val"),
    [
        ("return math.maxinteger", 2**63 - 1),
        ("return math.mininteger", -(2**63)),
        ("return -2^63", -(2**63)),
        ("return 1e18 + 0.5", 10**18),
        ("return -7.9", -7),
    ],
)
def test_return_values_inside_a_go_int_are_truncated(run_lua, source, ret_val) -> None:
    run = run_lua(source)
    assert run.result.error is None, run.result.error
    assert run.result.ret_val == ret_val


def test_huge_numbers_as_robot_call_arguments_are_errors_or_travel_as_floats(run_lua) -> None:
    run = run_lua(
        """
        local function why(f, ...) local ok, err = pcall(f, ...); return ok or err end
        report(why(bot.RandomInt, bot, 1e300), why(bot.RandomInt, bot, 2^64),
               why(bot.Log, bot, 1e300, "x"), why(bot.Say, bot, "hi", 2^64))
        bot:Say(1e300)
        bot:UpdateDatum({key = "k", token = "t", datum = {big = 1e300, huge = 2^64}})
        bot:Pause(1e300)
        """,
        prelude=True,
    )
    assert run.result.error is None, run.result.error
    random, random64, log, say_format = run.report
    assert random == "RandomInt: argument #1 must be an integer, got 1e+300"
    # Lua shows numbers with %.14g.
    assert random64 == "RandomInt: argument #1 must be an integer, got 1.844674407371e+19"
    assert log == "Log: argument #1 must be an integer, got 1e+300"
    assert "is not a message format" in say_format
    assert [(c.method, c.args) for c in run.calls] == [
        ("Say", ["1e+300"]),
        ("UpdateDatum", ["k", "t", {"big": 1e300, "huge": 2.0**64}]),
        ("Pause", [1e300]),
    ]


def test_a_surrogate_code_point_is_not_utf8_and_is_refused_at_the_call_site(run_lua) -> None:
    run = run_lua(
        'report(pcall(bot.Say, bot, "lone \\u{D800}")); bot:Say("a pair is fine \\u{1F600}")',
        prelude=True,
    )
    assert run.result.error is None, run.result.error
    assert run.report == [False, "Say: argument #1 is not valid UTF-8"]
    assert [(c.method, c.args) for c in run.calls] == [("Say", ["a pair is fine \U0001f600"])]
