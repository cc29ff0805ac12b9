"""Every Robot method of gopherbot_v1 from JavaScript: the robot_call it makes, what it returns."""

from __future__ import annotations

from typing import Any

import pytest

from burrow.constants import TaskRetVal
from burrow.rpc.errors import ErrorCode, RpcError

HEAD = """
const { Robot, ret, task, log, fmt, proto } = require("gopherbot_v1")();
const bot = new Robot();
"""

CREDENTIAL = {
    "type": "bearer",
    "value": "v",
    "scheme": "Bearer",
    "header_name": "Authorization",
    "header_value": "Bearer v",
    "expires_at": "2030-01-01T00:00:00Z",
    "metadata": {"k": "m"},
}

# (id, JavaScript expression, canned result map, expected (method, args), expected JS value)
CASES: list[tuple[str, str, dict[str, Any], tuple[str, list[Any]], Any]] = [
    # messaging -> retVal
    ("Say", 'bot.Say("hi")', {"ret_val": 0}, ("Say", ["hi"]), 0),
    ("SayThread", 'bot.SayThread("hi")', {"ret_val": 4}, ("SayThread", ["hi"]), 4),
    ("Reply", 'bot.Reply("hi")', {"ret_val": 0}, ("Reply", ["hi"]), 0),
    ("ReplyThread", 'bot.ReplyThread("hi")', {"ret_val": 0}, ("ReplyThread", ["hi"]), 0),
    (
        "SendChannelMessage",
        'bot.SendChannelMessage("general", "hi")',
        {"ret_val": 2},
        ("SendChannelMessage", ["general", "hi"]),
        2,
    ),
    (
        "SendChannelThreadMessage",
        'bot.SendChannelThreadMessage("general", "t1", "hi")',
        {"ret_val": 0},
        ("SendChannelThreadMessage", ["general", "t1", "hi"]),
        0,
    ),
    (
        "SendUserMessage",
        'bot.SendUserMessage("bob", "hi")',
        {"ret_val": 1},
        ("SendUserMessage", ["bob", "hi"]),
        1,
    ),
    (
        "SendUserChannelMessage",
        'bot.SendUserChannelMessage("bob", "general", "hi")',
        {"ret_val": 0},
        ("SendUserChannelMessage", ["bob", "general", "hi"]),
        0,
    ),
    (
        "SendUserChannelThreadMessage",
        'bot.SendUserChannelThreadMessage("bob", "general", "t1", "hi")',
        {"ret_val": 0},
        ("SendUserChannelThreadMessage", ["bob", "general", "t1", "hi"]),
        0,
    ),
    (
        "SendProtocolUserChannelMessage",
        'bot.SendProtocolUserChannelMessage("slack", "bob", "", "hi")',
        {"ret_val": 0},
        ("SendProtocolUserChannelMessage", ["slack", "bob", "", "hi"]),
        0,
    ),
    (
        "Say-printf",
        'bot.Say("%d apples for %s (%5.2f%%)", 3, "bob", 12.5)',
        {"ret_val": 0},
        ("Say", ["3 apples for bob (12.50%)"]),
        0,
    ),
    (
        "Say-printf-missing-and-extra",
        'bot.Say("%s and %s", "a")',
        {"ret_val": 0},
        ("Say", ["a and %!s(MISSING)"]),
        0,
    ),
    # bools -> {bool}
    ("CheckAdmin", "bot.CheckAdmin()", {"bool": True}, ("CheckAdmin", []), True),
    ("Elevate", "bot.Elevate(true)", {"bool": True}, ("Elevate", [True]), True),
    ("Elevate-default", "bot.Elevate()", {"bool": False}, ("Elevate", [False]), False),
    ("Exclusive", 'bot.Exclusive("db", true)', {"bool": True}, ("Exclusive", ["db", True]), True),
    (
        "Log",
        'bot.Log(log.Warn, "careful %s", "now")',
        {"bool": True},
        ("Log", [4, "careful now"]),
        None,
    ),
    (
        "SetParameter",
        'bot.SetParameter("X", "1")',
        {"bool": True},
        ("SetParameter", ["X", "1"]),
        True,
    ),
    (
        "SetWorkingDirectory",
        'bot.SetWorkingDirectory("sub")',
        {"bool": True},
        ("SetWorkingDirectory", ["sub"]),
        True,
    ),
    ("Subscribe", "bot.Subscribe()", {"bool": True}, ("Subscribe", []), True),
    ("Unsubscribe", "bot.Unsubscribe()", {"bool": False}, ("Unsubscribe", []), False),
    # attributes -> {attribute, retVal}
    (
        "GetBotAttribute",
        'bot.GetBotAttribute("name")',
        {"attribute": "burrow", "ret_val": 0},
        ("GetBotAttribute", ["name"]),
        {"attribute": "burrow", "retVal": 0},
    ),
    (
        "GetUserAttribute",
        'bot.GetUserAttribute("bob", "email")',
        {"attribute": "bob@example.com", "ret_val": 0},
        ("GetUserAttribute", ["bob", "email"]),
        {"attribute": "bob@example.com", "retVal": 0},
    ),
    (
        "GetSenderAttribute",
        'bot.GetSenderAttribute("nickname")',
        {"attribute": "", "ret_val": 3},
        ("GetSenderAttribute", ["nickname"]),
        {"attribute": "", "retVal": 3},
    ),
    # strings and numbers
    ("GetParameter", 'bot.GetParameter("X")', {"string": "v"}, ("GetParameter", ["X"]), "v"),
    (
        "GetHelpMetadata",
        'bot.GetHelpMetadata("q")',
        {"string": "{}"},
        ("GetHelpMetadata", ["q"]),
        "{}",
    ),
    ("Recall", 'bot.Recall("k")', {"string": "v"}, ("Recall", ["k", False]), "v"),
    ("Recall-shared", 'bot.Recall("k", true)', {"string": "v"}, ("Recall", ["k", True]), "v"),
    (
        "RandomString",
        'bot.RandomString(["a", "b"])',
        {"string": "b"},
        ("RandomString", [["a", "b"]]),
        "b",
    ),
    ("RandomInt", "bot.RandomInt(6)", {"int": 4}, ("RandomInt", [6]), 4),
    ("Pause", "bot.Pause(0.25)", {"ok": True}, ("Pause", [0.25]), None),
    (
        "GetTaskConfig",
        "bot.GetTaskConfig()",
        {"ret_val": 0, "config": {"Greeting": "hi"}},
        ("GetTaskConfig", []),
        {"config": {"Greeting": "hi"}, "retVal": 0},
    ),
    # prompts -> {reply, retVal}
    (
        "PromptForReply",
        'bot.PromptForReply("YesNo", "ok?")',
        {"reply": "yes", "ret_val": 0},
        ("PromptForReply", ["YesNo", "ok?"]),
        {"reply": "yes", "retVal": 0},
    ),
    (
        "PromptThreadForReply",
        'bot.PromptThreadForReply("YesNo", "ok?")',
        {"reply": "", "ret_val": 17},
        ("PromptThreadForReply", ["YesNo", "ok?"]),
        {"reply": "", "retVal": 17},
    ),
    (
        "PromptUserForReply",
        'bot.PromptUserForReply("YesNo", "bob", "ok?")',
        {"reply": "no", "ret_val": 0},
        ("PromptUserForReply", ["YesNo", "bob", "ok?"]),
        {"reply": "no", "retVal": 0},
    ),
    (
        "PromptUserChannelForReply",
        'bot.PromptUserChannelForReply("YesNo", "bob", "general", "ok?")',
        {"reply": "y", "ret_val": 0},
        ("PromptUserChannelForReply", ["YesNo", "bob", "general", "ok?"]),
        {"reply": "y", "retVal": 0},
    ),
    (
        "PromptUserChannelThreadForReply",
        'bot.PromptUserChannelThreadForReply("YesNo", "bob", "general", "t1", "ok %s?", "bob")',
        {"reply": "y", "ret_val": 0},
        ("PromptUserChannelThreadForReply", ["YesNo", "bob", "general", "t1", "ok bob?"]),
        {"reply": "y", "retVal": 0},
    ),
    # long-term memory
    (
        "CheckoutDatum",
        'bot.CheckoutDatum("k", true)',
        {"ret_val": 0, "exists": True, "lock_token": "tok", "datum": {"n": 1}},
        ("CheckoutDatum", ["k", True]),
        {"retVal": 0, "exists": True, "datum": {"n": 1}, "token": "tok", "key": "k"},
    ),
    (
        "CheckoutDatum-missing",
        'bot.CheckoutDatum("k")',
        {"ret_val": 0, "exists": False, "lock_token": "", "datum": None},
        ("CheckoutDatum", ["k", False]),
        {"retVal": 0, "exists": False, "datum": {}, "token": "", "key": "k"},
    ),
    (
        "UpdateDatum",
        'bot.UpdateDatum({key: "k", token: "tok", datum: {n: 2}})',
        {"ret_val": 7},
        ("UpdateDatum", ["k", "tok", {"n": 2}]),
        7,
    ),
    (
        "CheckinDatum",
        'bot.CheckinDatum({key: "k", token: "tok"})',
        {"ok": True},
        ("CheckinDatum", ["k", "tok"]),
        None,
    ),
    ("DeleteDatum", 'bot.DeleteDatum("k")', {"ret_val": 0}, ("DeleteDatum", ["k"]), 0),
    # short-term memory -> {ok}
    ("Remember", 'bot.Remember("k", "v")', {"ok": True}, ("Remember", ["k", "v", False]), None),
    (
        "Remember-shared",
        'bot.Remember("k", "v", true)',
        {"ok": True},
        ("Remember", ["k", "v", True]),
        None,
    ),
    (
        "RememberThread",
        'bot.RememberThread("k", "v")',
        {"ok": True},
        ("RememberThread", ["k", "v", False]),
        None,
    ),
    (
        "RememberContext",
        'bot.RememberContext("server", "web1")',
        {"ok": True},
        ("RememberContext", ["server", "web1"]),
        None,
    ),
    (
        "RememberContextThread",
        'bot.RememberContextThread("server", "web1")',
        {"ok": True},
        ("RememberContextThread", ["server", "web1"]),
        None,
    ),
    ("DeleteMemory", 'bot.DeleteMemory("k")', {"ok": True}, ("DeleteMemory", ["k", False]), None),
    # pipeline -> {ret_val}
    ("AddTask", 'bot.AddTask("t", "a", "b")', {"ret_val": 0}, ("AddTask", ["t", "a", "b"]), 0),
    ("FinalTask", 'bot.FinalTask("t")', {"ret_val": 0}, ("FinalTask", ["t"]), 0),
    ("FailTask", 'bot.FailTask("t", "x")', {"ret_val": 23}, ("FailTask", ["t", "x"]), 23),
    ("AddJob", 'bot.AddJob("j", "x")', {"ret_val": 0}, ("AddJob", ["j", "x"]), 0),
    ("SpawnJob", 'bot.SpawnJob("j")', {"ret_val": 0}, ("SpawnJob", ["j"]), 0),
    (
        "AddCommand",
        'bot.AddCommand("builtin", "help")',
        {"ret_val": 0},
        ("AddCommand", ["builtin", "help"]),
        0,
    ),
    (
        "FinalCommand",
        'bot.FinalCommand("builtin", "help")',
        {"ret_val": 0},
        ("FinalCommand", ["builtin", "help"]),
        0,
    ),
    (
        "FailCommand",
        'bot.FailCommand("builtin", "help")',
        {"ret_val": 27},
        ("FailCommand", ["builtin", "help"]),
        27,
    ),
    # secrets and identity
    (
        "EncryptSecret",
        'bot.EncryptSecret("pw")',
        {"ciphertext": "c2VjcmV0", "ret_val": 0},
        ("EncryptSecret", ["pw"]),
        {"ciphertext": "c2VjcmV0", "retVal": 0},
    ),
    (
        "GetIdentityCredential",
        'bot.GetIdentityCredential("github", "bob")',
        {"credential": CREDENTIAL, "ret_val": 0},
        ("GetIdentityCredential", ["github", "bob"]),
        {
            "credential": {
                "type": "bearer",
                "value": "v",
                "scheme": "Bearer",
                "headerName": "Authorization",
                "headerValue": "Bearer v",
                "expiresAt": "2030-01-01T00:00:00Z",
                "metadata": {"k": "m"},
            },
            "retVal": 0,
        },
    ),
    (
        "LinkOAuth2Identity",
        'bot.LinkOAuth2Identity({Provider: "github", User: "bob", Scope: ["repo"]})',
        {"ret_val": 0},
        ("LinkOAuth2Identity", [{"Provider": "github", "User": "bob", "Scope": ["repo"]}]),
        0,
    ),
    (
        "UnlinkIdentity",
        'bot.UnlinkIdentity("github", "bob")',
        {"ret_val": 31},
        ("UnlinkIdentity", ["github", "bob"]),
        31,
    ),
]


@pytest.mark.parametrize(
    ("expression", "canned", "expected_call", "expected_value"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_robot_method_makes_its_robot_call_and_returns_the_javascript_shape(
    run_js,
    expression: str,
    canned: dict[str, Any],
    expected_call: tuple[str, list[Any]],
    expected_value: Any,
) -> None:
    method = expected_call[0]
    run = run_js(HEAD + f"out({expression});\n", canned={method: canned})
    assert run.ret_val == TaskRetVal.Normal, run.result.error
    assert run.calls[0] == (*expected_call, {})
    assert run.outputs == [expected_value]


# (id, expression, the failing method, the zero value the script gets)
ZERO_VALUES = [
    ("retVal", 'bot.Say("hi")', "Say", 63),
    ("bool", "bot.CheckAdmin()", "CheckAdmin", False),
    ("string", 'bot.GetParameter("X")', "GetParameter", ""),
    ("int", "bot.RandomInt(3)", "RandomInt", 0),
    (
        "attribute",
        'bot.GetUserAttribute("bob", "email")',
        "GetUserAttribute",
        {"attribute": "", "retVal": 3},
    ),
    ("prompt", 'bot.PromptForReply("YesNo", "ok?")', "PromptForReply", {"reply": "", "retVal": 63}),
    (
        "memory",
        'bot.CheckoutDatum("k", true)',
        "CheckoutDatum",
        {"retVal": 63, "exists": False, "datum": {}, "token": "", "key": "k"},
    ),
    ("config", "bot.GetTaskConfig()", "GetTaskConfig", {"config": None, "retVal": 63}),
    ("ciphertext", 'bot.EncryptSecret("pw")', "EncryptSecret", {"ciphertext": "", "retVal": 63}),
    ("pipeline", 'bot.AddTask("t")', "AddTask", 63),
    ("ok", 'bot.Remember("k", "v")', "Remember", None),
]


@pytest.mark.parametrize(
    ("expression", "method", "zero"), [z[1:] for z in ZERO_VALUES], ids=[z[0] for z in ZERO_VALUES]
)
def test_failed_robot_call_gives_the_zero_value_and_is_logged(
    run_js, expression: str, method: str, zero: Any
) -> None:
    failure = RpcError(ErrorCode.PRIVILEGE_VIOLATION, "not in this pipeline")
    run = run_js(HEAD + f"out({expression});\n", canned={method: failure})
    assert run.ret_val == TaskRetVal.Normal, run.result.error
    assert run.outputs == [zero]
    assert any(
        level == 5 and f"robot call {method} failed" in text and "privilege_violation" in text
        for level, text in run.logs
    ), run.logs


def test_robot_api_bug_in_the_parent_is_a_zero_value_too(run_js) -> None:
    run = run_js(HEAD + 'out(bot.Say("hi"));\n', canned={"Say": ZeroDivisionError("bug")})
    assert run.outputs == [63]


# --- modifiers --------------------------------------------------------------------------------

MODIFIERS = [
    ("Direct", "bot.Direct()", {"direct": True}),
    ("Threaded", "bot.Threaded()", {"threaded": True}),
    ("Fixed", "bot.Fixed()", {"format": 1}),
    ("MessageFormat", "bot.MessageFormat(fmt.Variable)", {"format": 2}),
    (
        "chained",
        "bot.Direct().Threaded().MessageFormat(fmt.BasicMarkdown)",
        {"direct": True, "threaded": True, "format": 3},
    ),
]


@pytest.mark.parametrize(
    ("modified", "options"), [m[1:] for m in MODIFIERS], ids=[m[0] for m in MODIFIERS]
)
def test_modifier_returns_a_new_robot_whose_calls_carry_options(
    run_js, modified: str, options: dict[str, Any]
) -> None:
    run = run_js(
        HEAD
        + f"""
        const other = {modified};
        out([other instanceof Robot, other !== bot]);
        other.Say("modified");
        other.GetParameter("X");
        bot.Say("original");
        """
    )
    assert run.outputs == [[True, True]]
    assert run.calls == [
        ("Say", ["modified"], options),
        ("GetParameter", ["X"], options),
        ("Say", ["original"], {}),
    ]


def test_trailing_format_argument_sets_the_format_of_one_message(run_js) -> None:
    run = run_js(HEAD + 'bot.Say("`code`", fmt.Fixed); bot.Direct().Reply("x", fmt.Raw);\n')
    assert run.calls == [
        ("Say", ["`code`"], {"format": 1}),
        ("Reply", ["x"], {"direct": True, "format": 0}),
    ]


def test_printf_arguments_beyond_the_verbs_are_reported_as_go_does(run_js) -> None:
    run = run_js(
        HEAD
        + 'bot.Say("plain", "x", 1); bot.Say("%v|%q|%t|%x|%-4s|%04d", [1], "a", true, 255, "ab", 7);\n'
    )
    assert run.calls == [
        ("Say", ["plain%!(EXTRA string=x, int=1)"], {}),
        ("Say", ['[1]|"a"|true|ff|ab  |0007'], {}),
    ]


def test_percent_followed_by_a_space_is_text_so_a_number_after_it_is_the_format(run_js) -> None:
    run = run_js(HEAD + 'bot.Say("50% done", fmt.Fixed); bot.Say("100%");\n')
    assert run.calls == [("Say", ["50% done"], {"format": 1}), ("Say", ["100%"], {})]


def test_threaded_robot_in_a_channel_is_threaded(run_js) -> None:
    run = run_js(HEAD + "out([bot.Threaded().threaded_message, bot.threaded_message]);\n")
    assert run.outputs == [[True, False]]


def test_direct_robot_has_no_channel(run_js) -> None:
    run = run_js(
        HEAD + "const d = bot.Direct(); out([d.channel, d.channel_id, bot.channel, d.user]);\n"
    )
    assert run.outputs == [["", "", "general", "alice"]]


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "bot.Say(42)",
        'bot.AddTask("t", 7)',
        'bot.Remember("", "v")',
        'bot.Exclusive("t", "yes")',
        "bot.RandomString('ab')",
    ],
    ids=[
        "message-not-string",
        "pipeline-arg-not-string",
        "empty-remember-key",
        "queue-not-bool",
        "choices-not-array",
    ],
)
def test_wrong_typed_argument_throws_in_the_script(run_js, expression: str) -> None:
    run = run_js(HEAD + f"try {{ {expression}; out('no error'); }} catch (e) {{ out(e.name); }}\n")
    assert run.outputs == ["TypeError"]
    assert run.calls == []


def test_large_unicode_messages_cross_the_bridge_intact_both_ways(run_js) -> None:
    # Both ways larger than the bridge mailbox (256 KiB), so they travel in chunks.
    big = "héllo wörld ☃ 🐹 " * 40_000

    run = run_js(
        HEAD
        + """
        const big = "héllo wörld ☃ 🐹 ".repeat(40000);
        const echoed = bot.GetParameter(big);
        out([bot.Say(big), echoed === big, echoed.length]);
        """,
        canned={"GetParameter": lambda call: {"string": call.args[0]}},
    )
    assert run.calls[1] == ("Say", [big], {})
    assert run.outputs == [[0, True, len(big.encode("utf-16-le")) // 2]]
