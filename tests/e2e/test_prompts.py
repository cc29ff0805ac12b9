"""Prompting and thread subscriptions, through a real robot and real children."""

from __future__ import annotations

import asyncio

from support import run

ASK = """\
config: |
  Commands: [{Command: ask, Regex: 'ask(?: (\\w+))?'}]
  ReplyMatchers: [{Label: color, Regex: '(?i:red|green|blue)'}]
commands:
  ask:
    - {call: [PromptForReply, '{args[1]}', 'Which one?'], as: r}
    - [Say, 'reply={r[reply]} ret={r[ret_val]}']
"""


async def _ask(harness, answer: str, label: str = "color", user: str = "bob", **kw):
    await harness.start()
    try:
        await harness.send(user, f";ask {label}", **kw)
        [prompt] = await harness.replies(1)
        await harness.send(user, answer, **kw)
        [result] = await harness.replies(1)
        return prompt, result
    finally:
        await harness.stop()


def test_prompt_is_addressed_to_the_user_and_returns_the_matching_reply(harness) -> None:
    harness.extension("plugin", "quiz", ASK)
    prompt, result = run(_ask(harness, "Green"))
    assert (prompt.user, prompt.channel, prompt.text) == ("bob", "general", "Which one?")
    assert result.text == "reply=Green ret=0"


def test_stock_reply_matcher(harness) -> None:
    harness.extension("plugin", "quiz", ASK)
    _, result = run(_ask(harness, "y", label="YesNo"))
    assert result.text == "reply=y ret=0"


def test_reply_that_does_not_match_is_reply_not_matched(harness) -> None:
    harness.extension("plugin", "quiz", ASK)
    _, result = run(_ask(harness, "purple"))
    assert result.text == "reply= ret=15"


def test_dash_interrupts_and_equals_asks_for_the_default(harness) -> None:
    harness.extension("plugin", "quiz", ASK)
    _, dash = run(_ask(harness, "-"))
    assert dash.text == "reply= ret=18"


def test_equals_asks_for_the_default(harness) -> None:
    harness.extension("plugin", "quiz", ASK)
    _, equals = run(_ask(harness, "="))
    assert equals.text == "reply= ret=16"


def test_unknown_matcher_label_is_matcher_not_found(harness) -> None:
    harness.extension("plugin", "quiz", ASK)

    assert harness.play(lambda h: h.texts("bob", ";ask shoesize")) == ["reply= ret=19"]


def test_unanswered_prompt_times_out(harness) -> None:
    harness.extension("plugin", "quiz", ASK)

    async def main():
        robot = await harness.start()
        robot.reply_timeout = 0.5
        try:
            return await harness.texts("bob", ";ask color", n=2)
        finally:
            await harness.stop()

    assert run(main()) == ["Which one?", "reply= ret=17"]


def test_prompt_in_a_thread_waits_for_a_reply_in_that_thread(harness) -> None:
    harness.extension("plugin", "quiz", ASK)

    async def main():
        await harness.start()
        try:
            await harness.send("bob", ";ask color", threaded=True, thread_id="t9")
            [prompt] = await harness.replies(1)
            await harness.send("bob", "red")  # not in the thread: routed normally, ignored
            await harness.send("bob", "blue", threaded=True, thread_id="t9")
            [result] = await harness.replies(1)
            return prompt, result
        finally:
            await harness.stop()

    prompt, result = run(main())
    assert (prompt.threaded, prompt.thread_id) == (True, "t9")
    assert result.text == "reply=blue ret=0"


def test_prompt_user_for_reply_asks_in_a_dm(harness) -> None:
    harness.extension(
        "plugin",
        "dm",
        "config: |\n  Commands: [{Command: go, Regex: go}]\ncommands:\n  go:\n"
        "    - {call: [PromptUserForReply, SimpleString, alice, 'Name?'], as: r}\n    - [Say, 'alice said {r[reply]}']\n",
    )

    async def main():
        await harness.start()
        try:
            await harness.send("bob", ";go")
            [prompt] = await harness.replies(1)
            await harness.send("alice", "Alice", channel="")
            [result] = await harness.replies(1)
            return prompt, result
        finally:
            await harness.stop()

    prompt, result = run(main())
    assert (prompt.user, prompt.channel) == ("alice", "")
    assert result.text == "alice said Alice"


def test_a_waiting_prompt_does_not_stop_others_being_answered(harness) -> None:
    harness.extension("plugin", "quiz", ASK)

    async def main():
        await harness.start()
        try:
            await harness.send("bob", ";ask color")
            await harness.replies(1)
            return await harness.texts("alice", ";ping")
        finally:
            await harness.stop()

    assert run(main()) == ["PONG"]


def test_killing_a_prompting_pipeline_releases_its_waiter(harness) -> None:
    harness.extension("plugin", "quiz", ASK)

    async def main():
        robot = await harness.start()
        try:
            await harness.send("bob", ";ask color")
            await harness.replies(1)
            [pipeline] = [p for p in robot.pipelines.values() if p.starter.task.name == "quiz"]
            pipeline.kill("test")
            for _ in range(50):
                if not robot.pipelines:
                    break
                await asyncio.sleep(0.1)
            return dict(robot.waiters._waiting), dict(robot.pipelines)
        finally:
            await harness.stop()

    waiting, pipelines = run(main())
    assert waiting == {} and pipelines == {}


def test_subscribed_thread_routes_unaddressed_messages_to_the_plugin(harness) -> None:
    harness.extension(
        "plugin",
        "watch",
        "config: |\n  Commands: [{Command: watch, Regex: watch}, {Command: stop, Regex: stop}]\n"
        "commands:\n  watch:\n    - {call: [Subscribe], as: s}\n    - [SayThread, 'watching={s[bool]}']\n"
        "  stop:\n    - {call: [Unsubscribe], as: u}\n    - [SayThread, 'stopped={u[bool]}']\n"
        "  _subscribed:\n    - [SayThread, 'heard {args[1]}']\n",
    )

    async def main():
        await harness.start()
        try:
            texts = await harness.texts("bob", ";watch", threaded=True, thread_id="t5")
            texts += await harness.texts("alice", "deploy went fine", threaded=True, thread_id="t5")
            texts += await harness.texts("bob", ";stop", threaded=True, thread_id="t5")
            await harness.send("alice", "anyone there?", threaded=True, thread_id="t5")
            extra = await harness.connector.next_sent(0.5)
            return texts, extra
        finally:
            await harness.stop()

    texts, extra = run(main())
    assert texts == ["watching=True", "heard deploy went fine", "stopped=True"]
    assert extra is None
