"""The robot: configuration, connectors, routing of every heard message, pipelines, shutdown.

Concurrency: one asyncio loop. Routing a message is quick and never waits on extension work;
anything that runs an extension (including authorizers and elevators) runs in a pipeline task,
so one hung pipeline never stops the robot from answering others. Messages from a connector
are routed in the order they arrive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from burrow.bindings.registry import BindingRegistry
from burrow.brain import (
    ENCRYPTION_KEY_ENV,
    BrainProvider,
    Datums,
    SecretBox,
    SecretError,
    ShortTermMemory,
)
from burrow.brain import MessageContext as MemoryContext
from burrow.brain.registry import discover_brains
from burrow.connectors.base import (
    BotIdentity,
    Connector,
    ConnectorError,
    IncomingMessage,
    OutgoingMessage,
    UserInfo,
)
from burrow.constants import MessageFormat, RetVal, TaskRetVal
from burrow.engine.builtins import builtin_tasks
from burrow.engine.catalog import Catalog, DefaultConfigReader, TaskDef, TaskKind, build_catalog
from burrow.engine.channels import channels_to_join, join_channels
from burrow.engine.config import ConfigError, ConfigProblem, LoadedRobot, RobotConfig, load_robot
from burrow.engine.config.loader import ROBOT_FILE
from burrow.engine.config_cache import ConfigCache
from burrow.engine.events import emit as emit_event
from burrow.engine.events import routing_events
from burrow.engine.exclusive import ExclusiveLocks
from burrow.engine.pipeline import INIT_COMMAND, Pipeline, Stage, TaskRun, ret_name
from burrow.engine.pipeline_logs import PipelineLogs
from burrow.engine.policy import is_admin
from burrow.engine.prompts import ReplyWaiters
from burrow.engine.routing import (
    LAST_MESSAGE_WINDOW,
    Answer,
    AskGroups,
    Deliver,
    Forget,
    Reason,
    Remember,
    Reroute,
    RobotState,
    Routing,
    RoutingIndex,
    RoutingSettings,
    Start,
    StartCommand,
    decide,
    place_of,
    prompt_key_of,
)
from burrow.engine.scheduler import Scheduler
from burrow.engine.slots import ChildSlots
from burrow.runner.limits import ChildLimits
from burrow.runner.privsep import ChildIdentity, PrivSepError, resolve_account, self_check
from burrow.runner.process import Spawner
from burrow.runner.spares import SparePool, spare_sizes
from burrow.runner.zygote import BindingZygotes

log = logging.getLogger("burrow.robot")

ENCRYPTED_PREFIX = "encrypted:"
ZYGOTE_ENV = "BURROW_ZYGOTE"  # "off" starts every child as a new interpreter instead
SPARE_START_WAIT = 10.0  # seconds `start` waits for the first spare children

DEFAULT_NAME = "burrow"
# Upstream's `Brain:` names that mean one of Burrow's providers (docs/configuration.md).
BRAIN_NAMES = {"mem": "memory"}


class Robot:
    """One robot: everything the parent owns."""

    def __init__(
        self,
        robot_dir: Path,
        *,
        state_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        registry: BindingRegistry | None = None,
        config_cache: bool = True,
    ) -> None:
        self.home = robot_dir.resolve()
        # False: ask every extension for its default configuration, not the cache
        # (`burrow run --no-config-cache`); the answers still refresh the cache.
        self.config_cache = config_cache
        self.state_dir = (state_dir or self.home / "state").resolve()
        self.environ = dict(os.environ if environ is None else environ)
        self.registry = registry
        self.loaded: LoadedRobot | None = None
        self.catalog = Catalog()
        self.connectors: dict[str, Connector] = {}
        self.pipelines: dict[int, Pipeline] = {}
        # Pipeline ids, and a bounded folder of their logs (engine/pipeline_logs.py).
        self.pipeline_logs = PipelineLogs(self.state_dir / "logs")
        self.exclusive = ExclusiveLocks()
        self.slots = ChildSlots()  # bounded by MaxConcurrentChildren at load
        self.waiters = ReplyWaiters()
        self.reply_timeout = 45.0  # seconds a prompt waits for its answer (upstream's value)
        # Thread subscriptions: (protocol, channel, thread id) -> the subscribed plugin.
        self.subscriptions: dict[tuple[str, str, str], str] = {}
        self.privsep: ChildIdentity | None = None  # PrivSep's account, once it is checked
        self.brain: BrainProvider | None = None
        self.datums: Datums | None = None
        self.memory: ShortTermMemory | None = None
        self.secrets: SecretBox | None = None
        self.zygote: BindingZygotes | None = None  # a zygote per binding
        self.spares: SparePool | None = None  # prepared children, kept beside the zygote
        self._inbox: asyncio.Queue[IncomingMessage] = asyncio.Queue()
        self._tasks: set[asyncio.Task[object]] = set()
        self._runners: list[asyncio.Task[None]] = []
        self._scheduler: Scheduler | None = None
        # The latest batch of plugin `_init` pipelines (`initialize_plugins`), by pipeline.
        self._init_batch: dict[Pipeline, asyncio.Task[int]] = {}
        self._stopping = asyncio.Event()
        # Why the primary connector failed, if it did (`burrow run` then exits 1).
        self.connector_failure: str | None = None
        self.primary_protocol = ""
        self.clock = time.time  # the scheduler's wall clock
        # The last unaddressed, unmatched message of each user and place, for a bare "burrow".
        self._last_unaddressed: dict[tuple[str, str, str, str], tuple[str, float]] = {}
        # The catalog indexed for routing, with the catalog and configuration it was built from.
        self._routing: tuple[Catalog, LoadedRobot, RoutingIndex] | None = None

    # -- start-up ---------------------------------------------------------------------------

    @property
    def config(self) -> RobotConfig:
        """The validated robot.yaml."""
        assert self.loaded is not None, "the robot has not loaded its configuration"
        return self.loaded.config

    async def load(self) -> None:
        """Load configuration, open the brain, build the task catalog.

        Raises ConfigError for a broken robot.yaml and BrainError for a brain that cannot be
        opened; in both cases nothing has been written.
        """
        self.loaded = load_robot(self.home, self.environ)
        self.slots = ChildSlots(self.config.max_concurrent_children)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        await self._open_brain()
        (self.state_dir / "logs").mkdir(parents=True, exist_ok=True)
        self.pipeline_logs.keep = self.config.pipeline_logs
        self.pipeline_logs.scan()
        if self.registry is None:
            self.registry = BindingRegistry.discover(self.environ)
        for error in self.registry.errors:
            log.error("binding %r failed to load: %s", error.entry_point, error.error)
        if self.environ.get(ZYGOTE_ENV, "on").lower() not in ("0", "off", "no", "false"):
            # With its children's limits, the zygote sets up what fits them once (JavaScript:
            # V8 with the flags they need) and every fork inherits it.
            limits = self.child_limits(False).to_hello()
            preloads = _preload_modules(self.registry, self.config)
            self.zygote = BindingZygotes(preloads, limits=limits)
        await self._check_privsep()
        self.catalog = await build_catalog(
            self.loaded,
            self.registry,
            builtin_tasks(),
            DefaultConfigReader(
                self.home,
                self.lib_paths,
                self.spawner,
                self.child_limits,
                self.child_identity,
                ConfigCache(self.state_dir, read=self.config_cache),
            ),
            concurrency=min(4, self.slots.limit or 4),  # no more than MaxConcurrentChildren
        )
        self._keep_spares()

    def _keep_spares(self) -> None:
        """Keep spare children for the bindings the extensions use (docs/operations.md)."""
        if self.zygote is None or self.registry is None:
            return
        tasks = [t for t in self.catalog.tasks.values() if t.binding is not None and not t.disabled]
        in_use = {t.binding.name for t in tasks if t.binding is not None}
        sizes = spare_sizes(self.config.spare_children, in_use)
        kinds = [False] + ([True] if any(t.privileged for t in tasks) else [])
        # Without PrivSep both kinds of pipeline start alike children: one set of spares.
        profiles = [(self.child_identity(k), self.child_limits(k)) for k in kinds]
        if self.spares is None:
            self.spares = SparePool(
                self.zygote.spawn,
                self.registry.bindings,
                sizes,
                profiles,
                busy=lambda: self.slots.queued > 0,  # no refill while commands queue
            )
            self.spares.start()
        else:  # loaded again: spares of bindings gone or changed are ended, the rest kept
            self.spares.configure(self.registry.bindings, sizes, profiles)

    async def _check_privsep(self) -> None:
        """With PrivSep, refuse to start unless children really run as its account."""
        setting = self.config.priv_sep
        if setting is None:
            return
        assert self.registry is not None
        spawners = [None] if self.zygote is None else [self.spawner, None]
        try:
            identity = resolve_account(setting.user, setting.group)
            await self_check(identity, self.workspace, spawners, sorted(self.registry.bindings))
        except PrivSepError as exc:
            if self.zygote is not None:
                await self.zygote.close()
            problem = ConfigProblem(file=ROBOT_FILE, key="PrivSep", message=str(exc), hint=exc.hint)
            raise ConfigError([problem]) from None
        self.privsep = identity
        log.info("unprivileged pipelines run their children as %s", identity)

    async def _open_brain(self) -> None:
        c = self.config
        provider = BRAIN_NAMES.get(c.brain, c.brain)  # upstream's names, where they carry over
        brain = discover_brains().create(provider, c.brain_config, self.state_dir)
        await brain.open()
        self.brain = brain
        self.datums = Datums(brain)
        self.memory = ShortTermMemory(brain)
        await self.memory.load()
        try:
            self.secrets = SecretBox.from_environ(self.environ)
        except SecretError as exc:
            self.secrets = None
            log.info("secrets are unavailable: %s", exc)

    async def start(self, connectors: Mapping[str, Connector], primary: str | None = None) -> None:
        """Load, then run `connectors` and the scheduler in the background.

        `primary` overrides the configured PrimaryProtocol (transcripts run on `test`).
        """
        if self.loaded is None:
            await self.load()
        self.connectors = dict(connectors)
        self.primary_protocol = primary or self.config.primary_protocol
        self.routing_index()  # index the catalog now, not on the first message
        # Imported by the first pipeline that runs a child otherwise, which then pays for it.
        import burrow.robot_api.dispatcher  # noqa: F401

        if self.spares is not None and not await self.spares.wait_full(SPARE_START_WAIT):
            log.warning("spare children are not ready yet; the first commands start their own")
        self._runners.append(asyncio.get_running_loop().create_task(self._route_loop()))
        joining = channels_to_join(self.config)  # JoinChannels, as upstream
        for connector in self.connectors.values():
            self._runners.append(
                asyncio.get_running_loop().create_task(self._run_connector(connector))
            )
            self._runners.append(
                asyncio.get_running_loop().create_task(join_channels(connector, joining))
            )
        self._scheduler = Scheduler(self, self.clock)
        self._scheduler.start()
        log.info(
            "%s is ready (%d plugins, %d disabled)",
            self.name,
            len(self.catalog.plugins()),
            len(self.catalog.problems()),
        )
        # What the load built (configuration, catalog, routing index, modules) lives as long as
        # the robot: the collector's full passes need not walk it again and again while
        # commands run (about 3 % of the robot's CPU in a burst). `stop` undoes it.
        gc.freeze()
        self.initialize_plugins()

    def initialize_plugins(self) -> list[Pipeline]:
        """Start every enabled plugin's `_init` pipeline, in the background; return them.

        Gopherbot's initializePlugins (bot/tasks.go), run once connectors are up after each
        configuration load (here: at the end of `start`, after the ready line, so nothing
        waits for them). Each is an automatic pipeline that acts for nobody (no user, an empty
        message on the primary protocol) running the plugin with the command `_init`; they
        all start at once and take child slots like any pipeline (MaxConcurrentChildren).
        Policy does not judge the `_init` itself (no authorizer or elevator is asked), it
        records no event and does not count as a run of the plugin. One that fails is logged
        (and alerted like any failed pipeline); the plugin stays enabled. The built-ins of
        engine/builtins.py (ping, help...) have nothing to initialize and get none; the
        configurable ones (groups, builtin-totp) do. See "Start-up: `_init`" in
        docs/configuration.md.
        """
        if self._stopping.is_set():
            return []
        batch: dict[Pipeline, asyncio.Task[int]] = {}
        for task in self.catalog.plugins():
            if task.builtin is not None and task.default_config is None:
                continue  # a fixed built-in: nothing to initialize
            pipeline = Pipeline(
                self, TaskRun(task, INIT_COMMAND), self.automatic_message(""), automatic=True
            )
            log.debug("initializing plugin %s (pipeline %d)", task.name, pipeline.id)
            batch[pipeline] = self._launch(pipeline)
        self._init_batch = batch
        if batch:
            log.info("initializing %d plugins in the background (_init)", len(batch))
        return list(batch)

    async def plugins_initialized(self, timeout: float | None = None) -> bool:
        """Wait until the latest batch of `_init` pipelines has ended (Gopherbot's
        WaitForBackgroundInits); False if `timeout` seconds pass first (None: no limit)."""
        pending = [task for task in self._init_batch.values() if not task.done()]
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still

    async def _run_connector(self, connector: Connector) -> None:
        failure = None
        try:
            await connector.run(self)
        except ConnectorError as exc:
            log.error("connector %s: %s", connector.protocol, exc)
            failure = str(exc)
        except Exception as exc:
            log.exception("connector %s failed", connector.protocol)
            failure = f"{type(exc).__name__}: {exc}"
        if failure and connector.protocol == self.primary_protocol:
            if not self._stopping.is_set():
                self.connector_failure = f"the {connector.protocol} connector failed: {failure}"
        if not self._stopping.is_set() and connector.protocol == self.primary_protocol:
            log.info("the %s connector ended; stopping", connector.protocol)
            self._stopping.set()

    async def wait_stopped(self) -> None:
        """Wait until the primary connector ends or `request_stop` is called."""
        await self._stopping.wait()

    def request_stop(self) -> None:
        """Ask the robot to stop (from a signal handler or a connector)."""
        self._stopping.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop cleanly: no new work, running pipelines finish within `grace` or are killed."""
        self._stopping.set()
        self.waiters.interrupt()
        if self._scheduler is not None:
            self._scheduler.stop()
        for connector in self.connectors.values():
            await connector.stop()
        for pipeline in self._init_batch:  # an `_init` not yet running never starts now
            if pipeline.stage is not Stage.DONE and not self.slots.holds(pipeline.id):
                pipeline.kill("the robot is shutting down")
        if self.pipelines:
            log.info("waiting up to %g s for %d pipelines", grace, len(self.pipelines))
            _, pending = (
                await asyncio.wait(list(self._tasks), timeout=grace)
                if self._tasks
                else (set(), set())
            )
            for pipeline in list(self.pipelines.values()):
                pipeline.kill("the robot is shutting down")
            self.slots.close()  # no queued step starts a child now, cleanup steps included
            if pending:
                await asyncio.wait(pending, timeout=grace)
        for runner in self._runners:
            runner.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        if self.spares is not None:
            await self.spares.close()  # kills them: nothing to wait for
        if self.zygote is not None:
            await self.zygote.close()
        await self.close_brain()

    async def close_brain(self) -> None:
        """Close long-term memory and the brain (after every pipeline has ended)."""
        if self.datums is not None:
            await self.datums.close()
        if self.brain is not None:
            await self.brain.close()
            self.brain = None
        gc.unfreeze()  # what `start` froze may be collected again once the robot is gone

    # -- identity and attributes ------------------------------------------------------------

    @property
    def name(self) -> str:
        """The robot's name."""
        return self.config.bot_info.user_name or DEFAULT_NAME

    @property
    def identity(self) -> BotIdentity:
        """Who the robot is, for connectors."""
        c = self.config
        users = tuple(
            UserInfo(
                u.user_name,
                u.user_id,
                u.email,
                u.full_name,
                u.first_name,
                u.last_name,
                u.phone,
                u.bot_user,
            )
            for u in c.user_roster
        )
        return BotIdentity(self.name, c.alias, c.bot_info.full_name, c.bot_info.email, users)

    @property
    def default_format(self) -> MessageFormat:
        """The robot's DefaultMessageFormat."""
        return MessageFormat[self.config.default_message_format]

    @property
    def workspace(self) -> Path:
        """The base working directory of pipelines that are not homed."""
        ws = self.config.work_space
        return (self.home / ws).resolve() if ws else self.home

    @property
    def spawner(self) -> Spawner | None:
        """How children start: a spare, else forked by the zygote; None: new interpreters."""
        if self.spares is not None:
            return self.spares
        return self.zygote.spawn if self.zygote is not None else None

    @property
    def background_spawner(self) -> Spawner | None:
        """How children of work nobody waits for (the plugins' start-up `_init`) start: forked
        by the zygote, never from the spares, which are there for commands. (A start-up took
        the spares for its inits, and the first command after it waited for a fork.)"""
        return self.zygote.spawn if self.zygote is not None else None

    def child_identity(self, privileged: bool) -> ChildIdentity | None:
        """Who a pipeline's children run as: PrivSep's account unless privileged (None: us)."""
        return None if privileged else self.privsep

    def child_limits(self, privileged: bool) -> ChildLimits:
        """The `ChildLimits` of robot.yaml for a child of a privileged or unprivileged pipeline."""
        c = self.config.child_limits
        unprivileged = self.child_identity(privileged) is not None
        return ChildLimits(c.cpu_seconds, c.memory, c.open_files, c.processes_for(unprivileged))

    @property
    def lib_paths(self) -> list[str]:
        """Folders where bindings look for extension modules."""
        lib = self.home / "lib"
        return [str(lib)] if lib.is_dir() else []

    def pipeline_log_path(self, pipeline_id: int) -> Path | None:
        """Where a pipeline's log goes."""
        return self.pipeline_logs.path(pipeline_id)

    def new_pipeline_id(self) -> int:
        """The id of a new pipeline; its log file is ready (engine/pipeline_logs.py)."""
        return self.pipeline_logs.new(running=self.pipelines.__contains__)

    def is_admin(self, user: str) -> bool:
        """CheckAdmin: listed in AdminUsers and in the UserRoster."""
        return is_admin(
            user, self.config.admin_users, [u.user_name for u in self.config.user_roster]
        )

    def bot_attribute(self, key: str) -> str | None:
        """A GetBotAttribute value (reference 2.3)."""
        info = self.config.bot_info
        values = {
            "name": self.name,
            "fullname": info.full_name,
            "realname": info.full_name,
            "alias": self.config.alias,
            "mail": info.email,
            "email": info.email,
            "contact": self.config.admin_contact,
            "admin": self.config.admin_contact,
            "admincontact": self.config.admin_contact,
            "protocol": self.primary_protocol,
            "id": f"<{self.name}>",
            "internalid": f"<{self.name}>",
            "protocolid": f"<{self.name}>",
        }
        return values.get(key)

    def user_attribute(self, protocol: str, user: str, key: str) -> tuple[str, RetVal]:
        """A GetUserAttribute value: the UserRoster first, then the connector."""
        fields = {
            "name": "user_name",
            "username": "user_name",
            "handle": "user_name",
            "user": "user_name",
            "id": "user_id",
            "internalid": "user_id",
            "protocolid": "user_id",
            "mail": "email",
            "email": "email",
            "fullname": "full_name",
            "realname": "full_name",
            "firstname": "first_name",
            "givenname": "first_name",
            "lastname": "last_name",
            "surname": "last_name",
            "phone": "phone",
        }
        field_name = fields.get(key)
        if field_name is None:
            return "", RetVal.AttributeNotFound
        for entry in self.config.user_roster:
            if entry.user_name.lower() == user.lower():
                value = str(getattr(entry, field_name))
                if value:
                    return value, RetVal.Ok
        connector = self.connectors.get(protocol)
        fallback = connector.user_attribute(user, key) if connector is not None else None
        return (fallback, RetVal.Ok) if fallback else ("", RetVal.AttributeNotFound)

    def reveal(self, value: str, what: str) -> str:
        """Decrypt an `encrypted:` configuration value; other values pass unchanged."""
        if not value.startswith(ENCRYPTED_PREFIX):
            return value
        if self.secrets is None:
            log.error("%s is encrypted but %s is not set; withheld", what, ENCRYPTION_KEY_ENV)
            return ""
        try:
            return self.secrets.decrypt_secret(value[len(ENCRYPTED_PREFIX) :])
        except SecretError as exc:
            log.error("%s cannot be decrypted (%s); withheld", what, exc)
            return ""

    def timeouts_for(self, task: TaskDef, starter: TaskDef) -> tuple[float, float]:
        """(warn, kill) seconds for running `task` in a pipeline started by `starter`."""
        for source in (task, starter):
            settings = source.plugin or source.job
            if settings is not None and settings.time_outs.kill is not None:
                kill = settings.time_outs.kill
                return settings.time_outs.warn or kill, kill
        defaults = (
            self.config.time_outs.job
            if starter.kind is TaskKind.JOB
            else self.config.time_outs.plugin
        )
        return defaults.warn, defaults.kill

    # -- messages ---------------------------------------------------------------------------

    async def incoming(self, message: IncomingMessage) -> None:
        """Queue a heard message for routing (connectors call this)."""
        await self._inbox.put(message)

    async def _route_loop(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                await self.route(message)
            except Exception:  # a routing bug must not stop the robot hearing the next message
                log.exception("routing failed for %r", message)

    async def send(self, protocol: str, message: OutgoingMessage) -> RetVal:
        """Send through the connector of `protocol`."""
        connector = self.connectors.get(protocol)
        if connector is None:
            log.error(
                "no connector for protocol %r; message dropped: %s", protocol, message.text[:80]
            )
            return RetVal.Failed
        try:
            return await connector.send(message)
        except Exception:
            log.exception("%s connector failed to send", protocol)
            return RetVal.FailedMessageSend

    async def _answer(
        self, message: IncomingMessage, text: str, *, say: bool = False, thread: bool = False
    ) -> None:
        answer = message.answer(text, addressed=not say)
        if thread and answer.channel:  # SayThread: in the message's thread
            answer = dataclasses.replace(answer, thread_id=message.thread_id, threaded=True)
        await self.send(message.protocol, answer)

    def routing_index(self) -> RoutingIndex:
        """The catalog indexed for routing (`burrow.engine.routing`), built once per catalog.

        It is rebuilt when the catalog or the configuration is replaced (a load); a task
        disabled or enabled in place needs no rebuild, as routing reads `disabled` as it goes.
        """
        built = self._routing
        if built is None or built[0] is not self.catalog or built[1] is not self.loaded:
            assert self.loaded is not None, "the robot has not loaded its configuration"
            settings = RoutingSettings.from_config(self.config, self.name)
            index = RoutingIndex.build(self.catalog, settings)
            self._routing = built = (self.catalog, self.loaded, index)
        return built[2]

    async def route(
        self,
        message: IncomingMessage,
        user_groups: Mapping[str, frozenset[str] | None] | None = None,
    ) -> None:
        """Route a heard message: snapshot state, `routing.decide`, perform what it says.

        `user_groups`: the sender's groups by authorizer, when routing asked for them
        (`AskGroups`); an authorizer routing asks for again is taken as not knowing them.
        """
        connector = self.connectors.get(message.protocol)
        place = place_of(message)
        state = RobotState(
            hidden_supported=connector is not None and connector.supports_hidden,
            prompt_waiting=prompt_key_of(message) in self.waiters,
            subscriber=self.subscriptions.get(
                (message.protocol, message.channel, message.thread_id), ""
            ),
            last_unaddressed=self._last_unaddressed.get(place),
            now=time.monotonic(),
            user_groups=user_groups or {},
        )
        routing = decide(message, self.routing_index(), state)
        while user_groups is not None and routing.reason is Reason.ASK_GROUPS:
            asked = [a for a in routing.actions if isinstance(a, AskGroups)]
            unknown = {name: None for action in asked for name in action.authorizers}
            if not unknown:
                break
            state = dataclasses.replace(state, user_groups={**state.user_groups, **unknown})
            routing = decide(message, self.routing_index(), state)
        if routing.reason is Reason.ASK_GROUPS:  # its events are the second decision's
            await self._perform(message, routing)
            return
        for event in routing_events(message.direct, routing.reason):
            emit_event(self.connectors, message.protocol, event)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("routed %r: %s %s", message.text[:80], routing.reason.name, routing.detail)
        await self._perform(message, routing)

    async def _perform(self, message: IncomingMessage, routing: Routing) -> None:
        """Perform a routing decision's actions, in order."""
        if routing.reason is Reason.AMBIGUOUS:
            log.warning(
                "command %r matched several plugins (%s); nothing runs",
                message.text,
                routing.detail,
            )
        for action in routing.actions:
            match action:
                case Start(task, command, args, trigger, automatic):
                    run = TaskRun(task, command, list(args))
                    self.start_pipeline(run, message, automatic=automatic, trigger=trigger)
                case StartCommand(task, command, captures, contexts):
                    resolved = await self._resolve_contexts(message, contexts, captures)
                    if isinstance(resolved, str):
                        await self._answer(message, resolved)
                    else:
                        self.start_pipeline(TaskRun(task, command, resolved), message)
                case Answer(text, say, thread):
                    await self._answer(message, text, say=say, thread=thread)
                case AskGroups(authorizers):
                    asking = asyncio.get_running_loop().create_task(
                        self._route_with_groups(message, authorizers)
                    )
                    self._tasks.add(asking)
                    asking.add_done_callback(self._tasks.discard)
                case Deliver(key, text):
                    self.waiters.deliver(key, text)
                case Reroute(text):
                    await self.route(dataclasses.replace(message, text=text))
                case Forget(place):
                    self._last_unaddressed.pop(place, None)
                case Remember(place, text, at):
                    if len(self._last_unaddressed) > 10_000:  # a busy robot: forget the expired
                        self._last_unaddressed = {
                            k: v
                            for k, v in self._last_unaddressed.items()
                            if at - v[1] < LAST_MESSAGE_WINDOW
                        }
                    self._last_unaddressed[place] = (text, at)

    async def _route_with_groups(
        self, message: IncomingMessage, authorizers: tuple[str, ...]
    ) -> None:
        """Ask `authorizers` which groups the sender is in (`_usergroups`, in a pipeline of the
        sender's, as help does), then route the message again with the answers."""
        from burrow.engine.help_groups import UserGroups

        groups: dict[str, frozenset[str] | None] = {}
        tasks = [self.catalog.get(name) for name in authorizers]
        usable = [t for t in tasks if t is not None and not t.disabled]
        if usable:
            pipeline = Pipeline(self, TaskRun(usable[0], "_usergroups"), message)
            self.pipelines[pipeline.id] = pipeline
            try:
                asker = UserGroups(pipeline)
                for name in authorizers:
                    groups[name] = await asker.of(name)
            except Exception:  # an authorizer's failure must not lose the message
                log.exception("asking %s for %s's groups failed", authorizers, message.user)
            finally:
                pipeline.close_log()
                await self.pipeline_ended(pipeline)
        if not self._stopping.is_set():
            await self.route(message, {name: groups.get(name) for name in authorizers})

    async def _resolve_contexts(
        self, message: IncomingMessage, contexts: tuple[str, ...], captures: tuple[str, ...]
    ) -> list[str] | str:
        """Apply matcher `Contexts`: remember named captures, fill in generic ones.

        `Contexts` lists one label per capture group: `server` or `server:it:that`. A capture
        that is empty or one of the alternates is replaced by the remembered `context:server`;
        any other value is remembered for next time. Returns the captures, or the reply when a
        generic word cannot be resolved.
        """
        out = list(captures)
        if not contexts or self.memory is None:
            return out
        where = MemoryContext(
            message.user, message.channel, message.thread_id, message.threaded, message.protocol
        )
        for index, spec in enumerate(contexts[: len(out)]):
            name, *alternates = spec.split(":")
            if not name:
                continue
            if out[index].strip().lower() in {"", *(a.lower() for a in alternates)}:
                remembered = self.memory.recall(where, f"context:{name}")
                if not remembered:
                    return f"Sorry, I don't remember which {name} you mean"
                out[index] = remembered
            else:
                await self.memory.remember_context(where, name, out[index])
        return out

    # -- pipelines --------------------------------------------------------------------------

    def start_pipeline(
        self,
        run: TaskRun,
        message: IncomingMessage,
        *,
        automatic: bool = False,
        trigger: str = "command",
    ) -> Pipeline:
        """Start a pipeline in its own task; return it at once."""
        pipeline = Pipeline(self, run, message, automatic=automatic, trigger=trigger)
        self._launch(pipeline)
        return pipeline

    def _launch(self, pipeline: Pipeline) -> asyncio.Task[int]:
        self.pipelines[pipeline.id] = pipeline
        task = asyncio.get_running_loop().create_task(self._run_pipeline(pipeline))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run_pipeline(self, pipeline: Pipeline) -> int:
        try:
            ret = await pipeline.run()
        except Exception:  # a pipeline bug ends that pipeline, never the robot
            log.exception("pipeline %d failed inside the robot", pipeline.id)
            await self.pipeline_ended(pipeline)
            return 2
        if pipeline.initializing and ret != TaskRetVal.Normal and pipeline.killed is None:
            log.warning(
                "plugin %s: _init ended with %s (pipeline %d, log %s); the plugin stays enabled",
                pipeline.starter.task.name,
                ret_name(ret),
                pipeline.id,
                self.pipeline_log_path(pipeline.id),
            )
        return ret

    async def pipeline_ended(self, pipeline: Pipeline) -> None:
        """Release what a pipeline held: Exclusive tags and datum locks."""
        self.exclusive.release_all(pipeline)
        self.pipelines.pop(pipeline.id, None)
        if self.datums is not None:
            await self.datums.release_owner(str(pipeline.id))

    def automatic_message(self, channel: str) -> IncomingMessage:
        """The message context of work nobody typed (schedules, @init)."""
        return IncomingMessage(protocol=self.primary_protocol, user="", text="", channel=channel)


def _preload_modules(registry: BindingRegistry, config: RobotConfig) -> dict[str, list[str]]:
    """What each binding's zygote imports once for all its children: the binding's method
    modules, for each binding that an extension of robot.yaml uses.

    Only those: every page a zygote holds is mapped again at every fork and unmapped at every
    exit, and an unused binding can be large (the JavaScript one maps V8's library, about
    25 MiB, which made each Lua child cost about 0.4 ms more CPU). A binding no extension
    names is still served, by a child that imports it itself.
    """
    paths = [
        str(spec.path)
        for specs in (config.external_plugins, config.external_jobs, config.external_tasks)
        for spec in specs.values()
        if not spec.disabled
    ]
    preloads = {}
    for binding in registry.bindings.values():
        if any(path.endswith(tuple(binding.suffixes)) for path in paths):
            targets = binding.methods.values()
            preloads[binding.name] = sorted({target.partition(":")[0] for target in targets})
    return preloads
