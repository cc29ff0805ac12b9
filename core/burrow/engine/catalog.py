"""The task catalog: every plugin, job and task the robot knows, built once at start-up.

File-backed plugins get their default configuration from a `_get_config` child (or, while
nothing it depends on has changed, from the configuration cache, burrow.engine.config_cache),
merged under the robot's `conf/plugins/NAME.yaml`; jobs have only `conf/jobs/NAME.yaml`, as
upstream asks only plugins for `_configure`. A plugin whose `_configure` fails keeps its file's
configuration, with a warning, as upstream; an answer that is not usable YAML disables it.
Anything else wrong with one task disables that task with a reason the operator can read; the
robot still starts.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from burrow import __version__
from burrow.bindings.registry import BindingRegistry
from burrow.bindings.spec import Binding, BindingError
from burrow.engine.addressing import AddressMode
from burrow.engine.config import (
    JobConfig,
    LoadedRobot,
    PluginConfig,
    TaskSpec,
    finalize_job,
    finalize_plugin,
)
from burrow.engine.config.loader import ROBOT_FILE
from burrow.engine.config_cache import ConfigCache, file_sha256, tree_digest
from burrow.engine.matching import CommandMatcher, MessageMatcher, PluginRoutes
from burrow.engine.policy import PluginPolicy
from burrow.engine.simple_matcher import compile_simple
from burrow.runner.environment import child_environment
from burrow.runner.execution import GET_CONFIG_TIMEOUT, Execution, ExecutionSpec
from burrow.runner.limits import ChildLimits
from burrow.runner.privsep import ChildIdentity
from burrow.runner.process import Spawner

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline, TaskRun

log = logging.getLogger(__name__)


class TaskKind(enum.StrEnum):
    """The three kinds of pipeline step."""

    PLUGIN = "plugin"
    JOB = "job"
    TASK = "task"


# A built-in task runs in the robot's own process: it is not file-backed, so no child.
BuiltinHandler = Callable[["Pipeline", "TaskRun"], Awaitable[int]]


@dataclass
class TaskDef:
    """One plugin, job or task: where it comes from, how it is configured, whether it runs."""

    name: str
    kind: TaskKind
    spec: TaskSpec | None = None
    binding: Binding | None = None
    plugin: PluginConfig | None = None
    job: JobConfig | None = None
    builtin: BuiltinHandler | None = None
    disabled: str = ""  # why it cannot run; "" = enabled
    routes: PluginRoutes | None = None
    policy: PluginPolicy | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    # A built-in plugin configured like an extension (engine/builtin_plugins): the default
    # configuration it stands for, merged under conf/plugins/NAME.yaml like a `_configure`
    # answer, and the model its `Config` section must fit.
    default_config: str | None = None
    config_model: type[BaseModel] | None = None
    # Why its `_configure` gave no default configuration (it runs on its file's alone).
    config_warning: str = ""

    @property
    def path(self) -> Path | None:
        """The extension file, for file-backed tasks."""
        return self.spec.path if self.spec is not None else None

    @property
    def privileged(self) -> bool:
        """Whether a pipeline started by this task is privileged."""
        return self.spec.privileged if self.spec is not None else self.builtin is not None

    @property
    def homed(self) -> bool:
        """Whether it runs in the robot's home rather than the workspace."""
        return self.spec.homed if self.spec is not None else True

    @property
    def namespace(self) -> str:
        """The namespace of its memories and Exclusive tags."""
        return (self.spec.name_space if self.spec is not None else "") or self.name

    @property
    def config(self) -> Any:
        """Its free-form `Config` section."""
        settings = self.plugin or self.job
        return settings.config if settings is not None else None


def routes_of(name: str, plugin: PluginConfig) -> PluginRoutes:
    """What routing needs of a plugin's configuration."""
    return PluginRoutes(
        name=name,
        commands=tuple(
            _command(m.command, m.regex, m.simple_matcher, tuple(m.contexts))
            for m in plugin.commands
            if m.regex or m.simple_matcher
        ),
        message_matchers=tuple(
            MessageMatcher(m.command, m.regex, tuple(m.contexts))
            for m in plugin.message_matchers
            if m.regex
        ),
        catch_all=plugin.catch_all,
        catch_all_modes=frozenset(AddressMode(m) for m in plugin.catch_all_modes),
    )


def _command(command: str, regex: str, simple: str, contexts: tuple[str, ...]) -> CommandMatcher:
    """A `Commands` entry as routing matches it: a Regex, or a SimpleMatcher and its regex."""
    if not simple:
        return CommandMatcher(command, regex, contexts)
    compiled = compile_simple(simple)  # checked at load: it compiles
    return CommandMatcher(command, compiled.regex, contexts, compiled)


def policy_of(name: str, plugin: PluginConfig) -> PluginPolicy:
    """The security settings of a plugin's configuration."""
    return PluginPolicy(
        name=name,
        require_admin=plugin.require_admin,
        admin_commands=frozenset(plugin.admin_commands),
        users=tuple(plugin.users),
        channels=None if plugin.all_channels else frozenset(plugin.channels),
        allowed_private_commands=frozenset(plugin.allowed_private_commands),
        required_private_commands=frozenset(plugin.required_private_commands),
        require_all_commands_private=plugin.require_all_commands_private,
        restrict_private_channels=plugin.restrict_private_channels,
        authorizer=plugin.authorizer,
        auth_require=plugin.auth_require,
        authorized_commands=frozenset(plugin.authorized_commands),
        authorize_all_commands=plugin.authorize_all_commands,
        elevator=plugin.elevator,
        elevated_commands=frozenset(plugin.elevated_commands),
        elevate_immediate_commands=frozenset(plugin.elevate_immediate_commands),
    )


def _parameters(loaded: LoadedRobot, spec: TaskSpec) -> dict[str, str]:
    """A task's parameters; the first writer wins: namespace, parameter sets, its own."""
    robot = loaded.config
    found: dict[str, str] = {}
    sources = []
    if spec.name_space and spec.name_space in robot.name_spaces:
        sources.append(robot.name_spaces[spec.name_space].parameters)
    sources += [
        robot.parameter_sets[s].parameters for s in spec.parameter_sets if s in robot.parameter_sets
    ]
    sources.append(spec.parameters)
    for params in sources:
        for p in params:
            found.setdefault(p.name, p.value)
    return found


@dataclass
class Catalog:
    """Every task of the robot by name, plus the order plugins are matched in."""

    tasks: dict[str, TaskDef] = field(default_factory=dict)
    # What is probably a mistake but disables nothing (`startup_warnings`), logged at start.
    warnings: list[str] = field(default_factory=list)

    def plugins(self) -> list[TaskDef]:
        """Enabled plugins (built-ins first), in the order they are matched."""
        return [t for t in self.tasks.values() if t.kind is TaskKind.PLUGIN and not t.disabled]

    def get(self, name: str) -> TaskDef | None:
        """A task by name."""
        return self.tasks.get(name)

    def problems(self) -> dict[str, str]:
        """Why each disabled task is disabled (a built-in merely left off is no problem)."""
        return {t.name: t.disabled for t in self.tasks.values() if t.disabled and not _off(t)}


def _off(task: TaskDef) -> bool:
    """Whether `task` is a built-in plugin its configuration leaves off (`groups` by default)."""
    return task.builtin is not None and task.plugin is not None and task.plugin.disabled


ConfigFetcher = Callable[[TaskDef], Awaitable[str | None]]


async def build_catalog(
    loaded: LoadedRobot,
    registry: BindingRegistry,
    builtins: Mapping[str, TaskDef],
    fetch_config: ConfigFetcher,
    concurrency: int | None = None,
) -> Catalog:
    """Build the catalog: declare every task, fetch default configs, finalize, route.

    At most `concurrency` default configurations are fetched at once (default: twice the
    usable CPUs, at least 4): a `_get_config` child is mostly CPU.
    """
    catalog = Catalog(dict(builtins))
    robot = loaded.config
    declared = [
        *((n, s, TaskKind.PLUGIN) for n, s in robot.external_plugins.items()),
        *((n, s, TaskKind.JOB) for n, s in robot.external_jobs.items()),
        *((n, s, TaskKind.TASK) for n, s in robot.external_tasks.items()),
    ]
    for name, spec, kind in declared:
        task = TaskDef(name, kind, spec=spec, parameters=_parameters(loaded, spec))
        if name in catalog.tasks:
            task.disabled = f"the name {name!r} is taken by a built-in"
        elif spec.disabled:
            task.disabled = "Disabled: true in robot.yaml"
        elif not spec.path.is_file():
            task.disabled = f"{spec.path} does not exist; fix its Path in robot.yaml"
        else:
            try:
                task.binding = registry.for_path(str(spec.path))
            except BindingError as exc:
                task.disabled = str(exc)
        catalog.tasks[name] = task

    limit = asyncio.Semaphore(concurrency or max(4, 2 * len(os.sched_getaffinity(0))))

    async def finalize(task: TaskDef) -> None:
        default: str | None = None
        if task.builtin is not None:
            default = task.default_config
        elif task.kind is TaskKind.PLUGIN:
            async with limit:
                default = await fetch_config(task)
        if task.disabled:
            return  # a fetcher may disable the task (ours leaves it to its file instead)
        try:
            _finalize_task(loaded, task, default)
        except Exception as exc:  # a loader bug must disable one task, not stop the robot
            log.exception("configuring %s %r failed", task.kind, task.name)
            task.disabled = f"its configuration could not be loaded: {type(exc).__name__}: {exc}"

    pending = [
        t
        for t in catalog.tasks.values()
        if not t.disabled and (t.builtin is None or t.default_config is not None)
    ]
    await asyncio.gather(*(finalize(t) for t in pending))
    if isinstance(fetch_config, DefaultConfigReader):
        fetch_config.finish()
    for task in catalog.tasks.values():
        if task.disabled:
            level = logging.DEBUG if _off(task) else logging.WARNING
            log.log(level, "%s %r is disabled: %s", task.kind, task.name, task.disabled)
    catalog.warnings = startup_warnings(loaded, catalog)
    for warning in catalog.warnings:
        log.warning("%s", warning)
    return catalog


def startup_warnings(loaded: LoadedRobot, catalog: Catalog) -> list[str]:
    """Settings that name nothing usable: they disable nothing, but something will not work.

    An authorizer or elevator (robot.yaml's `DefaultAuthorizer`/`DefaultElevator`, a plugin's
    `Authorizer`/`Elevator`) that is not an enabled plugin, whose commands will then be
    refused; a plugin or job file for a plugin or job that is not declared, which configures
    nothing.
    """
    warnings = []
    robot = loaded.config
    settings = [
        (f"{ROBOT_FILE}: DefaultAuthorizer", robot.default_authorizer, "authorization"),
        (f"{ROBOT_FILE}: DefaultElevator", robot.default_elevator, "elevation"),
    ]
    for task in catalog.tasks.values():
        if task.plugin is not None and not task.disabled:
            file = f"conf/plugins/{task.name}.yaml"
            settings.append((f"{file}: Authorizer", task.plugin.authorizer, "authorization"))
            settings.append((f"{file}: Elevator", task.plugin.elevator, "elevation"))
    for where, name, need in settings:
        if not name:
            continue
        target = catalog.get(name)
        if target is None or target.kind is not TaskKind.PLUGIN:
            why = "there is no such plugin" if target is None else f"it is a {target.kind}"
        elif target.disabled:
            why = f"that plugin is disabled ({target.disabled})"
        else:
            continue
        warnings.append(
            f"{where} names {name!r}, but {why}: commands that need {need} will be refused"
        )
    for kind, files in ((TaskKind.PLUGIN, loaded.plugin_files), (TaskKind.JOB, loaded.job_files)):
        section = "ExternalPlugins" if kind is TaskKind.PLUGIN else "ExternalJobs"
        for name, raw in files.items():
            found = catalog.get(name)
            if found is None or found.kind is not kind:
                warnings.append(
                    f"{raw.file} configures {kind} {name!r}, which is not declared: it has no "
                    f"effect; declare it under {section} in {ROBOT_FILE}, or remove the file"
                )
    return warnings


def _finalize_task(loaded: LoadedRobot, task: TaskDef, default: str | None) -> None:
    """Merge, validate and route one plugin or job, or disable it with its problems."""
    if task.kind is TaskKind.PLUGIN:
        result = finalize_plugin(loaded, task.name, default, task.config_model)
        if isinstance(result, list):
            task.disabled = "; ".join(str(p) for p in result)
        else:
            task.plugin = result
            task.disabled = "Disabled: true in its configuration" if result.disabled else ""
            task.routes = routes_of(task.name, result)
            task.policy = policy_of(task.name, result)
    elif task.kind is TaskKind.JOB:
        job = finalize_job(loaded, task.name, default)
        if isinstance(job, list):
            task.disabled = "; ".join(str(p) for p in job)
        else:
            task.job = job
            task.disabled = "Disabled: true in its configuration" if job.disabled else ""


def _get_config_params(task: TaskDef, workdir: Path, lib_paths: list[str]) -> dict[str, Any]:
    """The params of a task's `_get_config` request."""
    return {
        "path": str(task.path),
        "name": task.name,
        "kind": str(task.kind),
        "bot": {},
        "lib_paths": lib_paths,
        "workdir": str(workdir),
    }


async def fetch_default_config(
    task: TaskDef,
    workdir: Path,
    lib_paths: list[str],
    spawner: Spawner | None = None,
    limits: ChildLimits | None = None,
    identity: ChildIdentity | None = None,
) -> str | None:
    """Ask a file-backed extension for its default configuration in a `_get_config` child.

    The child gets the limits and the account (docs/security.md) of the task's own children:
    reading its configuration runs the extension's code.
    """
    assert task.binding is not None and task.path is not None
    spec = ExecutionSpec(
        binding=task.binding,
        method=task.binding.get_config_method(),
        params=_get_config_params(task, workdir, lib_paths),
        workdir=workdir,
        timeout=GET_CONFIG_TIMEOUT,
        limits=limits or ChildLimits(),
        identity=identity,
    )
    result = await Execution(spec, spawner=spawner).run()
    if result.error is not None:
        # As upstream (bot/calltask.go): a failing _configure does not disable the plugin;
        # it runs on the configuration of its file.
        detail = f"{result.error.code}: {_located(result.error.message, result.error.data)}"
        if result.stderr_tail:
            detail += f" (stderr: {result.stderr_tail.strip()[-300:]})"
        task.config_warning = f"its default configuration could not be read: {detail}"
        log.warning(
            "%s %r: %s; it keeps conf/plugins/%s.yaml alone",
            task.kind,
            task.name,
            task.config_warning,
            task.name,
        )
        return None
    return result.config


@dataclass
class DefaultConfigReader:
    """Reads each extension's default configuration for `build_catalog`.

    From `cache` while nothing the answer depends on has changed, else in a `_get_config`
    child, whose successful answer then goes to the cache (docs/operations.md, "Configuration
    cache"). Without a cache, every extension is asked.
    """

    workdir: Path
    lib_paths: list[str]
    spawner: Spawner | None = None
    limits: Callable[[bool], ChildLimits] | None = None  # by `privileged`
    identity: Callable[[bool], ChildIdentity | None] | None = None  # by `privileged`
    cache: ConfigCache | None = None
    children: int = 0  # `_get_config` children run
    _lib_digest: str | None = field(default=None, repr=False)

    async def __call__(self, task: TaskDef) -> str | None:
        """The default configuration of `task`, or None with `task.disabled` saying why."""
        limits = self.limits(task.privileged) if self.limits is not None else ChildLimits()
        identity = self.identity(task.privileged) if self.identity is not None else None
        inputs: dict[str, str] | None = None
        if self.cache is not None:
            try:
                inputs = self.inputs(task, limits, identity)
            except OSError as exc:  # unreadable now: the child will say why, and nothing is kept
                log.debug("%s %r: not cached: %s", task.kind, task.name, exc)
            else:
                cached = self.cache.lookup(str(task.kind), task.name, inputs)
                if cached is not None:
                    return cached
        self.children += 1
        config = await fetch_default_config(
            task, self.workdir, self.lib_paths, self.spawner, limits, identity
        )
        if self.cache is not None:
            if config is None or inputs is None:
                self.cache.forget(str(task.kind), task.name)
            else:
                self.cache.store(str(task.kind), task.name, inputs, config)
        return config

    def inputs(
        self, task: TaskDef, limits: ChildLimits, identity: ChildIdentity | None
    ) -> dict[str, str]:
        """Everything a task's `_get_config` answer depends on: its cache key.

        The file is hashed before the child reads it, so an edit racing the start leaves a
        stale key, never a wrong answer under the current one.
        """
        assert task.binding is not None and task.path is not None
        if self._lib_digest is None:
            self._lib_digest = tree_digest(self.lib_paths)
        binding = task.binding
        request = {
            "method": binding.get_config_method(),
            "params": _get_config_params(task, self.workdir, self.lib_paths),
        }
        return {
            "file sha256": file_sha256(task.path),
            "request": json.dumps(request, sort_keys=True),
            "binding": binding.name,
            "binding distribution": binding.distribution,
            "binding version": binding.version,
            "burrow version": __version__,
            "python": f"{sys.executable} {sys.version}",
            "environment": json.dumps(child_environment(), sort_keys=True),
            "limits": json.dumps(limits.to_hello(), sort_keys=True),
            "account": identity.argument if identity is not None else "",
            "lib digest": self._lib_digest,
        }

    def finish(self) -> None:
        """Write what this start learned to the cache (once every task is configured)."""
        if self.cache is not None:
            self.cache.save()
            log.info("%s", self.cache.summary())


def _located(message: str, data: object) -> str:
    """Prefix `file:line[:column]` from a binding's error data unless the message has it."""
    if not isinstance(data, dict) or not data.get("file") or not data.get("line"):
        return message
    where = f"{Path(str(data['file'])).name}:{data['line']}"
    if data.get("column"):
        where += f":{data['column']}"
    return message if where in message else f"{where}: {message}"
