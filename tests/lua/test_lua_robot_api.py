"""Every Robot method: the robot_call it makes, and what Lua gets back from the robot's answer."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from burrow.constants import RetVal, TaskRetVal
from burrow.rpc.errors import ErrorCode, RpcError

FAILED = RetVal.Failed.value


class Case(NamedTuple):
    """A Lua statement calling `report(...)` on a method's results, and what must happen."""

    code: str
    answer: dict[str, Any]  # the robot's canned result
    call: tuple[str, list[Any]]  # the robot_call expected
    returns: list[Any]  # what the Lua method returned
    on_failure: list[Any]  # what it returns when the robot call fails


MEMORY = 'local m = {key = "k", token = "t1", datum = {items = {"a", "b"}, n = 2}}; '
CREDENTIAL = {"type": "bearer", "value": "xyz", "expires_at": 0, "metadata": {"scope": "repo"}}

CASES: dict[str, Case] = {
    # Messaging -> {ret_val}; Lua gets retVal.
    "Say": Case('report(bot:Say("hi"))', {"ret_val": 0}, ("Say", ["hi"]), [0], [FAILED]),
    "SayThread": Case(
        'report(bot:SayThread("hi"))', {"ret_val": 4}, ("SayThread", ["hi"]), [4], [FAILED]
    ),
    "Reply": Case('report(bot:Reply("hi"))', {"ret_val": 0}, ("Reply", ["hi"]), [0], [FAILED]),
    "ReplyThread": Case(
        'report(bot:ReplyThread("hi"))', {"ret_val": 0}, ("ReplyThread", ["hi"]), [0], [FAILED]
    ),
    "SendChannelMessage": Case(
        'report(bot:SendChannelMessage("random", "hi"))',
        {"ret_val": 2},
        ("SendChannelMessage", ["random", "hi"]),
        [2],
        [FAILED],
    ),
    "SendChannelThreadMessage": Case(
        'report(bot:SendChannelThreadMessage("random", "0007", "hi"))',
        {"ret_val": 0},
        ("SendChannelThreadMessage", ["random", "0007", "hi"]),
        [0],
        [FAILED],
    ),
    "SendUserMessage": Case(
        'report(bot:SendUserMessage("bob", "hi"))',
        {"ret_val": 1},
        ("SendUserMessage", ["bob", "hi"]),
        [1],
        [FAILED],
    ),
    "SendUserChannelMessage": Case(
        'report(bot:SendUserChannelMessage("bob", "random", "hi"))',
        {"ret_val": 0},
        ("SendUserChannelMessage", ["bob", "random", "hi"]),
        [0],
        [FAILED],
    ),
    "SendUserChannelThreadMessage": Case(
        'report(bot:SendUserChannelThreadMessage("bob", "random", "0007", "hi"))',
        {"ret_val": 0},
        ("SendUserChannelThreadMessage", ["bob", "random", "0007", "hi"]),
        [0],
        [FAILED],
    ),
    "SendProtocolUserChannelMessage": Case(
        'report(bot:SendProtocolUserChannelMessage("slack", "bob", "", "hi"))',
        {"ret_val": 0},
        ("SendProtocolUserChannelMessage", ["slack", "bob", "", "hi"]),
        [0],
        [FAILED],
    ),
    # Prompts -> {reply, ret_val}; Lua gets reply, retVal.
    "PromptForReply": Case(
        'report(bot:PromptForReply("SimpleString", "Name?"))',
        {"reply": "Floyd", "ret_val": 0},
        ("PromptForReply", ["SimpleString", "Name?"]),
        ["Floyd", 0],
        ["", FAILED],
    ),
    "PromptThreadForReply": Case(
        'report(bot:PromptThreadForReply("SimpleString", "Name?"))',
        {"reply": "", "ret_val": 17},
        ("PromptThreadForReply", ["SimpleString", "Name?"]),
        ["", 17],
        ["", FAILED],
    ),
    "PromptUserForReply": Case(
        'report(bot:PromptUserForReply("YesNo", "bob", "Sure?"))',
        {"reply": "yes", "ret_val": 0},
        ("PromptUserForReply", ["YesNo", "bob", "Sure?"]),
        ["yes", 0],
        ["", FAILED],
    ),
    "PromptUserChannelForReply": Case(
        'report(bot:PromptUserChannelForReply("YesNo", "bob", "random", "Sure?"))',
        {"reply": "no", "ret_val": 0},
        ("PromptUserChannelForReply", ["YesNo", "bob", "random", "Sure?"]),
        ["no", 0],
        ["", FAILED],
    ),
    "PromptUserChannelThreadForReply": Case(
        'report(bot:PromptUserChannelThreadForReply("YesNo", "bob", "random", "0007", "Sure?"))',
        {"reply": "yes", "ret_val": 0},
        ("PromptUserChannelThreadForReply", ["YesNo", "bob", "random", "0007", "Sure?"]),
        ["yes", 0],
        ["", FAILED],
    ),
    # Short-term memory -> {ok} (Lua gets nothing) or {string}.
    "Remember": Case(
        'report(bot:Remember("k", "v"))', {"ok": True}, ("Remember", ["k", "v", False]), [], []
    ),
    "Remember shared": Case(
        'report(bot:Remember("k", "v", true))',
        {"ok": True},
        ("Remember", ["k", "v", True]),
        [],
        [],
    ),
    "RememberThread": Case(
        'report(bot:RememberThread("k", "v", false))',
        {"ok": True},
        ("RememberThread", ["k", "v", False]),
        [],
        [],
    ),
    "RememberContext": Case(
        'report(bot:RememberContext("server", "db1"))',
        {"ok": True},
        ("RememberContext", ["server", "db1"]),
        [],
        [],
    ),
    "RememberContextThread": Case(
        'report(bot:RememberContextThread("server", "db1"))',
        {"ok": True},
        ("RememberContextThread", ["server", "db1"]),
        [],
        [],
    ),
    "Recall": Case(
        'report(bot:Recall("k"))', {"string": "v"}, ("Recall", ["k", False]), ["v"], [""]
    ),
    "Recall shared": Case(
        'report(bot:Recall("k", true))', {"string": "v"}, ("Recall", ["k", True]), ["v"], [""]
    ),
    "DeleteMemory": Case(
        'report(bot:DeleteMemory("k", true))',
        {"ok": True},
        ("DeleteMemory", ["k", True]),
        [],
        [],
    ),
    # Parameters, bools and pipelines.
    "GetParameter": Case(
        'report(bot:GetParameter("TOKEN"))',
        {"string": "s3cret"},
        ("GetParameter", ["TOKEN"]),
        ["s3cret"],
        [""],
    ),
    "SetParameter": Case(
        'report(bot:SetParameter("COUNT", 3))',
        {"bool": True},
        ("SetParameter", ["COUNT", "3"]),
        [True],
        [False],
    ),
    "SetWorkingDirectory": Case(
        'report(bot:SetWorkingDirectory("build"))',
        {"bool": True},
        ("SetWorkingDirectory", ["build"]),
        [True],
        [False],
    ),
    "Subscribe": Case(
        "report(bot:Subscribe())", {"bool": True}, ("Subscribe", []), [True], [False]
    ),
    "Unsubscribe": Case(
        "report(bot:Unsubscribe())", {"bool": False}, ("Unsubscribe", []), [False], [False]
    ),
    "Exclusive": Case(
        'report(bot:Exclusive("deploy", true))',
        {"bool": True},
        ("Exclusive", ["deploy", True]),
        [True],
        [False],
    ),
    "CheckAdmin": Case(
        "report(bot:CheckAdmin())", {"bool": True}, ("CheckAdmin", []), [True], [False]
    ),
    "Elevate": Case(
        "report(bot:Elevate(true))", {"bool": True}, ("Elevate", [True]), [True], [False]
    ),
    "Elevate default": Case(
        "report(bot:Elevate())", {"bool": False}, ("Elevate", [False]), [False], [False]
    ),
    "SpawnJob": Case(
        'report(bot:SpawnJob("backup", "full", 2))',
        {"ret_val": 0},
        ("SpawnJob", ["backup", "full", "2"]),
        [0],
        [FAILED],
    ),
    "AddTask": Case(
        'report(bot:AddTask("notify", "done"))',
        {"ret_val": 23},
        ("AddTask", ["notify", "done"]),
        [23],
        [FAILED],
    ),
    "FinalTask": Case(
        'report(bot:FinalTask("cleanup"))',
        {"ret_val": 0},
        ("FinalTask", ["cleanup"]),
        [0],
        [FAILED],
    ),
    "FailTask": Case(
        'report(bot:FailTask("alert", "x"))',
        {"ret_val": 0},
        ("FailTask", ["alert", "x"]),
        [0],
        [FAILED],
    ),
    "AddJob": Case(
        'report(bot:AddJob("build"))', {"ret_val": 0}, ("AddJob", ["build"]), [0], [FAILED]
    ),
    "AddCommand": Case(
        'report(bot:AddCommand("builtin", "help"))',
        {"ret_val": 27},
        ("AddCommand", ["builtin", "help"]),
        [27],
        [FAILED],
    ),
    "FinalCommand": Case(
        'report(bot:FinalCommand("builtin", "help"))',
        {"ret_val": 0},
        ("FinalCommand", ["builtin", "help"]),
        [0],
        [FAILED],
    ),
    "FailCommand": Case(
        'report(bot:FailCommand("builtin", "help"))',
        {"ret_val": 0},
        ("FailCommand", ["builtin", "help"]),
        [0],
        [FAILED],
    ),
    # Attributes -> {attribute, ret_val}; Lua gets attribute, retVal.
    "GetBotAttribute": Case(
        'report(bot:GetBotAttribute("name"))',
        {"attribute": "burrow", "ret_val": 0},
        ("GetBotAttribute", ["name"]),
        ["burrow", 0],
        ["", 3],
    ),
    "GetUserAttribute": Case(
        'report(bot:GetUserAttribute("bob", "email"))',
        {"attribute": "", "ret_val": 3},
        ("GetUserAttribute", ["bob", "email"]),
        ["", 3],
        ["", 3],
    ),
    "GetSenderAttribute": Case(
        'report(bot:GetSenderAttribute("firstname"))',
        {"attribute": "Alice", "ret_val": 0},
        ("GetSenderAttribute", ["firstname"]),
        ["Alice", 0],
        ["", 3],
    ),
    # Long-term memory.
    "CheckoutDatum": Case(
        'report(bot:CheckoutDatum("k", true))',
        {"ret_val": 0, "exists": True, "lock_token": "t1", "datum": {"items": ["a"], "n": 1}},
        ("CheckoutDatum", ["k", True]),
        [
            {
                "key": "k",
                "exists": True,
                "datum": {"items": ["a"], "n": 1},
                "token": "t1",
                "retVal": 0,
            },
            0,
        ],
        [{"key": "k", "exists": False, "datum": {}, "token": "", "retVal": FAILED}, FAILED],
    ),
    "CheckoutDatum missing": Case(
        'report(bot:CheckoutDatum("k"))',
        {"ret_val": 0, "exists": False, "lock_token": "", "datum": None},
        ("CheckoutDatum", ["k", False]),
        [{"key": "k", "exists": False, "datum": {}, "token": "", "retVal": 0}, 0],
        [{"key": "k", "exists": False, "datum": {}, "token": "", "retVal": FAILED}, FAILED],
    ),
    "UpdateDatum": Case(
        MEMORY + "report(bot:UpdateDatum(m))",
        {"ret_val": 7},
        ("UpdateDatum", ["k", "t1", {"items": ["a", "b"], "n": 2}]),
        [7],
        [FAILED],
    ),
    "CheckinDatum": Case(
        MEMORY + "report(bot:CheckinDatum(m))",
        {"ok": True},
        ("CheckinDatum", ["k", "t1"]),
        [],
        [],
    ),
    "DeleteDatum": Case(
        'report(bot:DeleteDatum("k"))', {"ret_val": 0}, ("DeleteDatum", ["k"]), [0], [FAILED]
    ),
    # Configuration, identity, secrets.
    "GetTaskConfig": Case(
        "report(bot:GetTaskConfig())",
        {"ret_val": 0, "config": {"Openings": ["one", "two"], "Limit": 3}},
        ("GetTaskConfig", []),
        [{"Openings": ["one", "two"], "Limit": 3}, 0],
        [None, FAILED],
    ),
    "GetTaskConfig none": Case(
        "report(bot:GetTaskConfig())",
        {"ret_val": 13, "config": None},
        ("GetTaskConfig", []),
        [None, 13],
        [None, FAILED],
    ),
    "EncryptSecret": Case(
        'report(bot:EncryptSecret("hunter2"))',
        {"ciphertext": "c2VjcmV0", "ret_val": 0},
        ("EncryptSecret", ["hunter2"]),
        ["c2VjcmV0", 0],
        ["", FAILED],
    ),
    "GetIdentityCredential": Case(
        'report(bot:GetIdentityCredential("github", "alice"))',
        {"credential": CREDENTIAL, "ret_val": 0},
        ("GetIdentityCredential", ["github", "alice"]),
        [CREDENTIAL, 0],
        [None, FAILED],
    ),
    "LinkOAuth2Identity": Case(
        'report(bot:LinkOAuth2Identity({Provider = "github", User = "alice",'
        ' Scope = {"repo", "read:org"}, ExpiresIn = 3600}))',
        {"ret_val": 0},
        (
            "LinkOAuth2Identity",
            [
                {
                    "Provider": "github",
                    "User": "alice",
                    "Scope": ["repo", "read:org"],
                    "ExpiresIn": 3600,
                }
            ],
        ),
        [0],
        [FAILED],
    ),
    "UnlinkIdentity": Case(
        'report(bot:UnlinkIdentity("github", "alice"))',
        {"ret_val": 31},
        ("UnlinkIdentity", ["github", "alice"]),
        [31],
        [FAILED],
    ),
    # Utilities and logging.
    "RandomInt": Case("report(bot:RandomInt(6))", {"int": 4}, ("RandomInt", [6]), [4], [0]),
    "RandomString": Case(
        'report(bot:RandomString({"heads", "tails"}))',
        {"string": "tails"},
        ("RandomString", [["heads", "tails"]]),
        ["tails"],
        [""],
    ),
    "Pause": Case("report(bot:Pause(1))", {"ok": True}, ("Pause", [1.0]), [], []),
    "Log": Case(
        'report(bot:Log(log.Warn, "disk %d%% full", 91))',
        {"bool": True},
        ("Log", [4, "disk 91% full"]),
        [],
        [],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_method_makes_its_robot_call_and_returns_the_answer_lua_style(
    run_lua, robot, case: Case
) -> None:
    method, args = case.call
    robot.answers[method] = case.answer
    run = run_lua(case.code, prelude=True)
    assert run.result.ret_val == TaskRetVal.Normal, run.result.error
    assert [(c.method, c.args, c.options) for c in run.calls] == [(method, args, {})]
    assert run.report == case.returns


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_failed_robot_call_returns_the_zero_value_logs_and_goes_on(
    run_lua, robot, case: Case
) -> None:
    method = case.call[0]
    robot.failures[method] = RpcError(ErrorCode.PRIVILEGE_VIOLATION, "not in this pipeline")
    run = run_lua(case.code + "\nreturn task.Success", prelude=True)
    assert run.result.ret_val == TaskRetVal.Success, run.result.error
    assert run.report == case.on_failure
    assert run.errors == [f"robot call {method} failed: privilege_violation: not in this pipeline"]


def test_random_string_of_an_empty_array_is_empty_without_asking_the_robot(run_lua) -> None:
    run = run_lua("report(bot:RandomString({}))", prelude=True)
    assert run.report == [""]
    assert run.calls == []


@pytest.mark.parametrize(
    ("code", "sent", "options"),
    [
        ('bot:Say("plain 100%")', "plain 100%", {}),
        ('bot:Say("%s has %d items", "bob", 3)', "bob has 3 items", {}),
        ('bot:Say("count: %d", 4)', "count: 4", {}),
        ('bot:Say("%5.1f%%", 99.25)', " 99.2%", {}),
        ('bot:Say("CPU at 90%", fmt.Fixed)', "CPU at 90%", {"format": 1}),
        ('bot:Say("50% done", fmt.Raw)', "50% done", {"format": 0}),
        ('bot:Say("no format", nil)', "no format", {}),
        ('bot:Fixed():Say("%s!", "fixed and formatted")', "fixed and formatted!", {"format": 1}),
        ('bot:SendUserMessage("bob", "hi %s", bot.user)', "hi alice", {}),
        ('bot:PromptForReply("YesNo", "Deploy %s?", "v2")', "Deploy v2?", {}),
    ],
)
def test_messages_are_formatted_only_when_they_have_a_conversion(
    run_lua, code, sent, options
) -> None:
    run = run_lua(code, prelude=True)
    assert run.result.error is None, run.result.error
    (call,) = run.calls
    assert call.args[-1] == sent
    assert call.options == options


@pytest.mark.parametrize(
    ("code", "complaint"),
    [
        ("bot:Say(nil)", "Say: argument #1 must be a string, got nil"),
        ('bot:Say("hello", "bob")', "Say: bob is not a message format"),
        ('bot:Say("hello", 9)', "Say: 9 is not a message format"),
        ('bot:Say("hello", 1, 2)', "Say: 2 arguments after the message, which has no % conversion"),
        ('bot:Say("%d items", "many")', "Say: bad argument #2 to"),
        ('bot:Say("caf\\233")', "Say: argument #1 is not valid UTF-8"),
        ('bot:Remember("", "v")', "Remember: the key must not be empty"),
        ('bot:UpdateDatum({key = "k"})', "UpdateDatum needs the memory returned by CheckoutDatum"),
        ('bot:UpdateDatum({key = "k", token = "t", datum = {f = print}})', "a function value"),
        ('bot:AddTask("t", {})', "AddTask: argument #2 must be a string, got table"),
        ("bot:RandomInt(1.5)", "RandomInt: argument #1 must be an integer, got 1.5"),
        ('bot:Pause("1")', "Pause: argument #1 must be a number of seconds, got string"),
        ("bot:MessageFormat(7)", "MessageFormat: 7 is not a message format"),
    ],
)
def test_bad_arguments_are_script_errors_at_the_call_site(
    run_lua, tmp_path, code, complaint
) -> None:
    run = run_lua(f"local x = 1\n{code}\n", prelude=True)
    assert run.result.ret_val == TaskRetVal.MechanismFail
    assert run.calls == []
    assert complaint in run.result.error.message
    # Lua shortens long chunk names in messages; the error data holds the full path.
    assert "ext.lua:3: " in run.result.error.message
    assert (run.error_data["file"], run.error_data["line"]) == (str(tmp_path / "ext.lua"), 3)
