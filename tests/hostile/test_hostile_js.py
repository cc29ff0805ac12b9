"""Hostile JavaScript that only JavaScript can write: prototype pollution, forged bridge
requests, lone surrogates, loops in promise jobs and in Atomics.wait."""

from __future__ import annotations

import logging
import time

import pytest
from hostile_support import KILL_SECONDS, HostileRobot

pytestmark = pytest.mark.parametrize("h", ["js"], indirect=True)


# -- J1. prototype pollution dies with its child ----------------------------------------------

POLLUTE = """
Object.prototype.Say = function () { return 0; };
Object.prototype.toJSON = function () { return "polluted"; };
Robot.prototype.Say = function () { return 0; };
JSON.parse = () => ({ ret_val: 0 });
JSON.stringify = () => '"polluted"';
Array.prototype.push = function () { throw new Error("push polluted"); };
String.prototype.charCodeAt = () => 0;
String.fromCharCode = () => "p";
Function.prototype.apply = function () { return 0; };
Reflect.apply = () => 0;
new Robot().SendChannelMessage("general", "after pollution");
return 0;
"""
NORMAL = """
bot.Say(["normal", JSON.stringify({ a: [1] }), String(({}).Say), typeof Robot.prototype.Say,
         JSON.parse("[2]")[0], "abc".charCodeAt(1)].join(" "));
"""


def test_prototype_pollution_dies_with_its_child(h: HostileRobot) -> None:
    h.plugin("pollute", POLLUTE)
    h.plugin("normal", NORMAL)

    async def case(h: HostileRobot) -> tuple[str, list[str]]:
        await h.hostile("bob", ";pollute")
        await h.alive()
        polluted = await h.told()  # the bridge sees garbage: the execution fails, clearly
        while h.running("pollute"):
            await h.alive()
        await h.hostile("bob", ";normal")
        await h.first(lambda m: m.text.startswith("normal"), h.mark, 10)
        return polluted, h.said()

    polluted, said = h.play(case)
    assert polluted.startswith("Sorry, 'pollute' failed with MechanismFail: extension_error: ")
    assert said == ['normal {"a":[1]} undefined function 2 98']


# -- J2. robot calls forged below the library meet the robot's own checks --------------------

# Object.prototype.toJSON rewrites what the library's (captured) JSON.stringify sends: the script
# reaches the bridge with any request it likes, whatever the library checks.
FORGE = """
const forge = (request) => {
  let armed = true;
  Object.prototype.toJSON = function () {
    if (!armed) return this;
    armed = false;
    return request;
  };
};
const call = (method, args) => {
  forge({ op: "call", method, args });
  try { return bot.Say("carrier"); } finally { delete Object.prototype.toJSON; }
};
const load = (name, base) => {
  forge({ op: "require", name, base });
  try { return String(require("carrier")); } catch (e) { return String(e); }
  finally { delete Object.prototype.toJSON; }
};
const probes = [
  ["Frobnicate", []], ["__proto__", []], ["constructor", []], ["Say", [42]], ["Say", []],
  ["Say", ["a", "b", "c"]], ["Say", [null]], ["RandomInt", [1e300]], ["Pause", ["x"]],
  ["Remember", ["", ""]], ["GetTaskConfig", [1, 2, 3]], ["SpawnJob", [[], {}]],
  ["Elevate", ["yes"]], ["Log", [-1e300, "x"]], ["CheckoutDatum", ["../x", true]],
];
const results = probes.map(([method, args]) => call(method, args));
const loads = [
  load("/etc/passwd", "/"), load("passwd", "/etc"), load("../../../etc/passwd", "/tmp"),
];
bot.Say("results " + results.join(" ") + " | " + loads.join(" | "));
call("Pause", [1e308]);
bot.Say("never");
"""
REFUSED = [
    "robot call Frobnicate failed: method_not_found: unsupported robot call 'Frobnicate'",
    "robot call __proto__ failed: method_not_found",
    "robot call constructor failed: method_not_found",
    "robot call Say failed: invalid_params: Say: argument 1 must be str, got int",
    "robot call Say failed: invalid_params: Say takes 1 arguments, got 0",
    "robot call Say failed: invalid_params: Say takes 1 arguments, got 3",
    "robot call RandomInt failed: invalid_params",
    "robot call Pause failed: invalid_params",
    "robot call Remember failed: invalid_params",
    "robot call GetTaskConfig failed: invalid_params: GetTaskConfig takes 0 arguments, got 3",
    "robot call SpawnJob failed: invalid_params",
    "robot call Elevate failed: invalid_params",
    "robot call Log failed: invalid_params",
]


def test_robot_calls_forged_below_the_library_meet_the_robots_checks(
    h: HostileRobot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="burrow")
    h.plugin("forge", FORGE)

    async def case(h: HostileRobot) -> tuple[str, list[str]]:
        await h.hostile("bob", ";forge")
        # A forged Pause of 1e308 s holds its pipeline until the timeout, and nothing else.
        await h.alive(during="forge")
        return await h.told(), h.said()

    told, said = h.play(case)
    assert told.startswith("Sorry, 'forge' failed with MechanismFail: timeout"), told
    results, _ = said
    assert results.startswith("results " + " ".join(["63"] * 14)), results
    assert results.count("Cannot find module") == 3, results
    assert "root:" not in repr(said) and "never" not in said
    _, log = h.log_of("forge")
    for refusal in REFUSED:
        assert refusal in log, refusal
    assert "Traceback" not in caplog.text and "Traceback" not in log


# -- J3. a lone surrogate: delivered as U+FFFD, and the execution carries on -----------------

SURROGATE = """
let answer, error = "";
try { answer = bot.Say("\\uD800"); } catch (e) { error = String(e); }
bot.Say("after " + answer + " " + error);
bot.Say("then " + bot.GetBotAttribute("name").attribute);
"""


def test_a_lone_surrogate_is_replaced_and_later_calls_still_work(h: HostileRobot) -> None:
    h.plugin("surrogate", SURROGATE)

    async def case(h: HostileRobot) -> list[str]:
        await h.hostile("bob", ";surrogate")
        await h.first(lambda m: m.text.startswith("then "), h.mark, 10)
        await h.alive()
        return h.said()

    said = h.play(case)
    _, text = h.log_of("surrogate")
    if said[0] == "\ufffd":
        assert said[1:] == ["after 0 ", "then burrow"], said
    else:  # or a clear error, in the script and the log
        assert said[0].startswith("after 63 ") or "surrogate" in said[0], said
        assert "surrogate" in text and "cannot encode message" not in text, text
        assert said[-1] == "then burrow", said


# -- J4. loops out of the script's own reach are killed by their timeouts --------------------

# A loop in a promise job (run after the script's last statement) and a wait that nothing will
# ever wake.
STUCK = {
    "microtask": "Promise.resolve().then(() => { for (;;) {} });\nreturn 0;",
    "atomics": "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);",
}


def test_loops_in_promise_jobs_and_atomics_wait_are_killed_by_their_timeouts(
    h: HostileRobot,
) -> None:
    for name, body in STUCK.items():
        h.plugin(name, body)

    async def case(h: HostileRobot) -> tuple[dict[str, str], float]:
        started = time.monotonic()
        await h.hostile("bob", ";microtask")
        await h.send("bob", ";atomics")
        await h.alive(during="atomics")
        return await h.failures(list(STUCK)), time.monotonic() - started

    told, elapsed = h.play(case)
    for name, text in told.items():
        assert text == (
            f"Sorry, '{name}' failed with MechanismFail: timeout: js_run did not answer "
            f"within {KILL_SECONDS:g} s"
        ), text
    assert elapsed < KILL_SECONDS + 6


# -- J5. unbounded recursion is a clear error ------------------------------------------------


def test_unbounded_recursion_is_a_clear_error(h: HostileRobot) -> None:
    h.plugin("recurse", "function f() { return f() + 1; }\nf();")

    async def case(h: HostileRobot) -> str:
        await h.hostile("bob", ";recurse")
        await h.alive()
        return await h.told()

    assert h.play(case) == (
        "Sorry, 'recurse' failed with MechanismFail: extension_error: "
        "RangeError: Maximum call stack size exceeded"
    )


# -- J2b. a request of the wrong shape is refused by name, never with Python's own words -------

MALFORMED = (
    FORGE.split("const probes", 1)[0]
    + """
const shapes = [
  () => { Object.prototype.toJSON = function () { return "just a string"; }; },
  () => forge({ op: "call", method: "Say", args: "not a list" }),
  () => forge({ op: "call", method: 42, args: [] }),
  () => forge({ op: "call", method: "Say", args: ["x"], options: "loud" }),
  () => forge({ op: "log", level: "loud", message: "x" }),
  () => forge({ op: "require", name: 1, base: [] }),
  () => forge({ op: "teleport" }),
];
const seen = shapes.map((arm) => {
  arm();
  try { bot.Say("carrier"); return "accepted"; }
  catch (e) { return String(e); }
  finally { delete Object.prototype.toJSON; }
});
bot.Say(seen.join("|"));
"""
)


def test_malformed_bridge_requests_get_clear_errors(h: HostileRobot) -> None:
    h.plugin("shapes", MALFORMED)

    async def case(h: HostileRobot) -> str:
        await h.hostile("bob", ";shapes")
        found = await h.first(lambda m: m.text.startswith("Error: "), 0, 15)
        await h.alive()
        assert found is not None, h.said()
        return found.text

    said = h.play(case)
    lines = said.split("|")
    assert lines == [
        "Error: MalformedRequest: the request is not an object (was toJSON replaced on a"
        " prototype?)",
        "Error: MalformedRequest: Say: arguments must be a list, not the string 'not a list'",
        "Error: MalformedRequest: a Robot method name is a string, not a number",
        "Error: MalformedRequest: Say: options are an object, not the string 'loud'",
        "Error: MalformedRequest: a log level must be an integer, not the string 'loud'",
        "Error: MalformedRequest: require takes a module name and a base folder (strings)",
        "Error: MalformedRequest: unknown operation the string 'teleport'",
    ], said
