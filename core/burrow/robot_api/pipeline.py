"""Pipelines: the AddTask and AddCommand families, SpawnJob, Exclusive and Elevate.

Reference 5.3 and 5.4: tasks are added only while the primary list runs, and only tasks the
pipeline may run (kind, enabled, privilege).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from burrow.constants import RetVal
from burrow.engine.catalog import TaskKind
from burrow.engine.matching import match_commands
from burrow.engine.pipeline import Stage, TaskRun
from burrow.robot_api.api import Handler, Result, TaskApi, robot_method

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline


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
    api.pipeline.spawn(TaskRun(task, "", list(args)))
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
        api.pipeline.abort_tag = full  # a job's end names it (engine/announce.py)
    return {"bool": False}


@robot_method("Elevate", bool, optional=1)
async def _elevate(api: TaskApi, options: dict[str, Any], immediate: bool = False) -> Result:
    # The elevator is asked every time, as upstream: it decides whether an earlier elevation
    # still holds (an immediate one never does). Without an elevator it fails closed.
    return {"bool": await api.pipeline.elevate(api.step.task, immediate)}
