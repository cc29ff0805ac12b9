"""Values at the edges of the wire: numbers beyond msgpack's and Go's integers, lone surrogates
and non-finite results end as documented conversions or clear errors, never as an encoding
failure of the robot call."""

from __future__ import annotations

import pytest

from burrow.constants import RetVal, TaskRetVal
from burrow.rpc.errors import ErrorCode

LIB = 'const { Robot, ret, task, log, fmt } = require("gopherbot_v1")(); const bot = new Robot();\n'


@pytest.mark.parametrize(
    ("completion", "shown"),
    [
        ("1e300", "1e+300"),
        ("2 ** 64", "1.8446744073709552e+19"),
        ("2 ** 63", "9.223372036854776e+18"),
        ("-1e300", "-1e+300"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
    ],
)
def test_a_completion_value_beyond_a_go_int_is_an_extension_error(
    run_js, tmp_path, completion: str, shown: str
) -> None:
    run = run_js(f"{completion};\n")
    assert run.ret_val == TaskRetVal.MechanismFail
    error = run.result.error
    assert error is not None and error.code == ErrorCode.EXTENSION_ERROR
    assert error.message == (
        f"{tmp_path / 'ext.js'}: return value {shown} is not a valid TaskRetVal (a number from "
        "-2^63 to 2^63-1 once truncated toward zero)"
    )


@pytest.mark.parametrize(
    ("completion", "ret_val"),
    [("2 ** 53", 2**53), ("-(2 ** 63)", -(2**63)), ("-7.9", -7), ("1e18 + 0.5", 10**18)],
)
def test_completion_values_inside_a_go_int_are_truncated(run_js, completion, ret_val) -> None:
    run = run_js(f"{completion};\n")
    assert run.result.error is None, run.result.error
    assert run.ret_val == ret_val


def test_huge_numbers_in_a_datum_travel_as_the_doubles_they_are(run_js) -> None:
    run = run_js(
        LIB
        + """
        const memory = bot.CheckoutDatum("k", true);
        memory.datum = { big: 2 ** 64, e20: 1e20, e300: 1e300, neg: -(2 ** 64), max: 2 ** 53, n: 7 };
        out(bot.UpdateDatum(memory));
        """
    )
    assert run.result.error is None, run.result.error
    assert run.outputs == [RetVal.Ok]
    method, args, _ = run.calls[-1]
    assert method == "UpdateDatum"
    datum = args[2]
    assert datum == {
        "big": 2.0**64,
        "e20": 1e20,
        "e300": 1e300,
        "neg": -(2.0**64),
        "max": 2**53,
        "n": 7,
    }
    assert [type(datum[k]) for k in ("big", "e20", "max", "n")] == [float, float, int, int]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "bot.RandomInt(2 ** 64)",
            "RandomInt: n must be an integer from -2^63 to 2^63-1, got 18446744073709552000",
        ),
        (
            "bot.RandomInt(1e300)",
            "RandomInt: n must be an integer from -2^63 to 2^63-1, got 1e+300",
        ),
        ("bot.RandomInt(1.5)", "RandomInt: n must be an integer from -2^63 to 2^63-1, got 1.5"),
        (
            "bot.Log(2 ** 64, 'x')",
            "Log: level must be an integer from -2^63 to 2^63-1, got 18446744073709552000",
        ),
        (
            "bot.MessageFormat(1e300)",
            "MessageFormat: format must be an integer from -2^63 to 2^63-1, got 1e+300",
        ),
        (
            "bot.Say('hi', 2 ** 64)",
            "Say: format must be an integer from -2^63 to 2^63-1, got 18446744073709552000",
        ),
    ],
)
def test_a_huge_number_for_an_integer_argument_is_a_type_error_naming_it(
    run_js, call: str, message: str
) -> None:
    run = run_js(LIB + f"try {{ {call}; out('sent'); }} catch (e) {{ out(String(e)); }}\n")
    assert run.outputs == [f"TypeError: {message}"]
    assert run.calls == []


def test_lone_surrogates_become_u_fffd_everywhere(run_js) -> None:
    run = run_js(
        LIB
        + """
        out(bot.Say("lone \\uD800 high, lone \\uDFFF low, a pair \\uD83D\\uDE00"));
        console.log("log \\uDBFF");
        const memory = bot.CheckoutDatum("k", true);
        memory.datum = { "key \\uD800": ["item \\uDC00"] };
        out(bot.UpdateDatum(memory));
        out(bot.SendUserMessage("\\uD800", "x"));
        """
    )
    assert run.result.error is None, run.result.error
    assert run.outputs == [RetVal.Ok, RetVal.Ok, RetVal.Ok]
    calls = [(method, args) for method, args, _ in run.calls]
    assert calls[0] == ("Say", ["lone \ufffd high, lone \ufffd low, a pair \U0001f600"])
    assert calls[2] == ("UpdateDatum", ["k", "", {"key \ufffd": ["item \ufffd"]}])
    assert calls[3] == ("SendUserMessage", ["\ufffd", "x"])
    assert (2, "log \ufffd") in run.logs
    assert not [m for level, m in run.logs if level == 5], run.logs


def test_a_non_finite_number_from_the_robot_arrives_as_null(run_js) -> None:
    canned = {
        "CheckoutDatum": {
            "ret_val": 0,
            "exists": True,
            "lock_token": "t",
            "datum": {"inf": float("inf"), "nan": float("nan"), "list": [float("-inf"), 1.5]},
        }
    }
    run = run_js(LIB + 'out(bot.CheckoutDatum("k").datum);', canned=canned)
    assert run.result.error is None, run.result.error
    assert run.outputs == [{"inf": None, "nan": None, "list": [None, 1.5]}]
