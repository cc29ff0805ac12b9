"""Helpers of the Lua binding tests: a Robot API double and the record of one Lua run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burrow.runner.execution import ExecutionResult, RobotCall

LUAKIT = Path(__file__).parent / "luakit"  # report.lua, on every test's lib path

# Upstream's import line, for scripts that use the library.
PRELUDE = (
    'local gopherbot = require "gopherbot_v1"; local report = require "report"; '
    "local ret, task, log, fmt, proto, Robot = gopherbot.ret, gopherbot.task, gopherbot.log, "
    "gopherbot.fmt, gopherbot.proto, gopherbot.Robot; local bot = Robot:new()\n"
)


class CannedRobot:
    """A Robot API double: records every call and answers a canned result per method."""

    def __init__(self) -> None:
        self.calls: list[RobotCall] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, Exception] = {}
        self.on_call: Callable[[RobotCall], Awaitable[None]] | None = None

    async def robot_call(self, call: RobotCall) -> dict[str, Any]:
        self.calls.append(call)
        if self.on_call is not None:
            await self.on_call(call)
        if call.method in self.failures:
            raise self.failures[call.method]
        return self.answers.get(call.method, {"ret_val": 0})


@dataclass
class LuaRun:
    """How one Lua execution ended, what it asked the robot and what it logged."""

    result: ExecutionResult
    calls: list[RobotCall]
    logs: list[tuple[int, str]] = field(default_factory=list)

    @property
    def reports(self) -> list[list[Any]]:
        """The values passed to `report(...)`, one list per call, in order."""
        prefix = "REPORT "
        return [json.loads(m[len(prefix) :]) for _, m in self.logs if m.startswith(prefix)]

    @property
    def report(self) -> list[Any]:
        """The values of the only `report(...)` call."""
        assert len(self.reports) == 1, self.logs
        return self.reports[0]

    @property
    def printed(self) -> list[str]:
        return [m for level, m in self.logs if level == 2 and not m.startswith("REPORT ")]

    @property
    def errors(self) -> list[str]:
        return [m for level, m in self.logs if level == 5]

    @property
    def error_data(self) -> dict[str, Any]:
        assert self.result.error is not None, self.result
        data = self.result.error.data
        assert isinstance(data, dict)
        return data


BOT = {
    "user": "alice",
    "user_id": "<U001>",
    "channel": "general",
    "channel_id": "<C001>",
    "thread_id": "0042",
    "message_id": "0041",
    "threaded_message": False,
    "protocol": "test",
    "brain": "mem",
}
