"""Pipelines: a starter task and the tasks it adds, run in order under one id and one log.

Ordering, as upstream: the primary list runs step by step; tasks added during a step run right
after it, before the next primary step; any step that does not return Normal ends the primary
list. Final tasks then all run (last added first), and fail tasks run in the order added when
the pipeline failed. See https://github.com/lnxjedi/gopherbot/blob/main/bot/robot_pipecmd.go.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from burrow.connectors.base import IncomingMessage, OutgoingMessage
from burrow.constants import LogLevel, MessageFormat, TaskRetVal
from burrow.engine import announce, events
from burrow.engine.catalog import TaskDef, TaskKind
from burrow.engine.logline import log_text
from burrow.engine.policy import (
    Callback,
    Decision,
    MessageContext,
    authorization_result,
    check_availability,
    check_command,
    check_job,
    check_unattended,
    elevation_result,
)
from burrow.runner.environment import PASSED_THROUGH
from burrow.runner.execution import Execution, ExecutionSpec

if TYPE_CHECKING:
    from burrow.engine.robot import Robot

log = logging.getLogger("burrow.pipeline")


# The command a plugin is run with at start-up (Robot.initialize_plugins), as Gopherbot's.
INIT_COMMAND = "_init"


class Stage(enum.StrEnum):
    """Where a pipeline is: the AddTask family is only allowed in the primary stage."""

    PRIMARY = "primary"
    FINAL = "final"
    FAIL = "fail"
    DONE = "done"


@dataclass
class TaskRun:
    """One step: a task and what it is run with."""

    task: TaskDef
    command: str = ""  # a plugin's matched command; "" for jobs and tasks
    args: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """What the extension receives: for a plugin the command first, then the captures."""
        if self.task.kind is TaskKind.PLUGIN:
            return [self.command, *self.args]
        return list(self.args)

    def describe(self) -> str:
        """`name command args` for logs."""
        return " ".join([self.task.name, *([self.command] if self.command else []), *self.args])


class Pipeline:
    """One running pipeline."""

    def __init__(
        self,
        robot: Robot,
        starter: TaskRun,
        message: IncomingMessage,
        *,
        automatic: bool = False,
        trigger: str = "command",
    ) -> None:
        self.robot = robot
        self.id = robot.new_pipeline_id()
        self.starter = starter
        self.message = message
        # Where the user acted: a job's message moves to the job's channel, but policy judges
        # the user in the place they started it from, and a spawned job inherits that place.
        self.origin = message
        # Nobody typed it (a schedule, @init, a spawned or triggered job): failures are not
        # answered. Policy does not depend on it: it follows `message.user` (docs/security.md).
        self.automatic = automatic
        self.trigger = trigger
        self.privileged = starter.task.privileged
        self.started = time.monotonic()
        self.started_at = time.time()
        self.parameters: dict[str, str] = {}
        self.base_workdir: Path = robot.home if starter.task.homed else robot.workspace
        self.workdir: Path = self.base_workdir
        self.stage = Stage.PRIMARY
        self.next_tasks: list[TaskRun] = []
        self.final_tasks: list[TaskRun] = []
        self.fail_tasks: list[TaskRun] = []
        self.elevated = False
        self.exclusive_tags: set[str] = set()
        self.requeue_tag: str | None = None
        self.abort = False
        self.current: TaskRun | None = None
        self.execution: Execution | None = None
        self.killed: str | None = None
        self.killed_event = asyncio.Event()
        self.last_error = ""
        # What the robot says about the pipeline (engine/announce.py): whether a job's start
        # was announced (then so is its end), what spawned it, the last primary step, the tag
        # an Exclusive was refused, whether the starter passed its checks and ran.
        self.verbose = False
        self.spawned_by: tuple[str, str] | None = None  # (pipeline, its description)
        self.final_step: TaskRun | None = None
        self.abort_tag = ""
        self.executed = False
        self.judged = False  # a job added with AddJob: its parent judged it already
        self.child: Pipeline | None = None  # such a job's pipeline, while it runs
        self._log_file = robot.pipeline_log_path(self.id)
        self._log_fd: int | None = None  # open while `run` runs the steps
        self._log_offset = 0  # bytes this pipeline wrote to its log
        self._keep_log_open = False

    # -- logging ---------------------------------------------------------------------------

    def log(self, level: int, message: str) -> int:
        """Add one line to this pipeline's log (and the robot's); return the bytes it took.

        `message` may carry an extension's text, so it goes through `log_text`: control
        characters and line breaks are escaped and it is cut at LINE_LIMIT bytes. Whatever it
        holds, it is one line that starts with the robot's timestamp, level and pipeline id.
        """
        text = log_text(message)
        name = _LEVEL_NAMES.get(level) or str(level)
        line = f"{_timestamp()} {name:5} [{self.id}] {text}\n"
        log.log(_PY_LEVELS.get(level, logging.INFO), "[%d] %s", self.id, text)
        data = line.encode()
        if self._log_file is not None:
            self._write_log(data)
        return len(data)

    def _write_log(self, data: bytes) -> None:
        """Write one line to the log file, whole, before returning (no buffer: a reader such
        as the failure alert's tail sees every line logged so far).

        While `run` runs the pipeline's steps the file stays open, instead of an open and a
        close per line; `run` closes it when the pipeline ends (`close_log`), and a line logged
        at any other time opens it for itself alone. A write that fails (a full disk) closes
        it and ends the file's logging, never the pipeline.

        Each line goes at the end of what this pipeline wrote (`pwrite`), not in append mode:
        a log reused from an old pipeline holds one placeholder byte, which the first line
        overwrites (engine/pipeline_logs.py says why it is not emptied).
        """
        assert self._log_file is not None
        try:
            fd = self._log_fd
            if fd is None:
                flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
                fd = os.open(self._log_file, flags, 0o644)
                if self._keep_log_open:
                    self._log_fd = fd
            try:
                written = 0
                while written < len(data):
                    count = os.pwrite(fd, data[written:], self._log_offset + written)
                    if not count:
                        raise OSError(f"{self._log_file}: nothing written")
                    written += count
                self._log_offset += written
            finally:
                if fd != self._log_fd:
                    os.close(fd)
        except OSError:
            self.close_log()
            self._log_file = None  # a full disk must not fail the pipeline

    def close_log(self) -> None:
        """Close the log file if it is open; later lines open it for themselves alone."""
        self._keep_log_open = False
        fd, self._log_fd = self._log_fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def record(self, event: events.Event | None, task: str = "") -> None:
        """Tell the message's connector what happened, if it records events (engine/events.py)."""
        if event is not None:
            events.emit(self.robot.connectors, self.message.protocol, event, task)

    @property
    def initializing(self) -> bool:
        """Whether this is a plugin's start-up `_init` pipeline (Robot.initialize_plugins)."""
        starter = self.starter
        return (
            starter.command == INIT_COMMAND
            and starter.task.kind is TaskKind.PLUGIN
            and self.automatic
            and not self.origin.user
        )

    @property
    def age(self) -> float:
        """Seconds since the pipeline started."""
        return time.monotonic() - self.started

    # -- running ---------------------------------------------------------------------------

    async def run(self) -> int:
        """Run the pipeline to its end and return its TaskRetVal."""
        task = self.starter.task
        self._keep_log_open = True  # one open for the whole run: `finally` below closes it
        try:
            self.log(
                LogLevel.Info,
                f"pipeline started by {self.message.user or 'the robot'} ({self.trigger}): "
                f"{self.starter.describe()}",
            )
            if task.kind is TaskKind.JOB:
                await self._start_job(task)
        except BaseException:
            self.close_log()
            raise
        ret: int = TaskRetVal.Normal
        failed: TaskRun | None = None
        try:
            primary = [self.starter]
            while primary:
                step = primary.pop(0)
                self.final_step = step
                ret = await self._run_step(step)
                added, self.next_tasks = self.next_tasks, []
                if self.killed is not None:
                    ret = TaskRetVal.PipelineAborted if ret == TaskRetVal.Normal else ret
                if ret != TaskRetVal.Normal:
                    failed = step
                    break
                primary[:0] = added
            self.stage = Stage.FINAL
            # A failed job that says what it does, and has no fail tasks, shows its log.
            show_log = (
                failed is not None and self._job_speaks(quiet_too=False) and not (self.fail_tasks)
            )
            for step in list(self.final_tasks):
                await self._run_step(step, cleanup=True)
            if failed is not None:
                self.stage = Stage.FAIL
                for step in list(self.fail_tasks):
                    await self._run_step(step, cleanup=True)
                if show_log:
                    await self._show_log(failed, ret)
                await self._alert_failure(failed, ret)
                await self._report_failure(failed, ret)
            if self._job_speaks(quiet_too=self.verbose):
                await self.say(self._job_finished(ret))
        finally:
            self.stage = Stage.DONE
            try:
                await self.robot.pipeline_ended(self)
                self.log(
                    LogLevel.Info,
                    f"pipeline ended: {ret_name(ret)}",
                )
            finally:
                self.close_log()
        return int(ret)

    async def _start_job(self, task: TaskDef) -> None:
        assert task.job is not None
        started_in = self.message.channel
        # A job reports in its own channel, outside any thread of the message that started it.
        self.message = dataclasses.replace(
            self.message,
            channel=task.job.channel,
            channel_id="",
            thread_id="",
            message_id="",
            threaded=False,
        )
        # As upstream: a Quiet job is still announced when a user asked for it by name.
        if not task.job.quiet or self.trigger == "job-command":
            self.verbose = True
            text = announce.job_started(
                task.name,
                self.starter.args,
                self.id,
                self.trigger,
                self.origin.user,
                started_in,
                self.spawned_by,
            )
            await self.say(text)

    def _job_speaks(self, *, quiet_too: bool) -> bool:
        """Whether this is a job that announces itself (a Quiet one only if `quiet_too`)."""
        job = self.starter.task.job
        return (
            self.starter.task.kind is TaskKind.JOB
            and job is not None
            and (not job.quiet or quiet_too)
        )

    def _job_finished(self, ret: int) -> str:
        final = self.final_step or self.starter
        spec = final.task.spec
        return announce.job_finished(
            self.starter.task.name,
            self.id,
            ret,
            str(final.task.kind),
            final.task.name,
            spec.description if spec is not None else "",
            self.abort_tag,
        )

    def spawn(self, run: TaskRun) -> Pipeline:
        """`SpawnJob`: start `run` (a job) as a pipeline of its own, for this one's user."""
        spec = self.starter.task.spec
        spawned = self.robot.start_pipeline(run, self.origin, automatic=True, trigger="spawned")
        spawned.spawned_by = (self.starter.task.name, spec.description if spec else "")
        return spawned

    async def _run_child_job(self, step: TaskRun) -> int:
        """A job added with AddJob runs as a pipeline of its own, as upstream: it switches to
        its channel, announces itself, has its own final and fail tasks; this pipeline goes on
        only if it ends Normal."""
        child = Pipeline(
            self.robot, step, self.message, automatic=self.automatic, trigger=self.trigger
        )
        child.origin = self.origin
        child.judged = True
        self.robot.pipelines[child.id] = child
        self.child = child
        try:
            return await child.run()
        finally:
            self.child = None

    async def _show_log(self, failed: TaskRun, ret: int) -> None:
        """Upstream's default fail tasks (send-message, tail-log): the failure and the log."""
        await self.say(announce.job_failed_note(failed.task.name, ret))
        excerpt = announce.log_tail(self._log_file)
        if excerpt:
            fixed = dataclasses.replace(
                self.message.answer(excerpt, addressed=False), format=MessageFormat.Fixed
            )
            await self.robot.send(self.message.protocol, fixed)

    async def _alert_failure(self, failed: TaskRun, ret: int) -> None:
        """Tell the operator channel (a job's own, else DefaultJobChannel) that it failed.

        As upstream's failure alert: only once the starter ran (a refused command is no
        failure of the pipeline), never for a pipeline that was killed.
        """
        if not self.executed or self.killed is not None:
            return
        job = self.starter.task.job
        channel = job.channel if job is not None else self.robot.config.default_job_channel
        if not channel:
            self.log(LogLevel.Warn, "no operator channel (DefaultJobChannel): failure not sent")
            return
        current = failed.task.name
        if failed.task.kind is TaskKind.PLUGIN and failed.command:
            current += f"/{failed.command}"
        text = announce.failure_alert(
            ret,
            self.id,
            self.starter.task.name,
            " ".join(part for part in [current, *failed.args] if part),
            self.started_at,
            self.age,
            self.last_error,
            announce.log_tail(self._log_file),
            self.robot.config.time_zone,
        )
        alert = OutgoingMessage(text=text, channel=channel, format=MessageFormat.BasicMarkdown)
        await self.robot.send(self.message.protocol, alert)

    async def _run_step(self, step: TaskRun, cleanup: bool = False) -> int:
        if self.killed is not None and not cleanup:
            return TaskRetVal.PipelineAborted
        task = step.task
        if task.disabled:
            self.log(LogLevel.Error, f"{task.name} is disabled: {task.disabled}")
            return TaskRetVal.ConfigurationError
        # The starter of an `_init` pipeline is the robot's own call (Gopherbot runs it as an
        # automatic task, unchecked): no authorizer or elevator is asked for it.
        unjudged = step is self.starter and (self.judged or self.initializing)
        if not unjudged:
            refusal = await self._check_policy(step)
            if refusal is not None:
                return refusal
        if step is self.starter:
            self.executed = True
            self.record(events.trigger_event(self.trigger, step.command))
        elif task.kind is TaskKind.JOB and not cleanup:
            return await self._run_child_job(step)
        # As upstream, a job that announces itself (or one asked for by name) says it waits.
        job = task.job
        tell = (task.kind is TaskKind.JOB and job is not None and not job.quiet) or (
            self.trigger == "job-command"
        )
        while True:
            ret = await self._execute(step)
            if self.requeue_tag is None or self.killed is not None:
                break
            tag, self.requeue_tag = self.requeue_tag, None
            self.log(LogLevel.Info, f"waiting for exclusive '{tag}' to re-run {step.describe()}")
            if tell:
                await self.say(announce.queued(task.name, self.starter.task.name))
            await self.robot.exclusive.wait_free(tag, self.killed_event)
            if tell and self.killed is None:
                await self.say(announce.requeued(task.name, self.starter.task.name))
        if self.abort:
            self.abort = False
            return TaskRetVal.PipelineAborted
        return ret

    async def _check_policy(self, step: TaskRun) -> int | None:
        """Judge a step against the user the pipeline acts for; a refusal's TaskRetVal or None.

        Every step is judged, however it was reached: the starter of a typed, triggered or
        spawned pipeline and every AddCommand/AddJob step alike (docs/security.md lists the
        entry paths). A pipeline that acts for nobody runs as the robot (`check_unattended`).
        """
        task = step.task
        robot = self.robot
        user = self.message.user
        context = MessageContext(
            user=user,
            channel=self.origin.channel,
            hidden=self.origin.hidden,
            is_admin=robot.is_admin(user) if user else False,
        )
        if task.kind is TaskKind.JOB and task.job is not None and user:
            self.record(events.admin_check(task.job.require_admin, context.is_admin))
            verdict = check_job(task.name, task.job.require_admin, task.job.users, context)
            return await self._refuse(step, verdict) if verdict.refused else None
        if task.kind is not TaskKind.PLUGIN or task.policy is None:
            return None
        if not user:
            verdict = check_unattended(task.policy, step.command)
            return await self._refuse(step, verdict) if verdict.refused else None
        decision = check_availability(task.policy, step.command, context)
        if not decision.refused:
            admin_only = task.policy.require_admin or step.command in task.policy.admin_commands
            self.record(events.admin_check(admin_only, context.is_admin))
            decision = check_command(
                task.policy,
                step.command,
                step.args,
                context,
                default_authorizer=robot.config.default_authorizer,
                default_elevator=robot.config.default_elevator,
                known_plugins=[p.name for p in robot.catalog.plugins()],
            )
        if decision.refused:
            return await self._refuse(step, decision)
        if decision.authorize is not None:
            ret = await self._callback(decision.authorize)
            self.record(events.callback_verdict("Auth", ret))
            verdict = authorization_result(ret)
            if verdict.refused:
                return await self._refuse(step, verdict)
        if decision.elevate is not None and not self.elevated:
            ret = await self._elevator(decision.elevate)
            self.record(events.callback_verdict("Elev", ret))
            verdict = elevation_result(ret)
            if verdict.refused:
                return await self._refuse(step, verdict)
            self.elevated = True  # success persists for the pipeline
        return None

    async def _refuse(self, step: TaskRun, decision: Decision) -> int:
        self.log(
            LogLevel.Audit, f"refused {step.describe()} for {self.message.user}: {decision.code}"
        )
        if decision.said_to_channel:
            await self.say(decision.message)
        else:
            await self.reply(decision.message)
        return TaskRetVal.Fail

    async def _elevator(self, callback: Callback) -> int:
        """Run an `_elevate` callback; its success (only) elevates the pipeline, as upstream."""
        ret = await self._callback(callback)
        self.elevated = ret == TaskRetVal.Success
        who = self.message.user or "nobody"
        self.log(LogLevel.Audit, f"elevation by {callback.plugin} for {who}: {ret_name(ret)}")
        return ret

    async def elevate(self, task: TaskDef, immediate: bool) -> bool:
        """`Elevate(immediate)` from `task`: ask its elevator, whatever was granted before.

        As upstream's Robot.Elevate (bot/elevate.go): the elevator decides (an immediate
        elevation always asks; a timed one may still be valid), only a Success elevates the
        pipeline, and a refusal or a failure is said in the channel.
        """
        policy = task.policy
        name = (policy.elevator if policy is not None else "") or self.robot.config.default_elevator
        if not name:
            self.log(LogLevel.Audit, f"{task.name} asked for elevation; no elevator is configured")
            await self.say("Sorry, elevation failed due to a configuration error")
            return False
        elevator = self.robot.catalog.get(name)
        if elevator is None or elevator.disabled or elevator.kind is not TaskKind.PLUGIN:
            self.log(LogLevel.Audit, f"{task.name} asked for elevation; {name!r} is not a plugin")
            await self.say(elevation_result(TaskRetVal.ConfigurationError).message)
            return False
        immediacy = "true" if immediate else "false"
        verdict = elevation_result(await self._elevator(Callback(name, "_elevate", (immediacy,))))
        if verdict.refused:
            await self.say(verdict.message)
        return not verdict.refused

    async def _callback(self, callback: Callback) -> int:
        task = self.robot.catalog.get(callback.plugin)
        if task is None or task.disabled:
            return TaskRetVal.ConfigurationError
        return await self.run_callback(task, callback.command, list(callback.args))

    async def run_callback(
        self, task: TaskDef, command: str, args: list[str], *, record: bool = True
    ) -> int:
        """Run a plugin's engine callback (`_authorize`, `_elevate`) inside this pipeline.

        `record=False` records no event for it (upstream's suppressEmit, for `_usergroups`).
        """
        self.log(LogLevel.Debug, f"calling {task.name} {command}")
        return await self._execute(TaskRun(task, command, args), record=record)

    async def _execute(self, step: TaskRun, *, record: bool = True) -> int:
        task = step.task
        # A callback can run while a step's child waits in Elevate; restore that step after.
        outer = self.current, self.execution
        self.current = step
        self.log(LogLevel.Debug, f"running {task.kind} {step.describe()}")
        # Upstream's built-in plugins are Go plugins: the robot's own code, not a child; so are
        # its external `.go` plugins (bot/calltask.go), which the go binding runs here.
        go_plugin = task.kind is TaskKind.PLUGIN and getattr(task.binding, "name", "") == "go"
        ran = (
            events.Event.GoPluginRan
            if task.builtin is not None or go_plugin
            else events.Event.ExternalTaskRan
        )
        if record and step.command != INIT_COMMAND:  # an `_init` is no run of the plugin
            self.record(ran, task.name)
        try:
            if task.builtin is not None:
                return await task.builtin(self, step)
            return await self._execute_child(step)
        finally:
            self.current, self.execution = outer

    async def _execute_child(self, step: TaskRun) -> int:
        """Run a file-backed step in a child once a child slot is free (engine/slots.py).

        Steps queue first in, first out when `MaxConcurrentChildren` children are running. A
        callback while this pipeline's own child waits (`Elevate`) runs in that child's slot.
        The step's warn and kill timeouts start when it has its slot: time in the queue is not
        the extension's, and shows in `ps` and the pipeline log instead. A kill while queued
        takes the step out of the queue, as it would cancel its child; a cleanup step queued
        after a kill waits like any other, since a kill does not stop final and fail tasks.
        """
        slots = self.robot.slots
        name = step.task.name
        give_up = None if self.killed_event.is_set() else self.killed_event
        if not slots.holds(self.id) and (slots.queued or 0 < slots.limit <= slots.running):
            self.log(
                LogLevel.Info,
                f"{name} queued for a child slot: {slots.running} of {slots.limit} running, "
                f"{slots.queued} ahead",
            )
        waited = await slots.acquire(self.id, give_up)
        if waited is None:
            if slots.closed and self.killed is None:
                self.last_error = "the robot is shutting down"
            why = self.killed or self.last_error
            self.log(LogLevel.Info, f"{name} left the queue without starting: {why}")
            return TaskRetVal.PipelineAborted
        if waited > 0:
            self.log(LogLevel.Info, f"{name} got a child slot after {waited:.1f} s in the queue")
        try:
            return await self._run_child(step)
        finally:
            slots.release(self.id)

    async def _run_child(self, step: TaskRun) -> int:
        from burrow.robot_api.dispatcher import TaskApi  # the Robot API depends on pipelines

        task = step.task
        assert task.binding is not None and task.path is not None
        warn, kill = self.robot.timeouts_for(task, self.starter.task)
        spec = ExecutionSpec(
            binding=task.binding,
            method=task.binding.run_method(),
            params={
                "path": str(task.path),
                "name": task.name,
                "kind": str(task.kind),
                "args": step.argv(),
                "bot": self.bot_fields(),
                "lib_paths": self.robot.lib_paths,
                "workdir": str(self.workdir),
                "http_client": self.robot.config.http_client.params(),  # the http module
            },
            workdir=self.workdir,
            env=self.environment(step),
            timeout=kill,
            limits=self.robot.child_limits(self.privileged),
            identity=self.robot.child_identity(self.privileged),
        )
        budget = LogBudget(self, task.name)
        execution = Execution(
            spec,
            TaskApi(self, step, budget),
            on_log=lambda level, text: budget.log(level, text),
            on_stderr=lambda line: budget.log(LogLevel.Debug, f"stderr: {line}"),
            spawner=self.robot.background_spawner if self.initializing else self.robot.spawner,
        )
        self.execution = execution
        warned = asyncio.get_running_loop().call_later(
            warn,
            lambda: self.log(
                LogLevel.Warn, f"{task.name} has run for {warn:g} s (kill at {kill:g} s)"
            ),
        )
        try:
            result = await execution.run()
        finally:
            warned.cancel()
        if result.error is not None:
            detail = f"{result.error.code}: {result.error.message}"
            self.log(
                LogLevel.Error, f"{task.name} failed with {ret_name(result.ret_val)}: {detail}"
            )
            if result.stderr_tail.strip():
                self.log(
                    LogLevel.Error, f"{task.name} stderr tail: {result.stderr_tail.strip()[-1000:]}"
                )
            # The user gets the short form: the extension's file name, not the robot's layout.
            self.last_error = for_users(detail, task.path)
        return result.ret_val

    async def _report_failure(self, failed: TaskRun, ret: int) -> None:
        if self.automatic or failed.task.kind is not TaskKind.PLUGIN or self.killed is not None:
            return
        if ret in (TaskRetVal.Fail, TaskRetVal.PipelineAborted) and not self.last_error:
            return  # the extension said no on purpose and has spoken for itself
        why = f": {self.last_error}" if self.last_error else ""
        await self.reply(f"Sorry, '{failed.task.name}' failed with {ret_name(ret)}{why}")

    # -- context for children and the Robot API -------------------------------------------

    def bot_fields(self) -> dict[str, object]:
        """The `bot` map of an execution request: the message context."""
        m = self.message
        return {
            "user": m.user,
            "user_id": m.user_id,
            "channel": m.channel,
            "channel_id": m.channel_id,
            "thread_id": m.thread_id,
            "message_id": m.message_id,
            "threaded_message": m.threaded,
            "protocol": m.protocol,
            "brain": self.robot.config.brain,
        }

    def environment(self, step: TaskRun) -> dict[str, str]:
        """What the task's child gets beyond the pass-through variables (docs/protocol.md)."""
        m = self.message
        env = {
            "GOPHER_CHANNEL": m.channel,
            "GOPHER_CHANNEL_ID": m.channel_id,
            "GOPHER_MESSAGE_ID": m.message_id,
            "GOPHER_THREAD_ID": m.thread_id,
            "GOPHER_USER": m.user,
            "GOPHER_USER_ID": m.user_id,
            "GOPHER_PROTOCOL": m.protocol,
            "GOPHER_TASK_NAME": step.task.name,
            "GOPHER_PIPELINE_TYPE": self.trigger,
            "GOPHER_PIPELINE_ID": str(self.id),
            "GOPHER_HOME": str(self.robot.home),
        }
        if m.threaded:
            env["GOPHER_THREADED_MESSAGE"] = "true"
        if m.hidden:
            env["GOPHER_HIDDEN_COMMAND"] = "true"
        if not self.robot.config.secure_parameters:
            for name, value in self.visible_parameters(step.task).items():
                if exportable_parameter(name):
                    env.setdefault(name, value)
        return env

    def visible_parameters(self, task: TaskDef) -> dict[str, str]:
        """A task's parameters; the first writer wins: the pipeline's, then the task's own.

        A configured value `encrypted:<ciphertext>` (from EncryptSecret) is decrypted here, for
        this task only; without the key it is withheld and the failure logged.
        """
        found = dict(self.parameters)
        for name, value in task.parameters.items():
            if name not in found:
                found[name] = self.robot.reveal(value, f"{task.name} parameter {name}")
        return found

    # -- talking ---------------------------------------------------------------------------

    async def say(self, text: str) -> None:
        """Send `text` where the pipeline is (its channel, or the user's DM)."""
        await self.robot.send(self.message.protocol, self.message.answer(text, addressed=False))

    async def reply(self, text: str) -> None:
        """Send `text` addressed to the pipeline's user."""
        await self.robot.send(self.message.protocol, self.message.answer(text))

    def kill(self, reason: str) -> None:
        """Stop the pipeline: the running child is cancelled and nothing else is started."""
        self.killed = reason
        self.log(LogLevel.Audit, f"killed: {reason}")
        self.killed_event.set()
        if self.child is not None:
            self.child.kill(reason)
        self.robot.waiters.interrupt(self)
        if self.execution is not None:
            self.execution.cancel(reason)


# A pipeline logs a few lines per command: the level's name and the timestamp are looked up,
# not made, for each (an enum call and a strftime were most of a line's cost in the robot).
_LEVEL_NAMES: dict[int, str] = {level.value: level.name.upper() for level in LogLevel}
_stamped: tuple[int, str] = (-1, "")


def _timestamp() -> str:
    """The local time to the second, as log lines start with it (made once a second)."""
    global _stamped
    now = int(time.time())
    if _stamped[0] != now:
        _stamped = (now, time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)))
    return _stamped[1]


_PY_LEVELS: dict[int, int] = {
    LogLevel.Trace: logging.DEBUG,
    LogLevel.Debug: logging.DEBUG,
    LogLevel.Info: logging.INFO,
    LogLevel.Audit: logging.INFO,
    LogLevel.Warn: logging.WARNING,
    LogLevel.Error: logging.ERROR,
    LogLevel.Fatal: logging.CRITICAL,
}


class LogBudget:
    """Caps what one child may write to its pipeline's log, so a flood cannot fill the disk.

    The budget counts the UTF-8 bytes of the lines really written; each line is itself cut at
    LINE_LIMIT bytes by `Pipeline.log`, so one huge line cannot overshoot the budget either.
    """

    LIMIT = 256 * 1024  # bytes of log lines per execution

    def __init__(self, pipeline: Pipeline, name: str) -> None:
        self._pipeline = pipeline
        self._name = name
        self._left = self.LIMIT
        self._dropped = 0

    def log(self, level: int, text: str) -> None:
        """Log a line from the child, or count it once the budget is spent."""
        if self._left <= 0:
            self._dropped += 1
            if self._dropped in (1, 1000, 1_000_000):
                self._pipeline.log(
                    LogLevel.Warn,
                    f"{self._name}: log limit reached; {self._dropped}+ lines dropped",
                )
            return
        self._left -= self._pipeline.log(level, f"{self._name}: {text}")


# Parameters become environment variables, and any extension of the pipeline can set one with
# SetParameter, so none may name a variable that changes how a later child is loaded or run.
_RESERVED_NAMES = frozenset(PASSED_THROUGH) | {
    "IFS",
    "SHELL",
    "ENV",
    "BASH_ENV",
    "PERL5LIB",
    "RUBYLIB",
    "NODE_OPTIONS",
}
_RESERVED_PREFIXES = ("LD_", "DYLD_", "PYTHON", "GOPHER_", "BURROW_", "LC_")


def exportable_parameter(name: str) -> bool:
    """Whether a parameter may be exported to a child's environment under its own name."""
    return (
        name.isidentifier()
        and name not in _RESERVED_NAMES
        and not name.upper().startswith(_RESERVED_PREFIXES)
    )


def for_users(detail: str, path: Path) -> str:
    """An error as a chat user sees it: the extension's file name, not the robot's layout.

    Besides the full path, Lua shortens a long chunk name to `...` and its tail, which names
    the robot's folders just the same.
    """
    full, name = str(path), path.name

    def shorten(found: re.Match[str]) -> str:
        return name if full.endswith(found.group(1) + name) else found.group(0)

    shown = re.sub(r"\.\.\.(\S*?)" + re.escape(name), shorten, detail.replace(full, name))
    if len(shown) > USER_ERROR_LIMIT:  # the whole message is in the pipeline's log
        shown = shown[:USER_ERROR_LIMIT] + f"… ({len(shown) - USER_ERROR_LIMIT:,} more characters)"
    return shown


USER_ERROR_LIMIT = 1000  # characters of an extension's error that a chat user is shown


def ret_name(ret: int) -> str:
    """A TaskRetVal's name, or the number when it has none."""
    return TaskRetVal(ret).name if ret in TaskRetVal._value2member_map_ else str(ret)
