"""What a built-in plugin needs of its pipeline beyond `say` and `reply`: prompting, admin.

A built-in runs in the robot's process, so it reaches the robot directly rather than through
Robot API calls; these helpers keep the same rules as the Robot API served to children
(robot_api/dispatcher.py): a prompt waits on the same `ReplyWaiters` under the same key, for
the same time, with the same stock reply matchers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from burrow.connectors.base import OutgoingMessage
from burrow.constants import RetVal
from burrow.engine import events
from burrow.engine.prompts import judge_reply, prompt_key, reply_pattern

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline

__all__ = ["PROMPT_TRIES", "check_admin", "prompt_for_reply"]

PROMPT_TRIES = 3  # as the Robot API: another prompt taking the answer first means ask again


def check_admin(pipeline: Pipeline) -> bool:
    """`CheckAdmin` for the pipeline's user; a pipeline that acts for nobody is the robot's.

    As upstream's Robot.CheckAdmin (bot/robot.go), a check for a user records its event
    (`AdminCheckPassed`/`AdminCheckFailed`, engine/events.py).
    """
    user = pipeline.message.user
    if not user:
        return True
    admin = pipeline.robot.is_admin(user)
    pipeline.record(events.admin_check(True, admin))
    return admin


async def prompt_for_reply(
    pipeline: Pipeline, label: str, text: str, *, direct: bool = False
) -> tuple[str, RetVal]:
    """`PromptForReply(label, text)` for the pipeline's user, or `Direct().PromptForReply`.

    `label` names a stock reply matcher (`OTP`, `YesNo`, ...). Returns the reply and Ok, or
    "" and why not (TimeoutExpired, ReplyNotMatched, Interrupted, ...).
    """
    robot = pipeline.robot
    m = pipeline.message
    pattern = reply_pattern(label, ())
    if pattern is None:
        return "", RetVal.MatcherNotFound
    channel = "" if direct else m.channel
    thread = m.thread_id if channel and m.threaded else ""
    key = prompt_key(m.protocol, m.user, channel, thread)
    for _ in range(PROMPT_TRIES):
        sent = await robot.send(
            m.protocol,
            OutgoingMessage(
                text=text,
                channel=channel,
                user=m.user,
                thread_id=thread,
                threaded=bool(thread),
                format=robot.default_format,
            ),
        )
        if sent != RetVal.Ok:
            return "", sent
        answer, ret = await robot.waiters.wait(key, pipeline, robot.reply_timeout)
        if ret == RetVal.RetryPrompt:
            continue
        if ret != RetVal.Ok:
            return "", ret
        return judge_reply(answer, pattern)
    return "", RetVal.RetryPrompt
