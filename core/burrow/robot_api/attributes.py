"""Attributes and the message: GetBotAttribute, GetUserAttribute, CheckAdmin, GetMessage.

Reference 2.3: attribute keys are case-insensitive; a user's come from the UserRoster first,
then the connector.
"""

from __future__ import annotations

from typing import Any

from burrow.constants import RetVal
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
    # a user, however it started (a spawned or triggered job too), is that user's.
    user = api.pipeline.message.user
    return {"bool": api.robot.is_admin(user) if user else True}


@robot_method("GetMessage")
async def _get_message(api: TaskApi, options: dict[str, Any]) -> Result:
    m = api.pipeline.message
    return {
        "message": {
            "user": m.user,
            "protocol_user": m.user_id,
            "channel": m.channel,
            "protocol_channel": m.channel_id,
            "protocol": m.protocol,
            "format": int(api.robot.default_format),
        }
    }
