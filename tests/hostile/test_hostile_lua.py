"""Hostile Lua that only Lua can write: runaway C functions, hostile error objects, finalizers."""

from __future__ import annotations

import time

import pytest
from hostile_support import KILL_SECONDS, HostileRobot

pytestmark = pytest.mark.parametrize("h", ["lua"], indirect=True)


# -- L1. code the Lua VM cannot interrupt is killed by its timeout ---------------------------

# Each loops where no Lua instruction runs between checks: in C (string.find), in the binding's
# own error handling (__tostring of the error object), or after the chunk returned (__close).
UNINTERRUPTIBLE = {
    "pattern": "string.rep('a', 5000):find('.-.-.-.-.-.-b')",
    "tostring": "error(setmetatable({}, {__tostring = function() while true do end end}))",
    "closing": (
        "local x <close> = setmetatable({}, {__close = function() while true do end end})\nreturn 0"
    ),
}


def test_loops_the_vm_cannot_interrupt_are_killed_by_their_timeouts(h: HostileRobot) -> None:
    for name, body in UNINTERRUPTIBLE.items():
        h.plugin(name, body)

    async def case(h: HostileRobot) -> tuple[dict[str, str], float]:
        started = time.monotonic()
        await h.hostile("bob", ";pattern")
        for name in list(UNINTERRUPTIBLE)[1:]:
            await h.send("bob", f";{name}")
        await h.alive(during="closing")
        return await h.failures(list(UNINTERRUPTIBLE)), time.monotonic() - started

    told, elapsed = h.play(case)
    for name, text in told.items():
        assert text == (
            f"Sorry, '{name}' failed with MechanismFail: timeout: lua_run did not answer "
            f"within {KILL_SECONDS:g} s"
        ), text
    assert elapsed < KILL_SECONDS + 6


# -- L2. recursion, huge strings and hostile error objects end with a clear error ------------

CLEAR = {
    "recurse": (
        "local function f() return 1 + f() end\nf()",
        "extension_error: not enough memory (the Lua memory limit is",
    ),
    "rep": ("local s = string.rep('x', 1 << 40)", "rep.lua:11: resulting string too large"),
    "bigerror": (
        "error(setmetatable({}, {__tostring = function() return string.rep('x', 50 << 20) end}))",
        "extension_error: not enough memory (the Lua memory limit is",
    ),
    "tableerror": ("error({code = 1})", "extension_error: (error object is a table value)"),
    "nilerror": ("error(nil)", "extension_error: (error object is a nil value)"),
}


def test_recursion_huge_strings_and_hostile_error_objects_fail_clearly(h: HostileRobot) -> None:
    for name, (body, _) in CLEAR.items():
        h.plugin(name, body)

    async def case(h: HostileRobot) -> dict[str, str]:
        await h.hostile("bob", ";recurse")
        for name in list(CLEAR)[1:]:
            await h.send("bob", f";{name}")
        await h.alive()
        return await h.failures(list(CLEAR))

    told = h.play(case)
    for name, (_, expected) in CLEAR.items():
        assert told[name].startswith(f"Sorry, '{name}' failed with MechanismFail: "), told
        assert expected in told[name], (name, told[name])
        assert len(told[name]) < 1000, (name, len(told[name]))


# -- L3. a finalizer that never returns does not keep its child alive ------------------------


def test_a_finalizer_that_never_returns_does_not_keep_its_child(h: HostileRobot) -> None:
    h.plugin(
        "finalizer",
        "setmetatable({}, {__gc = function() while true do end end})\nbot:Say('armed')",
    )

    async def case(h: HostileRobot) -> list[str]:
        await h.hostile("bob", ";finalizer")
        await h.first(lambda m: m.text == "armed", h.mark, 10)
        deadline = time.monotonic() + KILL_SECONDS + 6
        while h.running("finalizer"):
            assert time.monotonic() < deadline, "the finalizer's pipeline never ended"
            await h.alive()
        return h.said()

    # Either the state is dropped with the process or the timeout ends it; no child is left
    # (play checks), and bob heard only what the script said, or a clear failure.
    said = h.play(case)
    assert said[0] == "armed"
    assert said[1:] == [] or (
        len(said) == 2 and said[1].startswith("Sorry, 'finalizer' failed with MechanismFail: ")
    ), said
