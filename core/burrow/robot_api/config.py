"""Configuration and parameters: GetTaskConfig, GetParameter, SetParameter, SetWorkingDirectory."""

from __future__ import annotations

import re
from typing import Any

from burrow.constants import RetVal
from burrow.robot_api.api import Result, TaskApi, robot_method

_PARAMETER_NAME = re.compile(r"[A-Za-z][\w-]*\Z")


@robot_method("GetTaskConfig")
async def _get_task_config(api: TaskApi, options: dict[str, Any]) -> Result:
    config = api.step.task.config
    if config is None:
        return {"ret_val": RetVal.NoConfigFound, "config": None}
    return {"ret_val": RetVal.Ok, "config": config}


@robot_method("GetParameter", str)
async def _get_parameter(api: TaskApi, options: dict[str, Any], name: str) -> Result:
    return {"string": api.pipeline.visible_parameters(api.step.task).get(name, "")}


@robot_method("SetParameter", str, str)
async def _set_parameter(api: TaskApi, options: dict[str, Any], name: str, value: str) -> Result:
    if not _PARAMETER_NAME.match(name):
        return {"bool": False}
    api.pipeline.parameters[name] = value
    return {"bool": True}


@robot_method("SetWorkingDirectory", str)
async def _set_working_directory(api: TaskApi, options: dict[str, Any], path: str) -> Result:
    # Relative to the pipeline's base directory, and never outside it: the child's directory
    # changes, the robot's never does.
    base = api.pipeline.base_workdir.resolve()
    try:
        target = (base / path).resolve() if path not in ("", ".") else base
    except (ValueError, RuntimeError, OSError):  # a NUL in the name, a symbolic link loop
        return {"bool": False}
    if not (target == base or base in target.parents) or not target.is_dir():
        return {"bool": False}
    api.pipeline.workdir = target
    return {"bool": True}
