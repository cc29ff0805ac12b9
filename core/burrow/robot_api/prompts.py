"""Prompting for replies and thread subscriptions (docs/protocol.md, "Prompts")."""

from __future__ import annotations

from typing import Any

from burrow.connectors.base import OutgoingMessage
from burrow.constants import RetVal
from burrow.engine.catalog import TaskKind
from burrow.engine.prompts import judge_reply, prompt_key, reply_pattern
from burrow.robot_api.api import Result, TaskApi, robot_method

PROMPT_TRIES = 3


async def _prompt(
    api: TaskApi,
    options: dict[str, Any],
    label: str,
    user: str,
    channel: str,
    thread: str,
    text: str,
) -> Result:
    task = api.step.task
    plugin_matchers = [
        (m.label, m.regex) for m in (task.plugin.reply_matchers if task.plugin else [])
    ]
    pattern = reply_pattern(label, plugin_matchers)
    if pattern is None:
        return {"reply": "", "ret_val": RetVal.MatcherNotFound}
    protocol = api.pipeline.message.protocol
    key = prompt_key(protocol, user, channel, thread if channel else "")
    for _ in range(PROMPT_TRIES):
        message = OutgoingMessage(
            text=text,
            channel=channel,
            user=user,
            thread_id=thread if channel else "",
            threaded=bool(thread and channel),
        )
        sent = await api.send(options, message)
        if sent["ret_val"] != RetVal.Ok:
            return {"reply": "", "ret_val": sent["ret_val"]}
        answer, ret = await api.robot.waiters.wait(key, api.pipeline, api.robot.reply_timeout)
        if ret == RetVal.RetryPrompt:
            continue  # another prompt got that message first: ask again
        if ret != RetVal.Ok:
            return {"reply": "", "ret_val": ret}
        reply, verdict = judge_reply(answer, pattern)
        return {"reply": reply, "ret_val": verdict}
    return {"reply": "", "ret_val": RetVal.RetryPrompt}


def _here(api: TaskApi, options: dict[str, Any], thread: bool) -> tuple[str, str]:
    """The channel and thread of a prompt to the message's user, as upstream's Robot's.

    A Direct() Robot has no channel, so it asks (and waits for the answer) in a direct
    message; a Threaded() one asks in the message's thread, as PromptThreadForReply does.
    """
    m = api.pipeline.message
    if options.get("direct") is True or not m.channel:
        return "", ""
    in_thread = thread or m.threaded or options.get("threaded") is True
    return m.channel, m.thread_id if in_thread else ""


@robot_method("PromptForReply", str, str)
async def _prompt_for_reply(api: TaskApi, options: dict[str, Any], label: str, text: str) -> Result:
    channel, thread = _here(api, options, False)
    return await _prompt(api, options, label, api.pipeline.message.user, channel, thread, text)


@robot_method("PromptThreadForReply", str, str)
async def _prompt_thread(api: TaskApi, options: dict[str, Any], label: str, text: str) -> Result:
    channel, thread = _here(api, options, True)
    return await _prompt(api, options, label, api.pipeline.message.user, channel, thread, text)


@robot_method("PromptUserForReply", str, str, str)
async def _prompt_user(
    api: TaskApi, options: dict[str, Any], label: str, user: str, text: str
) -> Result:
    return await _prompt(api, options, label, user, "", "", text)


@robot_method("PromptUserChannelForReply", str, str, str, str)
async def _prompt_user_channel(
    api: TaskApi, options: dict[str, Any], label: str, user: str, channel: str, text: str
) -> Result:
    return await _prompt(api, options, label, user, channel, "", text)


@robot_method("PromptUserChannelThreadForReply", str, str, str, str, str)
async def _prompt_user_channel_thread(
    api: TaskApi,
    options: dict[str, Any],
    label: str,
    user: str,
    channel: str,
    thread: str,
    text: str,
) -> Result:
    return await _prompt(api, options, label, user, channel, thread, text)


@robot_method("Subscribe")
async def _subscribe(api: TaskApi, options: dict[str, Any]) -> Result:
    m = api.pipeline.message
    if not m.channel or api.step.task.kind is not TaskKind.PLUGIN:
        return {"bool": False}
    api.robot.subscriptions[(m.protocol, m.channel, m.thread_id)] = api.step.task.name
    return {"bool": True}


@robot_method("Unsubscribe")
async def _unsubscribe(api: TaskApi, options: dict[str, Any]) -> Result:
    m = api.pipeline.message
    key = (m.protocol, m.channel, m.thread_id)
    if api.robot.subscriptions.get(key) != api.step.task.name:
        return {"bool": False}
    del api.robot.subscriptions[key]
    return {"bool": True}
