"""Attributes and the message: GetBotAttribute, GetUserAttribute, CheckAdmin, GetMessage.

Reference 2.3: attribute keys are case-insensitive; a user's come from the UserRoster first,
then the connector.
"""

from __future__ import annotations

from typing import Any

from burrow.constants import RetVal
from burrow.engine.builtin_plugins.chat import check_admin
from burrow.robot_api.api import Result, TaskApi, robot_method


@robot_method("GetBotAttribute", str)
async def _bot_attribute(api: TaskApi, options: dict[str, Any], attribute: str) -> Result:
    value = api.robot.bot_attribute(attribute.lower())
    if value is None:
        return {"attribute": "", "ret_val": RetVal.AttributeNotFound}
    return {"attribute": value, "ret_val": RetVal.Ok}


async def _user_attribute(api: TaskApi, user: str, attribute: str) -> Result:
    value, ret = api.robot.user_attribute(api.pipeline.message.protocol, user, attribute.lower())
    return {"attribute": value, "ret_val": int(ret)}


@robot_method("GetUserAttribute", str, str)
async def _get_user_attribute(
    api: TaskApi, options: dict[str, Any], user: str, attribute: str
) -> Result:
    return await _user_attribute(api, user, attribute)


@robot_method("GetSenderAttribute", str)
async def _get_sender_attribute(api: TaskApi, options: dict[str, Any], attribute: str) -> Result:
    return await _user_attribute(api, api.pipeline.message.user, attribute)


@robot_method("CheckAdmin")
async def _check_admin(api: TaskApi, options: dict[str, Any]) -> Result:
    # A pipeline that acts for nobody (a schedule, @init) runs as the robot; one that acts for
    # a user, however it started (a spawned or triggered job too), is that user's, and the
    # check records AdminCheckPassed/AdminCheckFailed as upstream's Robot.CheckAdmin does.
    return {"bool": check_admin(api.pipeline)}


@robot_method("GetMessage")
async def _get_message(api: TaskApi, options: dict[str, Any]) -> Result:
    # The message as it came in, in the Robot's format (a Fixed() Robot's is Fixed, as
    # upstream's); a binding blanks the channel of a Direct() Robot itself.
    m = api.pipeline.message
    return {
        "message": {
            "user": m.user,
            "protocol_user": m.user_id,
            "channel": m.channel,
            "protocol_channel": m.channel_id,
            "protocol": m.protocol,
            "format": int(api.format_of(options)),
        }
    }
