"""Memory: long-term datums and short-term memories (docs/brain.md)."""

from __future__ import annotations

from typing import Any

from burrow.brain import MessageContext as MemoryContext
from burrow.robot_api.api import Result, TaskApi, required, robot_method
from burrow.rpc.errors import ErrorCode, RpcError

# -- long-term memory ------------------------------------------------------------------------


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


# -- short-term memory -----------------------------------------------------------------------


def _memory(api: TaskApi) -> tuple[Any, MemoryContext]:
    if api.robot.memory is None:
        raise RpcError(ErrorCode.INVALID_STATE, "the robot has no brain loaded")
    m = api.pipeline.message
    return api.robot.memory, MemoryContext(m.user, m.channel, m.thread_id, m.threaded, m.protocol)


@robot_method("Remember", str, str, bool, optional=1)
async def _remember(
    api: TaskApi, options: dict[str, Any], key: str, value: str, shared: bool = False
) -> Result:
    required("Remember", key=key)
    memory, context = _memory(api)
    return {"ok": await memory.remember(context, key, value, shared=shared)}


@robot_method("RememberThread", str, str, bool, optional=1)
async def _remember_thread(
    api: TaskApi, options: dict[str, Any], key: str, value: str, shared: bool = False
) -> Result:
    required("RememberThread", key=key)
    memory, context = _memory(api)
    return {"ok": await memory.remember_thread(context, key, value, shared=shared)}


@robot_method("RememberContext", str, str)
async def _remember_context(api: TaskApi, options: dict[str, Any], name: str, value: str) -> Result:
    required("RememberContext", context=name)
    memory, context = _memory(api)
    return {"ok": await memory.remember_context(context, name, value)}


@robot_method("RememberContextThread", str, str)
async def _remember_context_thread(
    api: TaskApi, options: dict[str, Any], name: str, value: str
) -> Result:
    required("RememberContextThread", context=name)
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
