"""Built-in commands: ordinary plugins that run in the robot's process (not file-backed).

They are matched, authorized and run through pipelines exactly like extension plugins, so an
operator's `AdminUsers` and the policy checks apply to them as to anything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from burrow.constants import TaskRetVal
from burrow.engine.builtin_plugins import builtin_plugin_tasks
from burrow.engine.catalog import BuiltinHandler, TaskDef, TaskKind
from burrow.engine.help_groups import UserGroups
from burrow.engine.matching import CommandMatcher, PluginRoutes
from burrow.engine.pipeline import INIT_COMMAND
from burrow.engine.policy import (
    MessageContext,
    PluginPolicy,
    check_job,
    user_can_access,
)

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline, TaskRun


async def _ping(pipeline: Pipeline, run: TaskRun) -> int:
    await pipeline.reply("PONG")
    return TaskRetVal.Normal


async def _help(pipeline: Pipeline, run: TaskRun) -> int:
    robot = pipeline.robot
    alias = robot.config.alias or f"{robot.name}, "
    keyword = run.args[0].strip().lower() if run.args and run.args[0] else ""
    user = pipeline.message.user
    # What is hidden from the user (Users, RequireAdmin) is not listed either. AdminCommands
    # are listed to everyone, as upstream's help lists them (bot/builtins.go,
    # collectHelpCommandMetadata): running one is what is refused to a non-administrator.
    context = MessageContext(user, pipeline.origin.channel, is_admin=robot.is_admin(user))
    groups = UserGroups(pipeline)  # and commands of a group the user is not in (help_groups)
    lines = []
    for task in robot.catalog.plugins():
        policy = task.policy
        if policy is not None and not user_can_access(policy, context):
            continue
        settings = task.plugin
        if settings is None:
            lines += [f"{alias}{usage}" for usage in _BUILTIN_USAGE.get(task.name, ())]
            continue
        for matcher in settings.commands:
            if policy is not None and await groups.hides(policy, matcher.command):
                continue
            text = matcher.usage or matcher.command
            summary = f" - {matcher.summary}" if matcher.summary else ""
            lines.append(f"{alias}{text}{summary} ({task.name})")
    if keyword:
        lines = [line for line in lines if keyword in line.lower()]
    if not lines:
        await pipeline.reply(f"Sorry, no help matches '{keyword}'")
        return TaskRetVal.Normal
    await pipeline.reply("Here's what I can do:\n" + "\n".join(lines))
    return TaskRetVal.Normal


async def _ps(pipeline: Pipeline, run: TaskRun) -> int:
    slots = pipeline.robot.slots
    rows = ["ID    PLUGIN/JOB          USER        AGE    STATE"]
    for other in sorted(pipeline.robot.pipelines.values(), key=lambda p: p.id):
        step = other.current or other.starter
        queued = slots.waiting(other.id)
        if queued is not None:
            state = f"queued {queued[1]:.0f}s (#{queued[0]})"
        else:
            state = "running" if slots.holds(other.id) else "-"
        rows.append(
            f"{other.id:<5} {step.task.name:<19} {other.message.user or '-':<11} "
            f"{f'{other.age:.0f}s':<6} {state}"
        )
    bound = f"of at most {slots.limit}" if slots.limit else "(no bound)"
    rows.append(f"children: {slots.running} running {bound}, {slots.queued} queued")
    await pipeline.reply("\n".join(rows))
    return TaskRetVal.Normal


async def _kill(pipeline: Pipeline, run: TaskRun) -> int:
    target_id = int(run.args[0])
    target = pipeline.robot.pipelines.get(target_id)
    if target is None or target is pipeline:
        await pipeline.reply(f"No running pipeline {target_id}; see 'ps'")
        return TaskRetVal.Fail
    target.kill(f"killed by {pipeline.message.user or 'the robot'}")
    await pipeline.reply(f"Killed pipeline {target_id} ({target.starter.task.name})")
    return TaskRetVal.Normal


async def _run_job(pipeline: Pipeline, run: TaskRun) -> int:
    robot = pipeline.robot
    name, args = run.args[0], run.args[1].split() if len(run.args) > 1 and run.args[1] else []
    job = robot.catalog.get(name)
    if job is None or job.kind is not TaskKind.JOB:
        await pipeline.reply(f"Sorry, there is no job '{name}'")
        return TaskRetVal.Fail
    if job.disabled:
        await pipeline.reply(f"Sorry, job '{name}' is disabled: {job.disabled}")
        return TaskRetVal.Fail
    settings = job.job
    user = pipeline.message.user
    if settings is not None:
        context = MessageContext(user, pipeline.message.channel, is_admin=robot.is_admin(user))
        verdict = check_job(name, settings.require_admin, settings.users, context)
        if verdict.refused:
            await pipeline.reply(verdict.message)
            return TaskRetVal.Fail
    from burrow.engine.pipeline import TaskRun as Run

    robot.start_pipeline(Run(job, "", args), pipeline.message, trigger="job-command")
    return TaskRetVal.Normal


_BUILTIN_USAGE = {
    "ping": ("ping - check that the robot is alive",),
    "help": ("help [keyword] - what the robot can do", "commands - the same, every command"),
    "admin": ("ps - list running pipelines (admins)", "kill <id> - stop a pipeline (admins)"),
    "jobs": ("run job <name> [args] - start a job",),
}


def _ignoring_init(handler: BuiltinHandler) -> BuiltinHandler:
    """Upstream's fixed built-ins ignore `_init`; the robot sends them none, and if one came
    anyway it would not say a word (ping would answer PONG to nobody)."""

    async def handle(pipeline: Pipeline, run: TaskRun) -> int:
        if run.command == INIT_COMMAND:
            return TaskRetVal.Normal
        return await handler(pipeline, run)

    return handle


def _builtin(
    name: str,
    handler: BuiltinHandler,
    commands: list[tuple[str, str]],
    *,
    admin: bool = False,
) -> TaskDef:
    return TaskDef(
        name=name,
        kind=TaskKind.PLUGIN,
        builtin=_ignoring_init(handler),
        routes=PluginRoutes(name, tuple(CommandMatcher(c, r) for c, r in commands)),
        policy=PluginPolicy(
            name=name, require_admin=admin, allowed_private_commands=frozenset({"*"})
        ),
    )


async def _admin(pipeline: Pipeline, run: TaskRun) -> int:
    handler = _ps if run.command == "ps" else _kill
    return await handler(pipeline, run)


def builtin_tasks() -> dict[str, TaskDef]:
    """The built-in plugins, by name: these, then the configurable ones (groups, TOTP)."""
    tasks = [
        _builtin("ping", _ping, [("ping", r"(?i:ping)")]),
        _builtin(
            "help", _help, [("help", r"(?i:help)(?:\s+(.+))?"), ("commands", r"(?i:commands?)")]
        ),
        _builtin("admin", _admin, [("ps", r"(?i:ps)"), ("kill", r"(?i:kill)\s+(\d+)")], admin=True),
        _builtin("jobs", _run_job, [("run", r"(?i:run\s+job)\s+([\w-]+)(?:\s+(.*))?")]),
        *builtin_plugin_tasks(),
    ]
    return {t.name: t for t in tasks}
