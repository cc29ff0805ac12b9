"""Utilities: Log, RandomInt, RandomString, Pause."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from burrow.constants import LogLevel
from burrow.robot_api.api import Result, TaskApi, robot_method


@robot_method("Log", int, str)
async def _log(api: TaskApi, options: dict[str, Any], level: int, text: str) -> Result:
    api.budget.log(level if level in LogLevel._value2member_map_ else LogLevel.Info, text)
    return {"bool": True}


@robot_method("RandomInt", int)
async def _random_int(api: TaskApi, options: dict[str, Any], n: int) -> Result:
    return {"int": random.randrange(n) if n > 0 else 0}


@robot_method("RandomString", list)
async def _random_string(api: TaskApi, options: dict[str, Any], choices: list[Any]) -> Result:
    strings = [c for c in choices if isinstance(c, str)]
    return {"string": random.choice(strings) if strings else ""}


@robot_method("Pause", float)
async def _pause(api: TaskApi, options: dict[str, Any], seconds: float) -> Result:
    await asyncio.sleep(max(0.0, min(seconds, 3600.0)))
    return {"ok": True}
