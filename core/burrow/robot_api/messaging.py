"""Messaging: Say, Reply and the Send* family (reference 2.3; docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from burrow.connectors.base import OutgoingMessage
from burrow.constants import RetVal
from burrow.robot_api.api import Result, TaskApi, robot_method


def _here(
    api: TaskApi, options: dict[str, Any], text: str, *, to_user: bool, thread: bool
) -> OutgoingMessage:
    m = api.pipeline.message
    direct = bool(options.get("direct")) or m.channel == ""
    if direct:
        return OutgoingMessage(text=text, user=m.user, hidden=False)
    threaded = thread or m.threaded or bool(options.get("threaded"))
    return OutgoingMessage(
        text=text,
        channel=m.channel,
        user=m.user if to_user else "",
        thread_id=m.thread_id if threaded else "",
        threaded=threaded,
        hidden=m.hidden,
    )


@robot_method("Say", str)
async def _say(api: TaskApi, options: dict[str, Any], text: str) -> Result:
    return await api.send(options, _here(api, options, text, to_user=False, thread=False))


@robot_method("SayThread", str)
async def _say_thread(api: TaskApi, options: dict[str, Any], text: str) -> Result:
    return await api.send(options, _here(api, options, text, to_user=False, thread=True))


@robot_method("Reply", str)
async def _reply(api: TaskApi, options: dict[str, Any], text: str) -> Result:
    return await api.send(options, _here(api, options, text, to_user=True, thread=False))


@robot_method("ReplyThread", str)
async def _reply_thread(api: TaskApi, options: dict[str, Any], text: str) -> Result:
    return await api.send(options, _here(api, options, text, to_user=True, thread=True))


@robot_method("SendChannelMessage", str, str)
async def _send_channel(api: TaskApi, options: dict[str, Any], channel: str, text: str) -> Result:
    return await _send_user_channel_thread(api, options, "", channel, "", text)


@robot_method("SendChannelThreadMessage", str, str, str)
async def _send_channel_thread(
    api: TaskApi, options: dict[str, Any], channel: str, thread: str, text: str
) -> Result:
    return await _send_user_channel_thread(api, options, "", channel, thread, text)


@robot_method("SendUserMessage", str, str)
async def _send_user(api: TaskApi, options: dict[str, Any], user: str, text: str) -> Result:
    return await _send_user_channel_thread(api, options, user, "", "", text)


@robot_method("SendUserChannelMessage", str, str, str)
async def _send_user_channel(
    api: TaskApi, options: dict[str, Any], user: str, channel: str, text: str
) -> Result:
    return await _send_user_channel_thread(api, options, user, channel, "", text)


@robot_method("SendUserChannelThreadMessage", str, str, str, str)
async def _send_user_channel_thread(
    api: TaskApi,
    options: dict[str, Any],
    user: str,
    channel: str,
    thread: str,
    text: str,
    protocol: str = "",
) -> Result:
    if not user and not channel:
        return {"ret_val": RetVal.MissingArguments}
    message = OutgoingMessage(
        text=text,
        channel=channel,
        user=user,
        thread_id=thread if channel else "",
        threaded=bool(thread and channel),
    )
    return await api.send(options, message, protocol)


@robot_method("SendProtocolUserChannelMessage", str, str, str, str)
async def _send_protocol(
    api: TaskApi, options: dict[str, Any], protocol: str, user: str, channel: str, text: str
) -> Result:
    if protocol.lower() not in api.robot.connectors:
        return {"ret_val": RetVal.Failed}
    return await _send_user_channel_thread(api, options, user, channel, "", text, protocol.lower())
