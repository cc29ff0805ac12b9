"""Values crossing between Lua and the robot: arrays, maps, nil, numbers, strings, refusals."""

from __future__ import annotations

import json

import pytest

from burrow.constants import TaskRetVal


@pytest.mark.parametrize(
    ("lua", "wire"),
    [
        ('{"a", "b", "c"}', ["a", "b", "c"]),
        ("{x = 1, y = {2, 3}}", {"x": 1, "y": [2, 3]}),
        ("{}", {}),
        ("{1, 2, nil, 4}", {"1": 1, "2": 2, "4": 4}),
        ('{[1] = "a", [2] = "b", n = 2}', {"1": "a", "2": "b", "n": 2}),
        ('{[10] = "x", [true] = "t", [1.5] = "f"}', {"10": "x", "true": "t", "1.5": "f"}),
        (
            "{i = 3, f = 3.0, h = 0.5, big = math.maxinteger}",
            {"i": 3, "f": 3.0, "h": 0.5, "big": 2**63 - 1},
        ),
        ('{s = "caf\\195\\169", e = "", b = false}', {"s": "café", "e": "", "b": False}),
        ("{{{{}}}}", [[[{}]]]),
    ],
)
def test_lua_tables_reach_the_robot_as_lists_or_maps(run_lua, robot, lua, wire) -> None:
    run = run_lua(f'bot:UpdateDatum({{key = "k", token = "t", datum = {lua}}})', prelude=True)
    assert run.result.error is None, run.result.error
    assert run.calls[0].args == ["k", "t", wire]


def test_nil_datum_is_sent_as_none(run_lua) -> None:
    run = run_lua('bot:UpdateDatum({key = "k", token = "t"})', prelude=True)
    assert run.calls[0].args == ["k", "t", None]


@pytest.mark.parametrize(
    ("wire", "lua"),
    [
        (
            {"list": [1, "two", 3.5], "map": {"a": {"b": True}}},
            {"list": [1, "two", 3.5], "map": {"a": {"b": True}}},
        ),
        ([], {}),
        ({"hole": [1, None, 3]}, {"hole": {"1": 1, "3": 3}}),
        ({"none": None, "kept": 0}, {"kept": 0}),
        ({"huge": 2**63}, {"huge": float(2**63)}),
        ("just a string", "just a string"),
        (42, 42),
    ],
)
def test_robot_results_reach_lua_as_plain_lua_values(run_lua, robot, wire, lua) -> None:
    robot.answers["CheckoutDatum"] = {"ret_val": 0, "exists": True, "lock_token": "", "datum": wire}
    run = run_lua('local m = bot:CheckoutDatum("k"); report(m.datum)', prelude=True)
    assert run.result.error is None, run.result.error
    assert run.report == [lua]


@pytest.mark.parametrize(
    ("setup", "complaint"),
    [
        ("local d = {}; d.self = d", "nests deeper than 100 levels"),
        ("local d = {f = function() end}", "a function value cannot be sent"),
        ("local d = {co = coroutine.create(function() end)}", "value cannot be sent"),
        ('local d = {s = "\\255"}', "not valid UTF-8"),
    ],
)
def test_values_that_cannot_travel_are_script_errors(run_lua, setup, complaint) -> None:
    run = run_lua(
        f'{setup}\nbot:UpdateDatum({{key = "k", token = "t", datum = d}})\n', prelude=True
    )
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert complaint in run.result.error.message
    assert run.error_data["line"] == 3
    assert run.calls == []


def test_the_json_module_encodes_and_decodes_like_the_wire(run_lua) -> None:
    run = run_lua(
        """
        local json, report = require "json", require "report"
        local decoded = json.decode('{"x": [1, 2.5, null, "z"], "y": {"k": false}, "n": null}')
        report(json.encode({a = {1, 2, {b = true}}, s = "é", e = {}}), decoded,
               json.decode('"just text"'), select("#", json.encode(1)))
        """
    )
    encoded, decoded, text, count = run.report
    assert json.loads(encoded) == {"a": [1, 2, {"b": True}], "s": "é", "e": {}}
    assert decoded == {"x": {"1": 1, "2": 2.5, "4": "z"}, "y": {"k": False}}
    assert (text, count) == ("just text", 1)


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        ('json.decode("{bad")', "json.decode: Expecting property name"),
        ("json.decode(42)", "json.decode needs a string, got number"),
        ("json.encode({f = print})", "json.encode: a function value cannot be sent"),
        ("json.encode(0/0)", "json.encode: Out of range float values"),
    ],
)
def test_json_failures_are_nil_and_a_message(run_lua, call, complaint) -> None:
    run = run_lua(f'local json = require "json"; require "report"({call})')
    value, message = run.report
    assert value is None and message.startswith(complaint)
