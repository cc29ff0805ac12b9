"""The Robot API a task's child reaches through `robot_call`, checked and served by the parent.

Each method is declared with its positional argument types; the dispatcher validates and
coerces arguments (ints accept numeric strings, as upstream) before the method runs, so a
method body only sees well-typed values. Result keys follow the reference's catalogue and are
listed in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from burrow.brain import MessageContext as MemoryContext
from burrow.brain import SecretError
from burrow.connectors.base import OutgoingMessage
from burrow.constants import LogLevel, MessageFormat, RetVal, TaskRetVal
from burrow.engine.catalog import TaskKind
from burrow.engine.matching import match_commands
from burrow.engine.pipeline import LogBudget, Stage, TaskRun
from burrow.engine.prompts import judge_reply, prompt_key, reply_pattern
from burrow.rpc.errors import ErrorCode, RpcError
from burrow.runner.execution import RobotCall

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline

Result = dict[str, Any]
Handler = Callable[..., Awaitable[Result]]

_PARAMETER_NAME = re.compile(r"[A-Za-z][\w-]*\Z")


@dataclass(frozen=True)
class _Method:
    handler: Handler
    args: tuple[type, ...]
    optional: int = 0  # how many trailing args may be omitted
    tail: type | None = None  # type of any further args


_METHODS: dict[str, _Method] = {}


def robot_method(
    name: str, *args: type, optional: int = 0, tail: type | None = None
) -> Callable[[Handler], Handler]:
    """Declare a Robot API method served to children."""

    def register(handler: Handler) -> Handler:
        _METHODS[name] = _Method(handler, args, optional, tail)
        return handler

    return register


def served_methods() -> list[str]:
    """Names of every Robot method the parent serves."""
    return sorted(_METHODS)


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


class TaskApi:
    """The Robot API as served to one step of one pipeline."""

    def __init__(self, pipeline: Pipeline, step: TaskRun, budget: LogBudget) -> None:
        self.pipeline = pipeline
        self.step = step
        self.robot = pipeline.robot
        self.budget = budget  # shared with the child's $/log and stderr lines

    async def robot_call(self, call: RobotCall) -> Result:
        """Serve one robot_call."""
        method = _METHODS.get(call.method)
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


# -- messaging -----------------------------------------------------------------------------------


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


# -- identity and attributes ----------------------------------------------------------------


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


# -- configuration and parameters ------------------------------------------------------------


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


# -- pipelines -----------------------------------------------------------------------------------


def _check_addable(api: TaskApi, name: str, kinds: tuple[TaskKind, ...]) -> tuple[RetVal, Any]:
    pipeline = api.pipeline
    if pipeline.stage is not Stage.PRIMARY:
        return RetVal.InvalidStage, None
    task = api.robot.catalog.get(name)
    if task is None:
        return RetVal.TaskNotFound, None
    if task.disabled:
        return RetVal.TaskDisabled, None
    if task.kind not in kinds:
        return RetVal.InvalidTaskType, None
    if task.privileged and not pipeline.privileged:
        return RetVal.PrivilegeViolation, None
    return RetVal.Ok, task


async def _add(
    api: TaskApi, queue: str, name: str, args: list[str], kinds: tuple[TaskKind, ...]
) -> Result:
    ret, task = _check_addable(api, name, kinds)
    if ret is not RetVal.Ok:
        return {"ret_val": ret}
    _enqueue(api.pipeline, queue, TaskRun(task, "", args))
    return {"ret_val": RetVal.Ok}


def _enqueue(pipeline: Pipeline, queue: str, run: TaskRun) -> None:
    if queue == "add":
        pipeline.next_tasks.append(run)
    elif queue == "final":
        pipeline.final_tasks.insert(0, run)  # final tasks run last-added first
    else:
        pipeline.fail_tasks.append(run)


def _queuing(queue: str, kind: TaskKind) -> Handler:
    async def handler(api: TaskApi, options: dict[str, Any], name: str, *args: str) -> Result:
        return await _add(api, queue, name, list(args), (kind,))

    return handler


# The AddTask family differs only in the queue it fills and the kind of task it takes.
for _name, _queue, _kind in (
    ("AddTask", "add", TaskKind.TASK),
    ("FinalTask", "final", TaskKind.TASK),
    ("FailTask", "fail", TaskKind.TASK),
    ("AddJob", "add", TaskKind.JOB),
):
    robot_method(_name, str, tail=str)(_queuing(_queue, _kind))


@robot_method("SpawnJob", str, tail=str)
async def _spawn_job(api: TaskApi, options: dict[str, Any], name: str, *args: str) -> Result:
    ret, task = _check_addable(api, name, (TaskKind.JOB,))
    if ret is not RetVal.Ok:
        return {"ret_val": ret}
    api.robot.start_pipeline(
        TaskRun(task, "", list(args)), api.pipeline.origin, automatic=True, trigger="spawned"
    )
    return {"ret_val": RetVal.Ok}


async def _add_command(api: TaskApi, queue: str, plugin: str, text: str) -> Result:
    if not plugin or not text:
        return {"ret_val": RetVal.MissingArguments}
    ret, task = _check_addable(api, plugin, (TaskKind.PLUGIN,))
    if ret is not RetVal.Ok:
        return {"ret_val": ret}
    assert task.routes is not None
    found = match_commands(text, [task.routes]).match
    if found is None:
        return {"ret_val": RetVal.CommandNotMatched}
    _enqueue(api.pipeline, queue, TaskRun(task, found.command, list(found.captures)))
    return {"ret_val": RetVal.Ok}


def _command_queuing(queue: str) -> Handler:
    async def handler(api: TaskApi, options: dict[str, Any], plugin: str, text: str) -> Result:
        return await _add_command(api, queue, plugin, text)

    return handler


for _name, _queue in (("AddCommand", "add"), ("FinalCommand", "final"), ("FailCommand", "fail")):
    robot_method(_name, str, str)(_command_queuing(_queue))


@robot_method("Exclusive", str, bool, optional=1)
async def _exclusive(
    api: TaskApi, options: dict[str, Any], tag: str, queue: bool = False
) -> Result:
    full = f"{api.step.task.namespace}:{tag}"
    if api.robot.exclusive.acquire(full, api.pipeline):
        return {"bool": True}
    if queue:
        api.pipeline.requeue_tag = full  # re-run this task from the start once it is free
    else:
        api.pipeline.abort = True
    return {"bool": False}


@robot_method("Elevate", bool, optional=1)
async def _elevate(api: TaskApi, options: dict[str, Any], immediate: bool = False) -> Result:
    pipeline = api.pipeline
    if pipeline.elevated:
        return {"bool": True}
    policy = api.step.task.policy
    elevator = (policy.elevator if policy is not None else "") or api.robot.config.default_elevator
    task = api.robot.catalog.get(elevator) if elevator else None
    if task is None or task.disabled:
        pipeline.log(LogLevel.Warn, "Elevate: no elevator configured; refusing (fails closed)")
        return {"bool": False}
    ret = await pipeline.run_callback(task, "_elevate", ["true" if immediate else "false"])
    pipeline.elevated = ret == TaskRetVal.Success
    return {"bool": pipeline.elevated}


# -- utilities -------------------------------------------------------------------------------


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


# -- prompting and thread subscriptions ----------------------------------------------------

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


def _thread(api: TaskApi, always: bool) -> str:
    m = api.pipeline.message
    return m.thread_id if (always or m.threaded) and m.channel else ""


@robot_method("PromptForReply", str, str)
async def _prompt_for_reply(api: TaskApi, options: dict[str, Any], label: str, text: str) -> Result:
    m = api.pipeline.message
    return await _prompt(api, options, label, m.user, m.channel, _thread(api, False), text)


@robot_method("PromptThreadForReply", str, str)
async def _prompt_thread(api: TaskApi, options: dict[str, Any], label: str, text: str) -> Result:
    m = api.pipeline.message
    return await _prompt(api, options, label, m.user, m.channel, _thread(api, True), text)


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


# -- long-term memory (docs/brain.md) --------------------------------------------------------


def _datums(api: TaskApi) -> Any:
    if api.robot.datums is None:
        raise RpcError(ErrorCode.INVALID_STATE, "the robot has no brain loaded")
    return api.robot.datums


@robot_method("CheckoutDatum", str, bool, optional=1)
async def _checkout_datum(
    api: TaskApi, options: dict[str, Any], key: str, rw: bool = False
) -> Result:
    found = await _datums(api).checkout(
        api.step.task.namespace, key, rw, owner=str(api.pipeline.id)
    )
    return {
        "ret_val": found.ret_val,
        "exists": found.exists,
        "lock_token": found.token,
        "datum": found.datum,
    }


@robot_method("UpdateDatum", str, str, object)
async def _update_datum(
    api: TaskApi, options: dict[str, Any], key: str, token: str, datum: Any
) -> Result:
    return {"ret_val": await _datums(api).update(api.step.task.namespace, key, token, datum)}


@robot_method("CheckinDatum", str, str)
async def _checkin_datum(api: TaskApi, options: dict[str, Any], key: str, token: str) -> Result:
    await _datums(api).checkin(api.step.task.namespace, key, token)
    return {"ok": True}


@robot_method("DeleteDatum", str)
async def _delete_datum(api: TaskApi, options: dict[str, Any], key: str) -> Result:
    ret = await _datums(api).delete(api.step.task.namespace, key, owner=str(api.pipeline.id))
    return {"ret_val": ret}


# -- short-term memory (docs/brain.md) -------------------------------------------------------


def _memory(api: TaskApi) -> tuple[Any, MemoryContext]:
    if api.robot.memory is None:
        raise RpcError(ErrorCode.INVALID_STATE, "the robot has no brain loaded")
    m = api.pipeline.message
    return api.robot.memory, MemoryContext(m.user, m.channel, m.thread_id, m.threaded, m.protocol)


def _required(method: str, **values: str) -> None:
    for name, value in values.items():
        if not value:
            raise RpcError(ErrorCode.INVALID_PARAMS, f"{method}: {name} must not be empty")


@robot_method("Remember", str, str, bool, optional=1)
async def _remember(
    api: TaskApi, options: dict[str, Any], key: str, value: str, shared: bool = False
) -> Result:
    _required("Remember", key=key)
    memory, context = _memory(api)
    return {"ok": await memory.remember(context, key, value, shared=shared)}


@robot_method("RememberThread", str, str, bool, optional=1)
async def _remember_thread(
    api: TaskApi, options: dict[str, Any], key: str, value: str, shared: bool = False
) -> Result:
    _required("RememberThread", key=key)
    memory, context = _memory(api)
    return {"ok": await memory.remember_thread(context, key, value, shared=shared)}


@robot_method("RememberContext", str, str)
async def _remember_context(api: TaskApi, options: dict[str, Any], name: str, value: str) -> Result:
    _required("RememberContext", context=name)
    memory, context = _memory(api)
    return {"ok": await memory.remember_context(context, name, value)}


@robot_method("RememberContextThread", str, str)
async def _remember_context_thread(
    api: TaskApi, options: dict[str, Any], name: str, value: str
) -> Result:
    _required("RememberContextThread", context=name)
    memory, context = _memory(api)
    return {"ok": await memory.remember_context_thread(context, name, value)}


@robot_method("Recall", str, bool, optional=1)
async def _recall(api: TaskApi, options: dict[str, Any], key: str, shared: bool = False) -> Result:
    memory, context = _memory(api)
    return {"string": memory.recall(context, key, shared=shared)}


@robot_method("DeleteMemory", str, bool, optional=1)
async def _delete_memory(
    api: TaskApi, options: dict[str, Any], key: str, shared: bool = False
) -> Result:
    memory, context = _memory(api)
    return {"ok": await memory.delete_memory(context, key, shared=shared)}


# -- secrets ---------------------------------------------------------------------------------


@robot_method("EncryptSecret", str)
async def _encrypt_secret(api: TaskApi, options: dict[str, Any], plaintext: str) -> Result:
    if not api.pipeline.privileged:
        return {"ciphertext": "", "ret_val": RetVal.PrivilegeViolation}
    box = api.robot.secrets
    if box is None or not plaintext:
        api.pipeline.log(LogLevel.Error, "EncryptSecret: no encryption key (BURROW_ENCRYPTION_KEY)")
        return {"ciphertext": "", "ret_val": RetVal.Failed}
    try:
        return {"ciphertext": box.encrypt_secret(plaintext), "ret_val": RetVal.Ok}
    except SecretError as exc:
        api.pipeline.log(LogLevel.Error, f"EncryptSecret: {exc}")
        return {"ciphertext": "", "ret_val": RetVal.Failed}
