"""Decide whether a matched plugin command may run, in upstream Gopherbot's order.

Everything here is a pure function of the plugin's settings and the message context. The
checks that need an extension (the authorizer's `_authorize`, the elevator's `_elevate`) are
returned as `Callback` requests for the engine to run, authorizer first; their TaskRetVals are
then judged by `authorization_result` and `elevation_result`.

The engine judges every plugin command and job against the user its pipeline acts for, however
the command was reached (typed, AddCommand, a spawned or triggered job, a catch-all...). Only a
pipeline that acts for nobody (a schedule, `@init`) is judged by `check_unattended` instead.
The entry paths are listed in docs/security.md.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

__all__ = [
    "Callback",
    "Decision",
    "DecisionCode",
    "MessageContext",
    "PluginPolicy",
    "authorization_result",
    "authorizer_passed",
    "check_availability",
    "check_command",
    "check_job",
    "check_unattended",
    "command_visible",
    "elevation_result",
    "is_admin",
    "plugin_available",
    "user_can_access",
]

# TaskRetVal values (docs/protocol.md) that policy cares about; only Success grants anything.
_TASK_FAIL = 1
_TASK_SUCCESS = 7

_ALL_PRIVATE = "*"


@dataclass(frozen=True)
class PluginPolicy:
    """A plugin's security settings, as configured in `conf/plugins/<name>.yaml`."""

    name: str
    require_admin: bool = False
    admin_commands: frozenset[str] = frozenset()
    users: tuple[str, ...] = ()  # glob patterns (`*`, `?`, `[...]`); empty = everyone
    channels: frozenset[str] | None = None  # None = all channels
    allowed_private_commands: frozenset[str] = frozenset()  # may hold "*" = all commands
    required_private_commands: frozenset[str] = frozenset()
    require_all_commands_private: bool = False
    restrict_private_channels: bool = False
    authorizer: str = ""  # "" = the robot's DefaultAuthorizer
    auth_require: str = ""
    authorized_commands: frozenset[str] = frozenset()
    authorize_all_commands: bool = False
    elevator: str = ""  # "" = the robot's DefaultElevator
    elevated_commands: frozenset[str] = frozenset()
    elevate_immediate_commands: frozenset[str] = frozenset()

    @property
    def has_private_policy(self) -> bool:
        """Whether any command of the plugin may be run in a private context."""
        return bool(
            self.require_all_commands_private
            or self.allowed_private_commands
            or self.required_private_commands
        )


@dataclass(frozen=True)
class MessageContext:
    """Who sent the command and where; `channel == ""` means a direct message."""

    user: str
    channel: str
    hidden: bool = False
    is_admin: bool = False

    @property
    def private(self) -> bool:
        """Whether the command arrived in a private context (a DM or a hidden message)."""
        return self.channel == "" or self.hidden


class DecisionCode(StrEnum):
    """Why a command may or may not run."""

    OK = "ok"
    ADMIN_REQUIRED = "admin_required"
    PRIVATE_REQUIRED = "private_required"
    PRIVATE_NOT_ALLOWED = "private_not_allowed"
    AUTHORIZER_MISSING = "authorizer_missing"
    ELEVATOR_MISSING = "elevator_missing"
    NOT_AUTHORIZED = "not_authorized"
    AUTHORIZER_FAILED = "authorizer_failed"
    NOT_ELEVATED = "not_elevated"
    ELEVATOR_FAILED = "elevator_failed"
    USER_NOT_LISTED = "user_not_listed"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    JOB_NOT_ALLOWED = "job_not_allowed"
    NO_USER = "no_user"


@dataclass(frozen=True)
class Callback:
    """An engine callback to run before the command: `plugin` is run with `command` and `args`."""

    plugin: str
    command: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """A policy verdict: a code, the exact message for the user, and any callbacks still due."""

    code: DecisionCode
    message: str = ""
    authorize: Callback | None = None
    elevate: Callback | None = None

    @property
    def refused(self) -> bool:
        """Whether the command must not run; `message` is then what to tell the user."""
        return self.code is not DecisionCode.OK

    @property
    def allowed(self) -> bool:
        """Whether the command may run now, with no authorizer or elevator left to call."""
        return not self.refused and self.authorize is None and self.elevate is None

    @property
    def said_to_channel(self) -> bool:
        """Whether the refusal is said where the command was (Say), not addressed (Reply).

        As upstream: the admin, required-private, authorization and elevation refusals are
        said; the others are replies to the user.
        """
        return self.code in _SAID


_OK = Decision(DecisionCode.OK)
_SAID = frozenset(
    {
        DecisionCode.ADMIN_REQUIRED,
        DecisionCode.PRIVATE_REQUIRED,
        DecisionCode.AUTHORIZER_MISSING,
        DecisionCode.NOT_AUTHORIZED,
        DecisionCode.AUTHORIZER_FAILED,
        DecisionCode.ELEVATOR_MISSING,
        DecisionCode.NOT_ELEVATED,
        DecisionCode.ELEVATOR_FAILED,
    }
)


def is_admin(user: str, admin_users: Collection[str], roster_names: Collection[str]) -> bool:
    """CheckAdmin for a user: listed in `AdminUsers` and in the `UserRoster` (exact names)."""
    return user in admin_users and user in roster_names


def _user_listed(policy: PluginPolicy, user: str) -> bool:
    """Whether the plugin's `Users` whitelist admits the user (glob patterns, case-sensitive)."""
    return not policy.users or any(fnmatchcase(user, pattern) for pattern in policy.users)


def plugin_available(policy: PluginPolicy, context: MessageContext) -> bool:
    """Whether the plugin takes part in matching for this user in this place.

    A plugin is hidden from a user its `Users` does not list and, when it is `RequireAdmin`,
    from a non-administrator, as upstream (bot/available.go): such a user gets what any
    unknown command gets, never word that the command exists. Otherwise it is visible in a
    channel it lists (or any channel when it lists none); in a DM or a hidden message it is
    visible when it has a private policy, except that `RestrictPrivateChannels` confines hidden
    use to its listed channels.
    """
    return user_can_access(policy, context) and _reachable_here(policy, context)


def user_can_access(policy: PluginPolicy, context: MessageContext) -> bool:
    """Whether the plugin exists at all for this user: its `Users` and `RequireAdmin`."""
    if policy.require_admin and not context.is_admin:
        return False
    return _user_listed(policy, context.user)


def command_visible(policy: PluginPolicy, command: str, context: MessageContext) -> bool:
    """Whether the user may learn that `command` exists (say, that it is not available here).

    Not for a plugin hidden from them, nor for one of its `AdminCommands` unless they are an
    administrator (upstream's commandVisibleToUser).
    """
    if command in policy.admin_commands and not context.is_admin:
        return False
    return user_can_access(policy, context)


def _reachable_here(policy: PluginPolicy, context: MessageContext) -> bool:
    in_channel = context.channel != "" and (
        policy.channels is None or context.channel in policy.channels
    )
    if context.private and policy.has_private_policy:
        if policy.restrict_private_channels and policy.channels is not None:
            return in_channel
        return True
    return in_channel


def check_availability(policy: PluginPolicy, command: str, context: MessageContext) -> Decision:
    """Refuse a command of a plugin that the user could not have reached by typing it here.

    Routing only offers available plugins (`plugin_available`), so a typed command always
    passes; this catches the same command reached another way (AddCommand, a spawned job).
    An admin-only plugin is left to `check_command`, which refuses it with its own reason.
    """
    if not _user_listed(policy, context.user):
        qualified = f"{policy.name}/{command}"
        return Decision(
            DecisionCode.USER_NOT_LISTED, f"Sorry, '{qualified}' is not available to you"
        )
    if _reachable_here(policy, context):
        return _OK
    qualified = f"{policy.name}/{command}"
    return Decision(
        DecisionCode.CHANNEL_NOT_ALLOWED, f"Sorry, '{qualified}' cannot be run in this channel"
    )


def check_job(
    name: str, require_admin: bool, users: Sequence[str], context: MessageContext
) -> Decision:
    """Whether the user a pipeline acts for may run job `name` (its RequireAdmin and Users)."""
    listed = not users or any(fnmatchcase(context.user, pattern) for pattern in users)
    if (require_admin and not context.is_admin) or not listed:
        return Decision(
            DecisionCode.JOB_NOT_ALLOWED, f"Sorry, you are not allowed to run job '{name}'"
        )
    return _OK


def check_unattended(policy: PluginPolicy, command: str) -> Decision:
    """Judge a command reached by a pipeline that acts for nobody (a schedule, `@init`).

    Such a pipeline was started by the operator's own configuration, so it runs as the robot:
    admin-only commands and the Users and Channels limits do not stop it. A command that needs
    an authorizer or an elevator is refused: there is no user to authorize or to elevate, and
    failing closed is the only safe answer.
    """
    qualified = f"{policy.name}/{command}"
    if policy.authorize_all_commands or command in policy.authorized_commands:
        need = "authorization"
    elif command in policy.elevated_commands or command in policy.elevate_immediate_commands:
        need = "elevation"
    else:
        return _OK
    return Decision(
        DecisionCode.NO_USER,
        f"Sorry, '{qualified}' requires {need}, which needs a user; "
        "it cannot run from a scheduled or start-up job",
    )


def _requires_private(policy: PluginPolicy, command: str) -> bool:
    return policy.require_all_commands_private or command in policy.required_private_commands


def _missing(plugin: str, key: str, known_plugins: Collection[str] | None) -> str:
    """Say what is wrong with a required authorizer/elevator setting, or "" when it is usable."""
    if not plugin:
        return f"no {key} or Default{key} is configured"
    if known_plugins is not None and plugin not in known_plugins:
        return f"its {key.lower()} '{plugin}' is not an enabled plugin"
    return ""


def check_command(
    policy: PluginPolicy,
    command: str,
    captures: Sequence[str],
    context: MessageContext,
    *,
    default_authorizer: str = "",
    default_elevator: str = "",
    known_plugins: Collection[str] | None = None,
) -> Decision:
    """Run the pure policy checks in the reference order and say what the engine must still do.

    Order: admin, required-private, private context, authorization, elevation. A missing
    authorizer or elevator fails closed, and so does one that is not among `known_plugins` (the
    enabled plugins, when the caller passes them). When not refused, `Decision.authorize` (args
    `plugin, AuthRequire, command, captures...`) and then `Decision.elevate` (arg `"true"` when
    immediate) must still be run and pass before the command does.
    """
    qualified = f"{policy.name}/{command}"
    if (policy.require_admin or command in policy.admin_commands) and not context.is_admin:
        return Decision(
            DecisionCode.ADMIN_REQUIRED,
            f"Sorry, '{qualified}' is only available to bot administrators",
        )
    required_private = _requires_private(policy, command)
    if required_private and not context.private:
        return Decision(
            DecisionCode.PRIVATE_REQUIRED, "This command is only available in a private context."
        )
    if context.private and not (
        required_private
        or _ALL_PRIVATE in policy.allowed_private_commands
        or command in policy.allowed_private_commands
    ):
        return Decision(
            DecisionCode.PRIVATE_NOT_ALLOWED,
            f"Sorry, '{qualified}' cannot be run as a private command",
        )

    authorize: Callback | None = None
    if policy.authorize_all_commands or command in policy.authorized_commands:
        authorizer = policy.authorizer or default_authorizer
        missing = _missing(authorizer, "Authorizer", known_plugins)
        if missing:
            return Decision(
                DecisionCode.AUTHORIZER_MISSING,
                f"Sorry, '{qualified}' requires authorization, but {missing}; "
                "please ask a robot administrator",
            )
        args = (policy.name, policy.auth_require, command, *captures)
        authorize = Callback(authorizer, "_authorize", args)

    elevate: Callback | None = None
    immediate = command in policy.elevate_immediate_commands
    if immediate or command in policy.elevated_commands:
        elevator = policy.elevator or default_elevator
        missing = _missing(elevator, "Elevator", known_plugins)
        if missing:
            return Decision(
                DecisionCode.ELEVATOR_MISSING,
                f"Sorry, '{qualified}' requires elevation, but {missing}; "
                "please ask a robot administrator",
            )
        elevate = Callback(elevator, "_elevate", ("true" if immediate else "false",))

    return Decision(DecisionCode.OK, authorize=authorize, elevate=elevate)


def authorizer_passed(ret_val: int) -> bool:
    """Whether an authorizer's or elevator's TaskRetVal grants the request.

    Only Success (7) passes. Normal (0) is a failure: an extension that merely returned without
    saying yes has not authorized anything.
    """
    return ret_val == _TASK_SUCCESS


def authorization_result(ret_val: int) -> Decision:
    """Judge the TaskRetVal of an `_authorize` callback."""
    if authorizer_passed(ret_val):
        return _OK
    if ret_val == _TASK_FAIL:
        return Decision(
            DecisionCode.NOT_AUTHORIZED, "Sorry, you're not authorized for that command"
        )
    return Decision(
        DecisionCode.AUTHORIZER_FAILED,
        "Sorry, authorization failed due to a problem with the authorization plugin",
    )


def elevation_result(ret_val: int) -> Decision:
    """Judge the TaskRetVal of an `_elevate` callback (upstream's texts, bot/elevate.go)."""
    if authorizer_passed(ret_val):
        return _OK
    if ret_val == _TASK_FAIL:
        return Decision(DecisionCode.NOT_ELEVATED, "Sorry, this command requires elevation")
    return Decision(
        DecisionCode.ELEVATOR_FAILED,
        "Sorry, elevation failed due to a problem with the elevation service",
    )
