"""Every method of robot.Robot from Go, through a real child: the robot_call it makes (method,
arguments, options) and what the extension gets back from the robot's answer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from burrow_go.build import program_for

from burrow.bindings.registry import BindingRegistry
from burrow.constants import RetVal
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.execution import ExecutionSpec, RobotCall, run_execution
from support import run

# (case, Go statements setting `got`, the robot's answer, expected (method, args, options),
#  what the extension printed of `got`: a RetVal prints its name); None: no robot call.
CASES: list[tuple[str, str, dict[str, Any], tuple[str, list[Any], dict[str, Any]] | None, str]] = [
    ("Say", 'got = r.Say("hi %s", "there")', {"ret_val": 0}, ("Say", ["hi there"], {}), "Ok"),
    ("SayPercent", 'got = r.Say("100%")', {"ret_val": 0}, ("Say", ["100%"], {}), "Ok"),
    (
        "SayThread",
        'got = r.SayThread("t")',
        {"ret_val": 4},
        ("SayThread", ["t"], {}),
        RetVal(4).name,
    ),
    ("Reply", 'got = r.Reply("hi")', {"ret_val": 0}, ("Reply", ["hi"], {}), "Ok"),
    ("ReplyThread", 'got = r.ReplyThread("hi")', {"ret_val": 0}, ("ReplyThread", ["hi"], {}), "Ok"),
    (
        "SendChannelMessage",
        'got = r.SendChannelMessage("general", "n=%d", 3)',
        {"ret_val": 0},
        ("SendChannelMessage", ["general", "n=3"], {}),
        "Ok",
    ),
    (
        "SendChannelThreadMessage",
        'got = r.SendChannelThreadMessage("general", "t1", "hi")',
        {"ret_val": 0},
        ("SendChannelThreadMessage", ["general", "t1", "hi"], {}),
        "Ok",
    ),
    (
        "SendUserMessage",
        'got = r.SendUserMessage("bob", "hi")',
        {"ret_val": 1},
        ("SendUserMessage", ["bob", "hi"], {}),
        RetVal(1).name,
    ),
    (
        "SendUserChannelMessage",
        'got = r.SendUserChannelMessage("bob", "general", "hi")',
        {"ret_val": 0},
        ("SendUserChannelMessage", ["bob", "general", "hi"], {}),
        "Ok",
    ),
    (
        "SendUserChannelThreadMessage",
        'got = r.SendUserChannelThreadMessage("bob", "general", "t1", "hi")',
        {"ret_val": 0},
        ("SendUserChannelThreadMessage", ["bob", "general", "t1", "hi"], {}),
        "Ok",
    ),
    (
        "SendProtocolUserChannelMessage",
        'got = r.SendProtocolUserChannelMessage("slack", "bob", "general", "hi")',
        {"ret_val": 63},
        ("SendProtocolUserChannelMessage", ["slack", "bob", "general", "hi"], {}),
        RetVal(63).name,
    ),
    (
        "GetBotAttribute",
        'a := r.GetBotAttribute("name"); got = fmt.Sprint(a, " ", a.RetVal)',
        {"attribute": "burrow", "ret_val": 0},
        ("GetBotAttribute", ["name"], {}),
        "burrow Ok",
    ),
    (
        "GetUserAttribute",
        'a := r.GetUserAttribute("bob", "email"); got = fmt.Sprint(a.Attribute, " ", a.RetVal)',
        {"attribute": "", "ret_val": 9},
        ("GetUserAttribute", ["bob", "email"], {}),
        " " + RetVal(9).name,
    ),
    (
        "GetSenderAttribute",
        'got = r.GetSenderAttribute("firstName").Attribute',
        {"attribute": "Alice", "ret_val": 0},
        ("GetSenderAttribute", ["firstName"], {}),
        "Alice",
    ),
    ("CheckAdmin", "got = r.CheckAdmin()", {"bool": True}, ("CheckAdmin", [], {}), "true"),
    ("Subscribe", "got = r.Subscribe()", {"bool": True}, ("Subscribe", [], {}), "true"),
    ("Unsubscribe", "got = r.Unsubscribe()", {"bool": False}, ("Unsubscribe", [], {}), "false"),
    ("Elevate", "got = r.Elevate(true)", {"bool": True}, ("Elevate", [True], {}), "true"),
    (
        "Exclusive",
        'got = r.Exclusive("deploy", true)',
        {"bool": False},
        ("Exclusive", ["deploy", True], {}),
        "false",
    ),
    (
        "GetParameter",
        'got = r.GetParameter("X")',
        {"string": "v"},
        ("GetParameter", ["X"], {}),
        "v",
    ),
    (
        "SetParameter",
        'got = r.SetParameter("A", "b")',
        {"bool": True},
        ("SetParameter", ["A", "b"], {}),
        "true",
    ),
    (
        "SetWorkingDirectory",
        'got = r.SetWorkingDirectory("sub")',
        {"bool": True},
        ("SetWorkingDirectory", ["sub"], {}),
        "true",
    ),
    (
        "GetHelpMetadata",
        'got = r.GetHelpMetadata("deploy")',
        {"string": '{"context": "x"}'},
        ("GetHelpMetadata", ["deploy"], {}),
        '{"context": "x"}',
    ),
    (
        "GetMessage",
        "m := r.GetMessage(); got = fmt.Sprint(m.User, m.ProtocolUser, m.Channel, "
        "m.ProtocolChannel, m.Protocol, m.Format)",
        {
            "message": {
                "user": "alice",
                "protocol_user": "U1",
                "channel": "general",
                "protocol_channel": "C1",
                "protocol": "slack",
                "format": 2,
            }
        },
        ("GetMessage", [], {}),
        "aliceU1generalC1Slack Variable",  # fmt.Sprint spaces only between non-strings
    ),
    (
        "GetTaskConfig",
        "var c struct{ Answer int }; ret := r.GetTaskConfig(&c); got = fmt.Sprint(ret, c.Answer)",
        {"ret_val": 0, "config": {"Answer": 42}},
        ("GetTaskConfig", [], {}),
        "Ok 42",
    ),
    (
        "GetTaskConfigNone",
        "var c struct{ Answer int }; got = r.GetTaskConfig(&c)",
        {"ret_val": 26, "config": None},
        ("GetTaskConfig", [], {}),
        RetVal(26).name,
    ),
    (
        "GetIdentityCredential",
        'c, ret := r.GetIdentityCredential("github", "alice"); '
        'got = fmt.Sprintf("%v %s %s %s %v", ret, c.Type, c.Value, c.HeaderName, c.Metadata)',
        {
            "ret_val": 0,
            "credential": {
                "type": "bearer",
                "value": "v",
                "scheme": "Bearer",
                "header_name": "Authorization",
                "header_value": "Bearer v",
                "expires_at": "2030-01-01T00:00:00Z",
                "metadata": {"k": "m"},
            },
        },
        ("GetIdentityCredential", ["github", "alice"], {}),
        "Ok bearer v Authorization map[k:m]",
    ),
    (
        "LinkOAuth2Identity",
        'got = r.LinkOAuth2Identity(&robot.OAuth2IdentityLinkRequest{Provider: "github", '
        'User: "alice", AccessToken: "t", Scope: []string{"repo"}, ExpiresIn: 60})',
        {"ret_val": 0},
        None,  # checked in its own test below (a map of every field)
        "Ok",
    ),
    (
        "UnlinkIdentity",
        'got = r.UnlinkIdentity("github", "alice")',
        {"ret_val": 0},
        ("UnlinkIdentity", ["github", "alice"], {}),
        "Ok",
    ),
    (
        "Email",
        'got = r.Email("subj", bytes.NewBufferString("body"))',
        {"ret_val": 0},
        ("Email", ["subj", "body", False], {}),
        "Ok",
    ),
    (
        "EmailUser",
        'got = r.EmailUser("bob", "subj", bytes.NewBufferString("<b>x</b>"), true)',
        {"ret_val": 0},
        ("EmailUser", ["bob", "subj", "<b>x</b>", True], {}),
        "Ok",
    ),
    (
        "EmailAddress",
        'got = r.EmailAddress("a@example.com", "subj", nil)',
        {"ret_val": 0},
        ("EmailAddress", ["a@example.com", "subj", "", False], {}),
        "Ok",
    ),
    (
        "Log",
        'got = r.Log(robot.Warn, "n=%d", 3)',
        {"bool": True},
        ("Log", [4, "n=3"], {}),
        "true",
    ),
    ("RandomInt", "got = r.RandomInt(1)", {}, None, "0"),
    ("RandomString", 'got = r.RandomString([]string{"only"})', {}, None, "only"),
    ("Pause", 'r.Pause(0.5); got = "paused"', {"ok": True}, ("Pause", [0.5], {}), "paused"),
    (
        "PromptForReply",
        'reply, ret := r.PromptForReply("YesNo", "ok %s?", "now"); got = fmt.Sprint(reply, " ", ret)',
        {"reply": "yes", "ret_val": 0},
        ("PromptForReply", ["YesNo", "ok now?"], {}),
        "yes Ok",
    ),
    (
        "PromptThreadForReply",
        'reply, ret := r.PromptThreadForReply("YesNo", "ok?"); got = fmt.Sprint(reply, ret)',
        {"reply": "", "ret_val": 17},
        ("PromptThreadForReply", ["YesNo", "ok?"], {}),
        RetVal(17).name,
    ),
    (
        "PromptUserForReply",
        'reply, _ := r.PromptUserForReply("YesNo", "bob", "ok?"); got = reply',
        {"reply": "no", "ret_val": 0},
        ("PromptUserForReply", ["YesNo", "bob", "ok?"], {}),
        "no",
    ),
    (
        "PromptUserChannelForReply",
        'reply, _ := r.PromptUserChannelForReply("YesNo", "bob", "general", "ok?"); got = reply',
        {"reply": "no", "ret_val": 0},
        ("PromptUserChannelForReply", ["YesNo", "bob", "general", "ok?"], {}),
        "no",
    ),
    (
        "PromptUserChannelThreadForReply",
        'reply, _ := r.PromptUserChannelThreadForReply("YesNo", "bob", "general", "t1", "ok?"); '
        "got = reply",
        {"reply": "no", "ret_val": 0},
        ("PromptUserChannelThreadForReply", ["YesNo", "bob", "general", "t1", "ok?"], {}),
        "no",
    ),
    (
        "CheckoutDatum",
        'var d datum; tok, exists, ret := r.CheckoutDatum("k", &d, true); '
        'got = fmt.Sprintf("%s %v %v %d %s", tok, exists, ret, d.Count, d.Name)',
        {"ret_val": 0, "exists": True, "lock_token": "tok", "datum": {"count": 3, "Name": "n"}},
        ("CheckoutDatum", ["k", True], {}),
        "tok true Ok 3 n",
    ),
    (
        "CheckoutDatumMissing",
        'var d datum; _, exists, ret := r.CheckoutDatum("k", &d, false); got = fmt.Sprint(exists, ret)',
        {"ret_val": 0, "exists": False, "lock_token": "", "datum": None},
        ("CheckoutDatum", ["k", False], {}),
        "false Ok",
    ),
    (
        "CheckinDatum",
        'r.CheckinDatum("k", "tok"); got = "in"',
        {"ok": True},
        ("CheckinDatum", ["k", "tok"], {}),
        "in",
    ),
    (
        "UpdateDatum",
        'got = r.UpdateDatum("k", "tok", datum{Count: 4, Name: "m"})',
        {"ret_val": 0},
        ("UpdateDatum", ["k", "tok", {"count": 4, "Name": "m"}], {}),
        "Ok",
    ),
    (
        "DeleteDatum",
        'got = r.DeleteDatum("k")',
        {"ret_val": 6},
        ("DeleteDatum", ["k"], {}),
        RetVal(6).name,
    ),
    (
        "Remember",
        'r.Remember("k", "v", true); got = "kept"',
        {"ok": True},
        ("Remember", ["k", "v", True], {}),
        "kept",
    ),
    (
        "RememberThread",
        'r.RememberThread("k", "v", false); got = "kept"',
        {"ok": True},
        ("RememberThread", ["k", "v", False], {}),
        "kept",
    ),
    (
        "RememberContext",
        'r.RememberContext("server", "db1"); got = "kept"',
        {"ok": True},
        ("RememberContext", ["server", "db1"], {}),
        "kept",
    ),
    (
        "RememberContextThread",
        'r.RememberContextThread("server", "db1"); got = "kept"',
        {"ok": True},
        ("RememberContextThread", ["server", "db1"], {}),
        "kept",
    ),
    ("Recall", 'got = r.Recall("k", true)', {"string": "v"}, ("Recall", ["k", True], {}), "v"),
    (
        "DeleteMemory",
        'r.DeleteMemory("k", false); got = "gone"',
        {"ok": True},
        ("DeleteMemory", ["k", False], {}),
        "gone",
    ),
    *[
        (
            method,
            f'got = r.{method}("name", "a", "b c")',
            {"ret_val": 0},
            (method, ["name", "a", "b c"], {}),
            "Ok",
        )
        for method in ("SpawnJob", "AddTask", "FinalTask", "FailTask", "AddJob")
    ],
    *[
        (
            method,
            f'got = r.{method}("plug", "cmd")',
            {"ret_val": 0},
            (method, ["plug", "cmd"], {}),
            "Ok",
        )
        for method in ("AddCommand", "FinalCommand", "FailCommand")
    ],
    (
        "EncryptSecret",
        'c, ret := r.EncryptSecret("p"); got = fmt.Sprint(c, " ", ret)',
        {"ciphertext": "c", "ret_val": 0},
        ("EncryptSecret", ["p"], {}),
        "c Ok",
    ),
    # Modifiers: a copy whose calls carry the options; the original keeps none.
    ("Direct", 'got = r.Direct().Say("d")', {"ret_val": 0}, ("Say", ["d"], {"direct": True}), "Ok"),
    (
        "Threaded",
        'got = r.Threaded().Reply("t")',
        {"ret_val": 0},
        ("Reply", ["t"], {"threaded": True}),
        "Ok",
    ),
    ("Fixed", 'got = r.Fixed().Say("f")', {"ret_val": 0}, ("Say", ["f"], {"format": 1}), "Ok"),
    (
        "MessageFormat",
        'got = r.Direct().MessageFormat(robot.Variable).Say("v")',
        {"ret_val": 0},
        ("Say", ["v"], {"direct": True, "format": 2}),
        "Ok",
    ),
    ("Original", 'r.Direct(); got = r.Say("o")', {"ret_val": 0}, ("Say", ["o"], {}), "Ok"),
]


def _go_source() -> str:
    cases = "\n".join(f'\tcase "{name}":\n\t\t{code}' for name, code, *_ in CASES)
    return f"""\
package main

import (
	"bytes"
	"fmt"

	"github.com/lnxjedi/gopherbot/robot"
)

var _ = bytes.NewBufferString

var cfg = []byte(`{{}}`)

func Configure() *[]byte {{ return &cfg }}

type datum struct {{
	Count int `json:"count"`
	Name  string
}}

func PluginHandler(r robot.Robot, command string, args ...string) robot.TaskRetVal {{
	var got interface{{}}
	switch command {{
{cases}
	}}
	r.SetParameter("RESULT", fmt.Sprint(got))
	return robot.Normal
}}
"""


class Recorder:
    """The robot's side: answers the case's call with its canned map, records every call."""

    def __init__(self, answer: dict[str, Any], refuse: str = "") -> None:
        self.answer, self.refuse = answer, refuse
        self.calls: list[RobotCall] = []

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.calls.append(call)
        if call.method == self.refuse:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{call.method}: refused by the test")
        if call.method == "SetParameter" and call.args[:1] == ["RESULT"]:
            return {"bool": True}
        return self.answer


@pytest.fixture(scope="module")
def extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("goapi") / "api.go"
    path.write_text(_go_source())
    program_for(str(path), "plugin")  # once for every case
    return path


def execute(
    extension: Path, registry: BindingRegistry, case: str, recorder: Recorder, **kw: Any
) -> tuple[list[RobotCall], str]:
    params = {"path": str(extension), "name": "api", "kind": "plugin", "args": [case], "bot": {}}
    spec = ExecutionSpec(
        registry.bindings["go"], "go_run", params, workdir=extension.parent, timeout=30
    )
    result = run(run_execution(spec, recorder, **kw))
    assert result.error is None and result.ret_val == 0, (result.error, result.stderr_tail)
    *calls, report = recorder.calls
    assert report.method == "SetParameter" and report.args[0] == "RESULT", recorder.calls
    return calls, report.args[1]


@pytest.mark.parametrize(
    ("case", "answer", "expected", "printed"),
    [pytest.param(c[0], c[2], c[3], c[4], id=c[0]) for c in CASES],
)
def test_robot_method_makes_its_call_and_returns_the_answer_go_style(
    extension: Path,
    registry: BindingRegistry,
    case: str,
    answer: dict[str, Any],
    expected: tuple[str, list[Any], dict[str, Any]] | None,
    printed: str,
) -> None:
    calls, got = execute(extension, registry, case, Recorder(answer))
    assert got == printed
    if expected is None:
        assert calls == [] or case == "LinkOAuth2Identity"
        return
    method, args, options = expected
    assert [(c.method, c.args, c.options) for c in calls] == [(method, args, options)]


def test_an_oauth2_link_request_goes_as_a_map_of_its_fields(
    extension: Path, registry: BindingRegistry
) -> None:
    [call], got = execute(extension, registry, "LinkOAuth2Identity", Recorder({"ret_val": 0}))
    assert got == "Ok" and call.method == "LinkOAuth2Identity"
    [request] = call.args
    assert request["Provider"] == "github" and request["User"] == "alice"
    assert request["AccessToken"] == "t" and request["Scope"] == ["repo"]
    assert request["ExpiresIn"] == 60 and request["RefreshToken"] == ""


def test_a_refused_call_gives_the_zero_value_and_says_why_in_the_task_log(
    extension: Path, registry: BindingRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    logged: list[tuple[int, str]] = []
    caplog.set_level(logging.WARNING)
    calls, got = execute(
        extension,
        registry,
        "GetParameter",
        Recorder({"string": "v"}, refuse="GetParameter"),
        on_log=lambda level, message: logged.append((level, message)),
    )
    assert got == ""  # the zero value
    assert [c.method for c in calls] == ["GetParameter"]
    assert (
        5,
        "robot call GetParameter failed: invalid_params: GetParameter: refused by the test",
    ) in (logged)
