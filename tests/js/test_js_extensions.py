"""The JavaScript extension contract: argv, GBOT and Robot fields, constants, results, require."""

from __future__ import annotations

from pathlib import Path

import pytest

from burrow.constants import LogLevel, MessageFormat, RetVal, TaskRetVal
from burrow.rpc.errors import ErrorCode

LIB = 'const { Robot, ret, task, log, fmt, proto } = require("gopherbot_v1")();\n'


def test_process_argv_is_exec_path_script_path_then_the_arguments(run_js, tmp_path: Path) -> None:
    run = run_js("out(process.argv.slice(1));", "weather", "Paris", "tomorrow")
    assert run.outputs == [[str(tmp_path / "ext.js"), "weather", "Paris", "tomorrow"]]


def test_robot_fields_come_from_the_bot_map_of_the_request(run_js) -> None:
    bot = {
        "user": "alice",
        "user_id": "<U001>",
        "channel": "general",
        "channel_id": "C001",
        "thread_id": "1700000000.000100",
        "message_id": "1700000000.000200",
        "threaded_message": True,
        "protocol": "slack",
        "brain": "file",
    }
    run = run_js(
        LIB
        + """
        const bot = new Robot();
        const fields = ["user", "user_id", "channel", "channel_id", "thread_id", "message_id",
                        "threaded_message", "protocol", "brain", "type"];
        out(Object.fromEntries(fields.map((f) => [f, bot[f]])));
        out(bot.gbot === GBOT && new Robot(GBOT).user === "alice");
        """,
        bot=bot,
    )
    assert run.outputs[0] == {**bot, "user_id": "U001", "type": "native"}
    assert run.outputs[1] is True


def test_robot_fields_are_blank_when_the_bot_map_lacks_them(run_js) -> None:
    run = run_js(
        LIB + "const b = new Robot(); out([b.user, b.channel, b.threaded_message]);", bot={}
    )
    assert run.outputs == [["", "", False]]


def test_constants_have_gopherbot_values_and_string_lookups(run_js) -> None:
    run = run_js(
        LIB
        + """
        out([ret, task, log, fmt, proto]);
        out([ret.string(3), ret.string(99), task.string(7), log.string(4), fmt.string(1),
             proto.string(0), proto.string(42), Object.keys(ret).includes("string")]);
        """
    )
    tables, lookups = run.outputs
    assert tables[0] == {e.name: e.value for e in RetVal}
    assert tables[1] == {e.name: e.value for e in TaskRetVal}
    assert tables[2] == {e.name: e.value for e in LogLevel}
    assert tables[3] == {e.name: e.value for e in MessageFormat}
    assert tables[4] == {
        "Slack": 0,
        "GoogleChat": 1,
        "Rocket": 2,
        "Terminal": 3,
        "Test": 4,
        "Null": 5,
        "SSH": 6,
    }
    assert lookups == [
        "AttributeNotFound",
        "UnknownRetVal",
        "Success",
        "Warn",
        "Fixed",
        "Slack",
        "UnknownProtocol",
        False,
    ]


@pytest.mark.parametrize(
    ("completion", "ret_val"),
    [
        ("7", TaskRetVal.Success),
        ("task.Fail", TaskRetVal.Fail),
        ("3.0", TaskRetVal.ConfigurationError),
        ("true", TaskRetVal.Normal),
        ("false", TaskRetVal.Fail),
        ("undefined", TaskRetVal.Normal),
        ("null", TaskRetVal.Normal),
        ("(function handler() { return task.NotFound; })()", TaskRetVal.NotFound),
    ],
)
def test_completion_value_of_the_script_is_the_task_ret_val(
    run_js, completion: str, ret_val: int
) -> None:
    run = run_js(LIB + f"{completion};\n")
    assert run.ret_val == ret_val
    assert run.result.error is None


@pytest.mark.parametrize(
    "completion", ["'done'", "({ ok: true })", "[0]", "NaN", "Promise.resolve(0)"]
)
def test_completion_value_of_another_type_is_mechanism_fail(run_js, completion: str) -> None:
    run = run_js(f"{completion};\n")
    assert run.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert "TaskRetVal" in run.result.error.message


def test_promise_jobs_finish_before_the_execution_answers(run_js) -> None:
    run = run_js(
        LIB
        + """
        const bot = new Robot();
        async function later() { await null; bot.Say("after await"); }
        Promise.resolve().then(() => bot.Say("in a promise job"));
        later();
        bot.Say("synchronous");
        task.Success;
        """
    )
    assert run.ret_val == TaskRetVal.Success
    assert [args for _, args, _ in run.calls] == [
        ["synchronous"],
        ["in a promise job"],
        ["after await"],
    ]


def test_script_without_statements_is_normal(run_js) -> None:
    assert run_js("// nothing to do\n").ret_val == TaskRetVal.Normal


CONFIGURABLE = (
    LIB
    + """
if (process.argv[2] === "_configure") {
  console.log("configuring", process.argv.length);
  "Help:\\n- Keywords: [hello]\\n  Helptext: [\\"(bot), hello\\"]\\n";
} else {
  new Robot().Say("hello");
  task.Normal;
}
"""
)


def test_get_config_runs_configure_and_answers_the_yaml(run_js) -> None:
    run = run_js(CONFIGURABLE, method="js_get_config")
    assert run.ret_val == TaskRetVal.Normal, run.result.error
    assert run.result.config == 'Help:\n- Keywords: [hello]\n  Helptext: ["(bot), hello"]\n'
    assert (2, "configuring 3") in run.logs
    assert run.calls == []


def test_gbot_is_blank_during_configure(run_js) -> None:
    run = run_js("`${GBOT.user}|${GBOT.channel}`;", method="js_get_config", bot={"user": "alice"})
    assert run.result.config == "|"


def test_robot_api_throws_during_configure(run_js) -> None:
    run = run_js(
        LIB + "try { new Robot().Say('x'); 'no'; } catch (e) { String(e.message); }",
        method="js_get_config",
    )
    assert run.result.config == "Say: the Robot API is not available during _configure"
    assert run.calls == []


def test_configure_that_completes_without_a_string_is_an_extension_error(run_js) -> None:
    run = run_js("task = 0;\n", method="js_get_config")
    assert run.ret_val == TaskRetVal.MechanismFail
    assert run.result.error.code == ErrorCode.EXTENSION_ERROR
    assert "_configure must complete with a YAML string" in run.result.error.message


def test_console_writes_to_the_task_log_at_its_levels(run_js) -> None:
    run = run_js(
        """
        console.log("count: %d of %s", 3, "five", {a: 1});
        console.warn("careful");
        console.error(new Error("bad").message, [1, 2]);
        console.debug(undefined, null, true);
        """
    )
    assert run.logs == [
        (2, 'count: 3 of five {"a":1}'),
        (4, "careful"),
        (5, "bad [1,2]"),
        (1, "undefined null true"),
    ]


# --- require ----------------------------------------------------------------------------------


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    """A lib folder with a module, a package with an index and relative imports, and JSON."""
    folder = tmp_path / "lib"
    (folder / "weather").mkdir(parents=True)
    (folder / "greet.js").write_text(
        "exports.loads = (exports.loads || 0) + 1;\nexports.greet = (name) => `Hello, ${name}!`;\n"
    )
    (folder / "weather" / "index.js").write_text(
        "const units = require('./units.json');\nmodule.exports = { units, here: __dirname };\n"
    )
    (folder / "weather" / "units.json").write_text('{"temperature": "C"}')
    return folder


def test_require_finds_modules_on_the_lib_paths(run_js, lib: Path) -> None:
    run = run_js(
        """
        const greet = require("greet");
        const again = require("greet.js");
        const weather = require("weather");
        out([greet.greet("bob"), greet === again, greet.loads, weather]);
        """,
        lib_paths=[str(lib)],
    )
    assert run.outputs == [
        ["Hello, bob!", True, 1, {"units": {"temperature": "C"}, "here": str(lib / "weather")}]
    ]


def test_require_resolves_relative_paths_from_the_script(run_js, tmp_path: Path) -> None:
    (tmp_path / "helper.js").write_text("module.exports = 41 + 1;\n")
    run = run_js('out(require("./helper"));')
    assert run.outputs == [42]


def test_require_of_a_missing_module_throws_module_not_found(run_js, lib: Path) -> None:
    run = run_js(
        'try { require("nowhere"); } catch (e) { out([e.code, e.message]); }',
        lib_paths=[str(lib)],
    )
    assert run.outputs == [
        ["MODULE_NOT_FOUND", f"Cannot find module 'nowhere' (in lib_paths ['{lib}'])"]
    ]


def test_gopherbot_v1_is_built_in_and_wins_over_a_lib_file(run_js, lib: Path) -> None:
    (lib / "gopherbot_v1.js").write_text("module.exports = () => 'impostor';\n")
    run = run_js('out(typeof require("gopherbot_v1")().Robot);', lib_paths=[str(lib)])
    assert run.outputs == ["function"]
