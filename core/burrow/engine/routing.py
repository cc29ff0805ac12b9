"""Routing: what a heard message starts, decided without touching the robot.

`decide(message, index, state)` is a pure function. `RoutingIndex` is the catalog as routing
needs it, built once per catalog (per load): every plugin with its compiled routes and policy,
every plugin's `Commands` and `MessageMatchers` and every job's `Triggers` in RE2 Sets
(`matching.PatternSet`), the catch-alls, the robot's routing settings. `RobotState` is what
routing reads of the robot's changing state for this one message: whether a prompt waits for
it, which plugin watches its thread, the sender's last unaddressed message here. The answer, a
`Routing`, says why (`Reason`) and what to do: a small set of `Action`s that `Robot.route`
performs in order, and nothing else has happened when `decide` returns.

One effect cannot be decided here: a matched command whose matcher has `Contexts` needs
short-term memory (reading it, and remembering what the user named). Its action,
`StartCommand`, says "resolve the contexts, then start the command (or answer why not)"; the
robot does both.

Nor can one fact: whether the sender is in the group a command's authorizer requires. Upstream
names a command that exists but not here (or a SimpleMatcher near miss) only to a user who
may see it (bot/available.go, commandVisibleToUser), and for a command that needs
authorization that means its authorizer's `_usergroups` says the sender is in its
`AuthRequire` group. When such a hint depends on it and `RobotState.user_groups` lacks the
authorizer's answer, the decision is `AskGroups`: the robot asks (in a pipeline, as any
extension call) and decides again with the answers.

The order is upstream's (bot/handler.go, bot/dispatch.go in
https://github.com/lnxjedi/gopherbot) and is described in docs/configuration.md, "Routing":
the gates (self, ignored and unlisted users, hidden), a waiting prompt, a bare address, the
addressed commands of the plugins available here (two → nothing runs), ambient matchers, job
triggers, a thread subscription, then for an addressed message: a command that exists but not
here, a catch-all, "I don't know"; an unaddressed one is remembered for a later bare address.

Cost: a message costs one RE2 Set pass per text variant and per `matching.SET_CHUNK` patterns,
then work only for the plugins and jobs whose patterns matched and for the catch-alls; never a
pass over every task. A task's `disabled` is read when deciding, so disabling a task in place
takes effect at once; anything else about the catalog is read when the index is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from burrow.connectors.base import IncomingMessage
from burrow.engine.addressing import AddressMode, address
from burrow.engine.catalog import Catalog, TaskDef, TaskKind
from burrow.engine.config import RobotConfig
from burrow.engine.matching import (
    MULTIPLE_MATCHES_MESSAGE,
    DiagnosticIndex,
    Match,
    MatcherIndex,
    PatternSet,
    PluginRoutes,
    select_catch_all,
)
from burrow.engine.patterns import Pattern, compile_pattern
from burrow.engine.policy import MessageContext, PluginPolicy, command_visible, plugin_available
from burrow.engine.prompts import PromptKey, prompt_key

__all__ = [
    "LAST_MESSAGE_WINDOW",
    "Action",
    "Answer",
    "AskGroups",
    "Deliver",
    "Forget",
    "Place",
    "Reason",
    "Remember",
    "Reroute",
    "RobotState",
    "Routing",
    "RoutingIndex",
    "RoutingSettings",
    "Start",
    "StartCommand",
    "decide",
    "place_of",
    "prompt_key_of",
    "unknown_command",
]

LAST_MESSAGE_WINDOW = 77.0  # seconds a bare address may pick up the last message (upstream)

Place = tuple[str, str, str, str]  # protocol, user, channel, thread ("" unless threaded)


def place_of(message: IncomingMessage) -> Place:
    """Where a message was said, by whom: the key of the last unaddressed message."""
    thread = message.thread_id if message.threaded else ""
    return (message.protocol, message.user, message.channel, thread)


def prompt_key_of(message: IncomingMessage) -> PromptKey:
    """The key of the prompt waiters a message would answer."""
    thread = message.thread_id if message.threaded else ""
    return prompt_key(message.protocol, message.user, message.channel, thread)


# -- what to do -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Start a pipeline: `task` run with `command` and `args`, started by `trigger`."""

    task: TaskDef
    command: str
    args: tuple[str, ...]
    trigger: str
    automatic: bool = False


@dataclass(frozen=True)
class StartCommand:
    """Resolve the matcher's `Contexts` with short-term memory, then start the command.

    When a generic word cannot be resolved, answer why instead (see `Robot._resolve_contexts`).
    """

    task: TaskDef
    command: str
    captures: tuple[str, ...]
    contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """Answer the sender with `text`, where the message came from.

    `say`: to the channel rather than addressed to the sender; `thread`: in the message's
    thread (a channel message gets one).
    """

    text: str
    say: bool = False
    thread: bool = False


@dataclass(frozen=True)
class AskGroups:
    """Ask these authorizers (`_usergroups`) which groups the sender is in, then decide again
    with their answers in `RobotState.user_groups`."""

    authorizers: tuple[str, ...]


@dataclass(frozen=True)
class Deliver:
    """Give the message's text to the prompt waiting at `key`."""

    key: PromptKey
    text: str


@dataclass(frozen=True)
class Reroute:
    """Route the message again as if it said `text` (a bare address re-running the last one)."""

    text: str


@dataclass(frozen=True)
class Remember:
    """Remember `text` as the last unaddressed message said at `place`, at time `at`."""

    place: Place
    text: str
    at: float


@dataclass(frozen=True)
class Forget:
    """Forget the last unaddressed message said at `place`."""

    place: Place


Action = Start | StartCommand | Answer | AskGroups | Deliver | Reroute | Remember | Forget


class Reason(StrEnum):
    """Why a message was routed as it was."""

    SELF = "the robot's own message, and HearSelf is off"
    NO_USER = "no sender"
    IGNORED_USER = "the sender is in IgnoreUsers"
    UNLISTED_USER = "the sender is not in the UserRoster, and IgnoreUnlistedUsers is on"
    HIDDEN_UNSUPPORTED = "a hidden message through a connector without hidden messages"
    HIDDEN_UNADDRESSED = "a hidden message not addressed to the robot"
    PROMPT = "a prompt was waiting for it"
    REPEAT_LAST = "a bare address: the sender's last unaddressed message runs"
    BARE_ADDRESS = "a bare address, and nothing recent to run"
    AMBIGUOUS = "the command matched several plugins; nothing runs"
    COMMAND = "a command"
    SYNTAX = "a SimpleMatcher command with one value that does not fit; its diagnostic"
    AMBIENT = "ambient message matchers"
    TRIGGERED = "job triggers"
    SUBSCRIBED = "the thread's subscribed plugin"
    WRONG_PLACE = "the command exists but cannot be run here"
    ASK_GROUPS = "a hint depends on the sender's groups; the authorizer is asked first"
    CATCH_ALL = "a catch-all, for an addressed message that matched nothing"
    UNKNOWN_COMMAND = "an addressed message that matched nothing, and no catch-all"
    CHATTER = "an unaddressed message that matched nothing; remembered"
    NOTHING = "an empty unaddressed message"


@dataclass(frozen=True)
class Routing:
    """The decision: why, and the actions to perform in order. `detail` is for the log."""

    reason: Reason
    actions: tuple[Action, ...] = ()
    detail: str = ""


# -- what routing knows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingSettings:
    """The robot's own settings that routing reads: who it is, whom it ignores."""

    name: str
    alias: str = ";"
    hear_self: bool = False
    ignore_users: frozenset[str] = frozenset()
    ignore_unlisted_users: bool = False
    roster: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()  # AdminUsers who are in the UserRoster
    bot_mention: str | None = None
    default_authorizer: str = ""

    @classmethod
    def from_config(cls, config: RobotConfig, name: str) -> RoutingSettings:
        """The settings of a validated robot.yaml, for a robot called `name`."""
        roster = frozenset(u.user_name for u in config.user_roster)
        return cls(
            name=name,
            alias=config.alias,
            hear_self=config.hear_self,
            ignore_users=frozenset(config.ignore_users),
            ignore_unlisted_users=config.ignore_unlisted_users,
            roster=roster,
            admins=frozenset(config.admin_users) & roster,
            default_authorizer=config.default_authorizer,
        )


@dataclass(frozen=True)
class RobotState:
    """What routing reads of the robot's changing state, snapshotted for one message."""

    hidden_supported: bool = False  # the message's connector can carry hidden messages
    prompt_waiting: bool = False  # a prompt waits for this sender here (`prompt_key_of`)
    subscriber: str = ""  # the plugin subscribed to the message's thread, if any
    last_unaddressed: tuple[str, float] | None = None  # (text, when) at `place_of(message)`
    now: float = 0.0  # on the clock of `last_unaddressed` (monotonic)
    # The sender's groups by authorizer, as its `_usergroups` answered (None: not known);
    # an authorizer missing here has not been asked for this message (`AskGroups`).
    user_groups: Mapping[str, frozenset[str] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plugin:
    task: TaskDef
    routes: PluginRoutes
    policy: PluginPolicy | None
    ambient_match_command: bool


@dataclass(frozen=True)
class _Trigger:
    user: str
    channel: str
    pattern: Pattern


@dataclass(frozen=True)
class _Job:
    task: TaskDef
    triggers: tuple[_Trigger, ...]


@dataclass
class RoutingIndex:
    """The catalog as routing needs it; build it once per catalog with `build`."""

    settings: RoutingSettings
    plugins: tuple[_Plugin, ...] = ()
    jobs: tuple[_Job, ...] = ()
    tasks: Mapping[str, TaskDef] = field(default_factory=dict)
    commands: MatcherIndex = field(init=False)
    near_misses: DiagnosticIndex = field(init=False)
    ambient: MatcherIndex = field(init=False)
    catch_alls: tuple[int, ...] = field(init=False)  # positions in `plugins`
    _trigger_owner: tuple[tuple[int, int], ...] = field(init=False)  # -> (job, trigger)
    _triggers: PatternSet = field(init=False)

    def __post_init__(self) -> None:
        routes = [p.routes for p in self.plugins]
        self.commands = MatcherIndex(routes, ambient=False)
        self.near_misses = DiagnosticIndex(routes)
        self.ambient = MatcherIndex(routes, ambient=True)
        self.catch_alls = tuple(i for i, p in enumerate(self.plugins) if p.routes.catch_all)
        owner = [(j, t) for j, job in enumerate(self.jobs) for t in range(len(job.triggers))]
        self._trigger_owner = tuple(owner)
        self._triggers = PatternSet(
            [self.jobs[j].triggers[t].pattern for j, t in owner], anchored=False
        )

    @classmethod
    def build(cls, catalog: Catalog, settings: RoutingSettings) -> RoutingIndex:
        """Index every plugin that has routes and every job that has triggers, in catalog order.

        Disabled tasks are indexed too (routing skips them while they stay disabled), so that
        enabling or disabling one in place needs no new index.
        """
        plugins = []
        jobs = []
        for task in catalog.tasks.values():
            if task.kind is TaskKind.PLUGIN and task.routes is not None:
                amc = task.plugin is not None and task.plugin.ambient_match_command
                plugins.append(_Plugin(task, task.routes, task.policy, amc))
            elif task.kind is TaskKind.JOB and task.job is not None and task.job.triggers:
                triggers = tuple(
                    _Trigger(t.user, t.channel, compile_pattern(t.regex)) for t in task.job.triggers
                )
                jobs.append(_Job(task, triggers))
        return cls(settings, tuple(plugins), tuple(jobs), dict(catalog.tasks))

    def triggered(self, text: str) -> list[int]:
        """Positions in `jobs` of the jobs with a trigger whose regex is found in `text`."""
        owner = self._trigger_owner
        return sorted({owner[i][0] for i in self._triggers.matching(text)})


class _Availability:
    """Whether each plugin takes part for this message (`policy.plugin_available`), memoised."""

    def __init__(self, index: RoutingIndex, context: MessageContext) -> None:
        self._plugins = index.plugins
        self._context = context
        self._known: dict[int, bool] = {}

    def __call__(self, position: int) -> bool:
        known = self._known.get(position)
        if known is None:
            policy = self._plugins[position].policy
            known = policy is not None and plugin_available(policy, self._context)
            self._known[position] = known
        return known


# -- the decision ---------------------------------------------------------------------------------


def decide(message: IncomingMessage, index: RoutingIndex, state: RobotState) -> Routing:
    """Decide what `message` starts: why, and the actions to perform in order.

    The order is documented in docs/configuration.md, "How a message is routed".
    """
    s = index.settings
    if message.self_message and not s.hear_self:
        return Routing(Reason.SELF)
    if not message.user:
        return Routing(Reason.NO_USER)
    if message.user in s.ignore_users:
        return Routing(Reason.IGNORED_USER)
    if s.ignore_unlisted_users and message.user not in s.roster:
        return Routing(Reason.UNLISTED_USER)
    if message.hidden and not state.hidden_supported:
        return Routing(Reason.HIDDEN_UNSUPPORTED)
    addressed = address(
        message.text,
        alias=s.alias,
        bot_name=s.name,
        bot_mention=s.bot_mention,
        direct=message.direct,
        hidden=message.hidden,
        bot_message=message.bot_message,
    )
    if message.hidden and not addressed.addressed:
        return Routing(Reason.HIDDEN_UNADDRESSED)
    # A pending prompt consumes the next message from its user and place, before routing.
    if state.prompt_waiting:
        text = addressed.text if addressed.addressed else message.text
        return Routing(Reason.PROMPT, (Deliver(prompt_key_of(message), text),))
    place = place_of(message)
    if addressed.addressed and not addressed.text.strip():
        # Reference 5.7 step 3: a bare address means "that last thing I said was for you".
        last = state.last_unaddressed
        forget: tuple[Action, ...] = (Forget(place),) if last is not None else ()
        if last is not None and state.now - last[1] < LAST_MESSAGE_WINDOW:
            return Routing(Reason.REPEAT_LAST, (*forget, Reroute(f"{s.name}: {last[0]}")))
        return Routing(Reason.BARE_ADDRESS, (*forget, Answer("Yes?")))

    context = MessageContext(
        user=message.user,
        channel=message.channel,
        hidden=message.hidden,
        is_admin=message.user in s.admins,
    )
    available = _Availability(index, context)
    visible = _Visibility(s.default_authorizer, context, state.user_groups)
    commands: list[tuple[int, Match]] = []  # enabled plugins' Commands that match, anywhere
    if addressed.addressed:
        commands = [
            (position, found)
            for position, found in index.commands.matches(addressed.text)
            if not index.plugins[position].task.disabled
        ]
        here = [(position, found) for position, found in commands if available(position)]
        if len(here) > 1:
            names = ", ".join(found.plugin for _, found in here)
            return Routing(Reason.AMBIGUOUS, (Answer(MULTIPLE_MATCHES_MESSAGE),), names)
        if here:
            position, found = here[0]
            task = index.plugins[position].task
            command = StartCommand(task, found.command, found.captures, found.matcher.contexts)
            return Routing(Reason.COMMAND, (command,), found.plugin)
        # Upstream: a SimpleMatcher command whose words match but one value does not fit is
        # answered with what is wrong (in a thread), if it is the only such command here.
        near = _near_miss(addressed.text, index, available, visible)
        if visible.missing:
            return _ask(visible)
        if near is not None:
            answer = Answer(near[1], say=True, thread=not message.direct)
            return Routing(Reason.SYNTAX, (answer,), near[0])

    if not message.bot_message:
        heard = [
            Start(index.plugins[position].task, found.command, found.captures, "ambient")
            for position, found in index.ambient.matches(message.text)
            if not index.plugins[position].task.disabled
            and available(position)
            and (not addressed.addressed or index.plugins[position].ambient_match_command)
        ]
        if heard:
            return Routing(Reason.AMBIENT, tuple(heard))

    triggered = _triggered(message, index)
    if triggered:
        return Routing(Reason.TRIGGERED, triggered)

    if message.threaded and state.subscriber:
        watcher = index.tasks.get(state.subscriber)
        # A thread watched by a plugin the sender could not use is not that plugin's to hear.
        if (
            watcher is not None
            and not watcher.disabled
            and (watcher.policy is None or plugin_available(watcher.policy, context))
        ):
            start = Start(watcher, "_subscribed", (message.text,), "subscription")
            return Routing(Reason.SUBSCRIBED, (start,), watcher.name)

    if addressed.mode is not None:
        return _unmatched(
            message, addressed.text, addressed.mode, index, commands, available, visible
        )
    if message.text.strip():
        return Routing(Reason.CHATTER, (Remember(place, message.text, state.now),))
    return Routing(Reason.NOTHING)


def _near_miss(
    text: str, index: RoutingIndex, available: _Availability, visible: _Visibility
) -> tuple[str, str] | None:
    """(plugin/command, diagnostic) of the one visible SimpleMatcher command `text` nearly is."""

    def wanted(position: int, command: str) -> bool:
        plugin = index.plugins[position]
        return not plugin.task.disabled and available(position) and visible(plugin.policy, command)

    found = index.near_misses.diagnostics(text, wanted)
    said = {diagnostic for _, _, diagnostic in found}
    if len(said) != 1:
        return None
    position, command, diagnostic = found[0]
    return f"{index.plugins[position].task.name}/{command}", diagnostic


class _Visibility:
    """Whether the sender may learn that a command exists: upstream's commandVisibleToUser.

    Not for a plugin hidden from them, nor an `AdminCommands` command unless they are an
    administrator (`policy.command_visible`); and a command that needs authorization only when
    its plugin names a group (`AuthRequire`), it has an authorizer, and that authorizer's
    `_usergroups` put the sender in the group. An authorizer not asked yet is noted in
    `missing` (the decision is then `AskGroups`) and the command counts as hidden meanwhile.
    """

    def __init__(
        self,
        default_authorizer: str,
        context: MessageContext,
        groups: Mapping[str, frozenset[str] | None],
    ) -> None:
        self._default = default_authorizer
        self._context = context
        self._groups = groups
        self.missing: list[str] = []

    def __call__(self, policy: PluginPolicy | None, command: str) -> bool:
        if policy is None or not command_visible(policy, command, self._context):
            return False
        if not (policy.authorize_all_commands or command in policy.authorized_commands):
            return True
        required = policy.auth_require.strip()
        authorizer = policy.authorizer or self._default
        if not required or not authorizer:
            return False
        if authorizer not in self._groups:
            if authorizer not in self.missing:
                self.missing.append(authorizer)
            return False
        groups = self._groups[authorizer]
        return groups is not None and (required in groups or required.lower() in groups)


def _ask(visible: _Visibility) -> Routing:
    authorizers = tuple(visible.missing)
    return Routing(Reason.ASK_GROUPS, (AskGroups(authorizers),), ", ".join(authorizers))


def _triggered(message: IncomingMessage, index: RoutingIndex) -> tuple[Action, ...]:
    """Start every enabled job with a trigger for this sender and channel found in the text."""
    started: list[Action] = []
    for position in index.triggered(message.text):
        job = index.jobs[position]
        if job.task.disabled:
            continue
        for trigger in job.triggers:
            if (trigger.user and trigger.user != message.user) or (
                trigger.channel and trigger.channel != message.channel
            ):
                continue
            found = trigger.pattern.search(message.text)
            if found is not None:
                args = tuple(g or "" for g in found.groups())
                started.append(Start(job.task, "", args, "triggered", automatic=True))
                break
    return tuple(started)


def _unmatched(
    message: IncomingMessage,
    text: str,
    mode: AddressMode,
    index: RoutingIndex,
    commands: list[tuple[int, Match]],
    available: _Availability,
    visible: _Visibility,
) -> Routing:
    """An addressed message that started nothing: a reason, a catch-all, or "I don't know"."""
    # A command that exists but not here deserves a reason, not a shrug; but one hidden from
    # the sender (Users, RequireAdmin, AdminCommands, a group they are not in) is not revealed:
    # it is unknown to them.
    elsewhere = [
        found
        for position, found in commands
        if not available(position) and visible(index.plugins[position].policy, found.command)
    ]
    if visible.missing:
        return _ask(visible)
    if len(elsewhere) == 1:
        where = "as a private command" if message.direct or message.hidden else "in this channel"
        qualified = f"{elsewhere[0].plugin}/{elsewhere[0].command}"
        answer = Answer(f"Sorry, '{qualified}' cannot be run {where}")
        return Routing(Reason.WRONG_PLACE, (answer,), qualified)
    candidates = [
        index.plugins[position].routes
        for position in index.catch_alls
        if not index.plugins[position].task.disabled and available(position)
    ]
    catch_all = select_catch_all(candidates, mode)
    if catch_all is not None:
        task = index.tasks[catch_all]
        start = Start(task, "_catchall", (text,), "catchall")
        return Routing(Reason.CATCH_ALL, (start,), catch_all)
    answer = Answer(
        unknown_command(text, mode, index.settings, "" if message.direct else message.channel),
        say=not message.hidden,  # a hidden message's answer stays the sender's
        thread=not message.direct,
    )
    return Routing(Reason.UNKNOWN_COMMAND, (answer,))


def unknown_command(text: str, mode: AddressMode, settings: RoutingSettings, channel: str) -> str:
    """What an addressed message that matched nothing is told, in upstream's words.

    Upstream's fallback (bot/builtins.go, bot/help_metadata_api.go) says it in a thread:
    "I couldn't match `;frob` in channel `#general`." and where to look, with the command
    written the way the sender addressed the robot.
    """
    by_name = settings.name and (mode is AddressMode.NAME or not settings.alias)
    prefix = f"{settings.name}, " if by_name else settings.alias
    attempt = " ".join(text.split())
    shown = f"`{attempt if attempt.startswith(prefix) else prefix + attempt}`"
    where = f" in channel `#{channel}`" if channel else ""
    help_prefix = settings.alias or f"{settings.name}, "
    return (
        f"I couldn't match {shown}{where}.\n"
        f"Try `{help_prefix}commands` or `{help_prefix}help <keyword>`."
    )
