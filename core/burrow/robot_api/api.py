"""The declaration machinery of the Robot API: one table of methods, checked arguments, TaskApi.

Each method group (messaging.py, attributes.py, ...) declares its methods with `robot_method`,
giving their positional argument types; `TaskApi.robot_call` validates and coerces arguments
(ints accept numeric strings, as upstream) before a method runs, so a method body only sees
well-typed values. `METHODS` is the one table of every method served: dispatcher.py imports
every group into it, and docs/protocol.md lists each one's result keys (tests/e2e/test_docs.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from burrow.connectors.base import OutgoingMessage
from burrow.constants import LogLevel, MessageFormat, RetVal
from burrow.engine.pipeline import LogBudget, TaskRun
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.execution import RobotCall

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline

__all__ = ["METHODS", "Handler", "Result", "TaskApi", "required", "robot_method", "served_methods"]

Result = dict[str, Any]
Handler = Callable[..., Awaitable[Result]]


@dataclass(frozen=True)
class _Method:
    handler: Handler
    args: tuple[type, ...]
    optional: int = 0  # how many trailing args may be omitted
    tail: type | None = None  # type of any further args


METHODS: dict[str, _Method] = {}


def robot_method(
    name: str, *args: type, optional: int = 0, tail: type | None = None
) -> Callable[[Handler], Handler]:
    """Declare a Robot API method served to children."""

    def register(handler: Handler) -> Handler:
        if name in METHODS:
            raise ValueError(f"Robot method {name!r} is declared twice")
        METHODS[name] = _Method(handler, args, optional, tail)
        return handler

    return register


def served_methods() -> list[str]:
    """Names of every Robot method declared so far (dispatcher.py declares them all)."""
    return sorted(METHODS)


def _coerce(method: str, index: int, value: Any, kind: type) -> Any:
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and not isinstance(value, bool):
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, str):
        return value
    if kind is list and isinstance(value, list):
        return value
    if kind is object:
        return value
    raise RpcError(
        ErrorCode.INVALID_PARAMS,
        f"{method}: argument {index + 1} must be {kind.__name__}, got {type(value).__name__}",
    )


def _validate(name: str, method: _Method, args: list[Any]) -> list[Any]:
    required = len(method.args) - method.optional
    if len(args) < required or (method.tail is None and len(args) > len(method.args)):
        expected = f"{required}" if not method.optional else f"{required}-{len(method.args)}"
        raise RpcError(
            ErrorCode.INVALID_PARAMS, f"{name} takes {expected} arguments, got {len(args)}"
        )
    out = []
    for index, value in enumerate(args):
        kind = method.args[index] if index < len(method.args) else method.tail
        assert kind is not None
        out.append(_coerce(name, index, value, kind))
    return out


def required(method: str, **values: str) -> None:
    """Refuse (`invalid_params`) an empty value of an argument that must have one."""
    for name, value in values.items():
        if not value:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{method}: {name} must not be empty")


class TaskApi:
    """The Robot API as served to one step of one pipeline."""

    def __init__(self, pipeline: Pipeline, step: TaskRun, budget: LogBudget) -> None:
        self.pipeline = pipeline
        self.step = step
        self.robot = pipeline.robot
        self.budget = budget  # shared with the child's $/log and stderr lines

    async def robot_call(self, call: RobotCall) -> Result:
        """Serve one robot_call."""
        method = METHODS.get(call.method)
        if method is None:
            raise RpcError(ErrorCode.METHOD_NOT_FOUND, f"unsupported robot call {call.method!r}")
        args = _validate(call.method, method, call.args)
        return await method.handler(self, call.options, *args)

    # -- helpers ------------------------------------------------------------------------

    def format_of(self, options: dict[str, Any]) -> MessageFormat:
        """The message format asked for, else the robot's default."""
        value = options.get("format")
        if isinstance(value, int) and value in MessageFormat._value2member_map_:
            return MessageFormat(value)
        return self.robot.default_format

    async def send(
        self, options: dict[str, Any], message: OutgoingMessage, protocol: str = ""
    ) -> Result:
        """Send unless empty; return `{ret_val}`."""
        if not message.text:
            self.pipeline.log(
                LogLevel.Warn, f"{self.step.task.name} tried to send an empty message"
            )
            return {"ret_val": RetVal.Failed}
        message = OutgoingMessage(
            text=message.text,
            channel=message.channel,
            user=message.user,
            thread_id=message.thread_id,
            threaded=message.threaded,
            format=self.format_of(options),
            hidden=message.hidden,
        )
        ret = await self.robot.send(protocol or self.pipeline.message.protocol, message)
        return {"ret_val": int(ret)}
