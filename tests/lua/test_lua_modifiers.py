"""Direct(), Threaded(), Fixed() and MessageFormat(f): new Robots whose calls carry options."""

from __future__ import annotations

import pytest

from burrow.constants import TaskRetVal


@pytest.mark.parametrize(
    ("modified", "options"),
    [
        ("bot:Direct()", {"direct": True}),
        ("bot:Threaded()", {"threaded": True}),
        ("bot:Fixed()", {"format": 1}),
        ("bot:MessageFormat(fmt.Variable)", {"format": 2}),
        ("bot:MessageFormat(fmt.BasicMarkdown)", {"format": 3}),
        ("bot:Direct():Fixed()", {"direct": True, "format": 1}),
        ("bot:Fixed():Threaded():MessageFormat(fmt.Raw)", {"threaded": True, "format": 0}),
    ],
)
def test_a_modified_robot_sends_its_options_with_every_call(run_lua, modified, options) -> None:
    run = run_lua(
        f"""local other = {modified}
        other:Say("hi")
        other:PromptForReply("YesNo", "ok?")
        other:AddTask("notify")
        """,
        prelude=True,
    )
    assert run.result.ret_val == TaskRetVal.Normal, run.result.error
    assert [(c.method, c.options) for c in run.calls] == [
        ("Say", options),
        ("PromptForReply", options),
        ("AddTask", options),
    ]


def test_modifiers_leave_the_original_robot_untouched(run_lua) -> None:
    run = run_lua(
        """local direct = bot:Direct()
        bot:Say("public")
        report(direct ~= bot, bot.channel, getmetatable(direct) == Robot)
        """,
        prelude=True,
    )
    assert [c.options for c in run.calls] == [{}]
    assert run.report == [True, "general", True]


def test_direct_blanks_the_channel_of_the_new_robot(run_lua) -> None:
    run = run_lua(
        "local d = bot:Direct(); report(d.channel, d.channel_id, d.user, d.thread_id)",
        prelude=True,
    )
    assert run.report == ["", "", "alice", "0042"]


@pytest.mark.parametrize(("channel", "threaded"), [("general", True), ("", False)])
def test_threaded_marks_the_new_robot_threaded_only_in_a_channel(
    run_lua, channel, threaded
) -> None:
    run = run_lua(
        "report(bot:Threaded().threaded_message, bot.threaded_message)",
        prelude=True,
        bot={"user": "alice", "channel": channel},
    )
    assert run.report == [threaded, False]


def test_a_format_given_to_one_call_overrides_the_robots_format(run_lua) -> None:
    run = run_lua(
        """local fixed = bot:Direct():Fixed()
        fixed:Say("raw this once", fmt.Raw)
        fixed:Say("fixed again")
        """,
        prelude=True,
    )
    assert [c.options for c in run.calls] == [
        {"direct": True, "format": 0},
        {"direct": True, "format": 1},
    ]
