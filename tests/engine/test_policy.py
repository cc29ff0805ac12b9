"""Specification of the policy checks a matched command passes before it runs (docs/security.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from burrow.engine.policy import (
    Callback,
    Decision,
    DecisionCode,
    MessageContext,
    PluginPolicy,
    authorization_result,
    authorizer_passed,
    check_command,
    elevation_result,
    is_admin,
    plugin_available,
)

# TaskRetVal values from the reference (§2.4).
NORMAL, FAIL, MECHANISM_FAIL, CONFIGURATION_ERROR, SUCCESS = 0, 1, 2, 3, 7

IN_CHANNEL = MessageContext(user="alice", channel="general")
IN_DM = MessageContext(user="alice", channel="")
HIDDEN = MessageContext(user="alice", channel="general", hidden=True)
ADMIN_IN_CHANNEL = MessageContext(user="alice", channel="general", is_admin=True)
ADMIN_IN_DM = MessageContext(user="alice", channel="", is_admin=True)


def policy(**settings: Any) -> PluginPolicy:
    """A plugin named 'ops' with the given settings."""
    return PluginPolicy("ops", **settings)


def check(settings: PluginPolicy, context: MessageContext, command: str = "deploy") -> Decision:
    """Check a command with no captures and no robot-wide defaults."""
    return check_command(settings, command, (), context)


# --- is_admin (CheckAdmin) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "admins", "roster", "expected"),
    [
        ("alice", {"alice"}, {"alice", "bob"}, True),
        ("bob", {"alice"}, {"alice", "bob"}, False),
        ("alice", {"alice"}, {"bob"}, False),
        ("Alice", {"alice"}, {"alice"}, False),
    ],
    ids=["admin-and-listed", "not-admin", "admin-not-in-roster", "case-differs"],
)
def test_admin_must_be_in_admin_users_and_roster(
    user: str, admins: set[str], roster: set[str], expected: bool
) -> None:
    assert is_admin(user, admins, roster) is expected


# --- admin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [policy(require_admin=True), policy(admin_commands=frozenset({"deploy"}))],
    ids=["require-admin", "admin-command"],
)
def test_admin_only_command_is_refused_for_non_admins(settings: PluginPolicy) -> None:
    decision = check(settings, IN_CHANNEL)
    assert decision.refused
    assert decision.code is DecisionCode.ADMIN_REQUIRED
    assert decision.message == "Sorry, 'ops/deploy' is only available to bot administrators"


@pytest.mark.parametrize(
    "settings",
    [policy(require_admin=True), policy(admin_commands=frozenset({"deploy"}))],
    ids=["require-admin", "admin-command"],
)
def test_admin_only_command_runs_for_admins(settings: PluginPolicy) -> None:
    assert check(settings, ADMIN_IN_CHANNEL).allowed


def test_other_commands_of_a_plugin_with_admin_commands_are_open() -> None:
    assert check(policy(admin_commands=frozenset({"reload"})), IN_CHANNEL).allowed


def test_admin_check_comes_before_the_private_check() -> None:
    settings = policy(require_admin=True)  # and no private policy at all
    assert check(settings, IN_DM).code is DecisionCode.ADMIN_REQUIRED


def test_admin_check_comes_before_the_required_private_check() -> None:
    settings = policy(require_admin=True, require_all_commands_private=True)
    assert check(settings, IN_CHANNEL).code is DecisionCode.ADMIN_REQUIRED


# --- required private ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        policy(required_private_commands=frozenset({"deploy"})),
        policy(require_all_commands_private=True),
    ],
    ids=["listed", "all-commands"],
)
def test_required_private_command_is_refused_in_public(settings: PluginPolicy) -> None:
    decision = check(settings, IN_CHANNEL)
    assert decision.code is DecisionCode.PRIVATE_REQUIRED
    assert decision.message == "This command is only available in a private context."


@pytest.mark.parametrize("context", [IN_DM, HIDDEN], ids=["dm", "hidden"])
def test_required_private_command_runs_privately_without_being_allowed(
    context: MessageContext,
) -> None:
    assert check(policy(required_private_commands=frozenset({"deploy"})), context).allowed


def test_required_private_check_comes_before_authorization() -> None:
    settings = policy(require_all_commands_private=True, authorize_all_commands=True)
    assert check(settings, IN_CHANNEL).code is DecisionCode.PRIVATE_REQUIRED


# --- private context -------------------------------------------------------------------------


@pytest.mark.parametrize("context", [IN_DM, HIDDEN], ids=["dm", "hidden"])
def test_private_command_refused_unless_allowed(context: MessageContext) -> None:
    decision = check(policy(allowed_private_commands=frozenset({"status"})), context)
    assert decision.code is DecisionCode.PRIVATE_NOT_ALLOWED
    assert decision.message == "Sorry, 'ops/deploy' cannot be run as a private command"


@pytest.mark.parametrize("context", [IN_DM, HIDDEN], ids=["dm", "hidden"])
@pytest.mark.parametrize(
    "allowed", [frozenset({"deploy"}), frozenset({"*"})], ids=["listed", "wildcard"]
)
def test_allowed_private_command_runs_privately(
    context: MessageContext, allowed: frozenset[str]
) -> None:
    assert check(policy(allowed_private_commands=allowed), context).allowed


def test_allowed_private_command_still_runs_in_public() -> None:
    assert check(policy(allowed_private_commands=frozenset({"deploy"})), IN_CHANNEL).allowed


def test_admin_passing_does_not_skip_the_private_check() -> None:
    assert check(policy(require_admin=True), ADMIN_IN_DM).code is DecisionCode.PRIVATE_NOT_ALLOWED


def test_private_check_comes_before_authorization() -> None:
    settings = policy(authorize_all_commands=True)  # and no authorizer: would fail closed
    assert check(settings, IN_DM).code is DecisionCode.PRIVATE_NOT_ALLOWED


# --- authorization ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        policy(authorizer="groups", authorize_all_commands=True, auth_require="ops"),
        policy(authorizer="groups", authorized_commands=frozenset({"deploy"}), auth_require="ops"),
    ],
    ids=["all-commands", "listed-command"],
)
def test_authorized_command_asks_the_authorizer_with_plugin_require_command_and_captures(
    settings: PluginPolicy,
) -> None:
    decision = check_command(settings, "deploy", ("api", "prod"), IN_CHANNEL)
    assert not decision.refused
    assert not decision.allowed  # the authorizer has yet to say yes
    assert decision.authorize == Callback(
        "groups", "_authorize", ("ops", "ops", "deploy", "api", "prod")
    )
    assert decision.elevate is None


def test_unlisted_command_needs_no_authorization() -> None:
    settings = policy(authorizer="groups", authorized_commands=frozenset({"reload"}))
    assert check(settings, IN_CHANNEL).allowed


def test_default_authorizer_is_used_when_the_plugin_names_none() -> None:
    decision = check_command(
        policy(authorize_all_commands=True), "deploy", (), IN_CHANNEL, default_authorizer="ldap"
    )
    assert decision.authorize is not None
    assert decision.authorize.plugin == "ldap"


def test_plugin_authorizer_overrides_the_default() -> None:
    decision = check_command(
        policy(authorize_all_commands=True, authorizer="groups"),
        "deploy",
        (),
        IN_CHANNEL,
        default_authorizer="ldap",
    )
    assert decision.authorize is not None
    assert decision.authorize.plugin == "groups"


def test_missing_authorizer_fails_closed() -> None:
    decision = check(policy(authorize_all_commands=True), IN_CHANNEL)
    assert decision.refused
    assert decision.code is DecisionCode.AUTHORIZER_MISSING
    assert "no Authorizer or DefaultAuthorizer is configured" in decision.message


def test_authorizer_that_is_not_an_enabled_plugin_fails_closed() -> None:
    decision = check_command(
        policy(authorize_all_commands=True, authorizer="groups"),
        "deploy",
        (),
        IN_CHANNEL,
        known_plugins={"ops"},
    )
    assert decision.code is DecisionCode.AUTHORIZER_MISSING
    assert "'groups'" in decision.message


# --- elevation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "immediate"),
    [
        (policy(elevator="totp", elevated_commands=frozenset({"deploy"})), "false"),
        (policy(elevator="totp", elevate_immediate_commands=frozenset({"deploy"})), "true"),
        (
            policy(
                elevator="totp",
                elevated_commands=frozenset({"deploy"}),
                elevate_immediate_commands=frozenset({"deploy"}),
            ),
            "true",
        ),
    ],
    ids=["elevated", "immediate", "listed-in-both"],
)
def test_elevated_command_asks_the_elevator(settings: PluginPolicy, immediate: str) -> None:
    decision = check(settings, IN_CHANNEL)
    assert not decision.refused
    assert not decision.allowed
    assert decision.elevate == Callback("totp", "_elevate", (immediate,))


def test_default_elevator_is_used_when_the_plugin_names_none() -> None:
    decision = check_command(
        policy(elevated_commands=frozenset({"deploy"})),
        "deploy",
        (),
        IN_CHANNEL,
        default_elevator="duo",
    )
    assert decision.elevate == Callback("duo", "_elevate", ("false",))


def test_missing_elevator_fails_closed() -> None:
    decision = check(policy(elevate_immediate_commands=frozenset({"deploy"})), IN_CHANNEL)
    assert decision.code is DecisionCode.ELEVATOR_MISSING
    assert "no Elevator or DefaultElevator is configured" in decision.message


def test_missing_elevator_fails_closed_even_when_authorization_is_configured() -> None:
    settings = policy(
        authorizer="groups", authorize_all_commands=True, elevated_commands=frozenset({"deploy"})
    )
    assert check(settings, IN_CHANNEL).code is DecisionCode.ELEVATOR_MISSING


def test_authorization_and_elevation_are_both_requested() -> None:
    settings = policy(
        authorizer="groups",
        authorize_all_commands=True,
        elevator="totp",
        elevated_commands=frozenset({"deploy"}),
    )
    decision = check(settings, IN_CHANNEL)
    assert decision.authorize is not None
    assert decision.elevate is not None


def test_unrestricted_command_is_allowed_outright() -> None:
    decision = check(policy(), IN_CHANNEL)
    assert decision == Decision(DecisionCode.OK)
    assert decision.allowed


# --- authorizer / elevator results -----------------------------------------------------------


@pytest.mark.parametrize(
    ("ret_val", "passed"),
    [
        (SUCCESS, True),
        (NORMAL, False),
        (FAIL, False),
        (MECHANISM_FAIL, False),
        (CONFIGURATION_ERROR, False),
    ],
    ids=["success", "normal", "fail", "mechanism-fail", "configuration-error"],
)
def test_only_success_passes(ret_val: int, passed: bool) -> None:
    assert authorizer_passed(ret_val) is passed


def test_normal_from_an_authorizer_is_a_failure() -> None:
    decision = authorization_result(NORMAL)
    assert decision.refused
    assert decision.code is DecisionCode.AUTHORIZER_FAILED


@pytest.mark.parametrize(
    ("ret_val", "code", "message"),
    [
        (SUCCESS, DecisionCode.OK, ""),
        (FAIL, DecisionCode.NOT_AUTHORIZED, "Sorry, you're not authorized for that command"),
        (
            MECHANISM_FAIL,
            DecisionCode.AUTHORIZER_FAILED,
            "Sorry, authorization failed due to a problem with the authorization plugin",
        ),
    ],
    ids=["success", "fail", "mechanism-fail"],
)
def test_authorization_result(ret_val: int, code: DecisionCode, message: str) -> None:
    assert authorization_result(ret_val) == Decision(code, message)


@pytest.mark.parametrize(
    ("ret_val", "code"),
    [
        (SUCCESS, DecisionCode.OK),
        (NORMAL, DecisionCode.ELEVATOR_FAILED),
        (FAIL, DecisionCode.NOT_ELEVATED),
        (MECHANISM_FAIL, DecisionCode.ELEVATOR_FAILED),
    ],
    ids=["success", "normal", "fail", "mechanism-fail"],
)
def test_elevation_result(ret_val: int, code: DecisionCode) -> None:
    decision = elevation_result(ret_val)
    assert decision.code is code
    assert decision.refused is (code is not DecisionCode.OK)


# --- plugin_available ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "channel", "available"),
    [
        (None, "general", True),
        (frozenset({"general"}), "general", True),
        (frozenset({"ops"}), "general", False),
        (frozenset(), "general", False),
    ],
    ids=["all-channels", "listed", "not-listed", "no-channels"],
)
def test_plugin_is_available_in_its_channels(
    channels: frozenset[str] | None, channel: str, available: bool
) -> None:
    context = MessageContext(user="alice", channel=channel)
    assert plugin_available(policy(channels=channels), context) is available


@pytest.mark.parametrize(
    ("settings", "available"),
    [
        (policy(), False),
        (policy(allowed_private_commands=frozenset({"status"})), True),
        (policy(required_private_commands=frozenset({"deploy"})), True),
        (policy(require_all_commands_private=True), True),
        (policy(channels=frozenset({"ops"}), allowed_private_commands=frozenset({"*"})), True),
    ],
    ids=["no-private-policy", "allowed", "required", "all-private", "channel-bound"],
)
def test_plugin_is_available_by_dm_only_with_a_private_policy(
    settings: PluginPolicy, available: bool
) -> None:
    assert plugin_available(settings, IN_DM) is available


def test_hidden_message_reaches_a_private_plugin_outside_its_channels() -> None:
    settings = policy(channels=frozenset({"ops"}), allowed_private_commands=frozenset({"*"}))
    assert plugin_available(settings, HIDDEN)


def test_hidden_message_reaches_a_channel_plugin_without_private_policy() -> None:
    # It is then refused by check_command with the private-command message, not silently.
    assert plugin_available(policy(), HIDDEN)


@pytest.mark.parametrize(
    ("context", "available"),
    [
        (MessageContext(user="alice", channel="ops", hidden=True), True),
        (MessageContext(user="alice", channel="general", hidden=True), False),
        (IN_DM, False),
    ],
    ids=["hidden-in-listed-channel", "hidden-elsewhere", "dm"],
)
def test_restrict_private_channels_confines_private_use_to_listed_channels(
    context: MessageContext, available: bool
) -> None:
    settings = policy(
        channels=frozenset({"ops"}),
        allowed_private_commands=frozenset({"*"}),
        restrict_private_channels=True,
    )
    assert plugin_available(settings, context) is available


@pytest.mark.parametrize(
    ("users", "user", "available"),
    [
        ((), "anyone", True),
        (("alice",), "alice", True),
        (("alice",), "bob", False),
        (("ops-*",), "ops-carol", True),
        (("ops-*",), "dev-carol", False),
        (("bob", "a*"), "alice", True),
        (("alice",), "Alice", False),
    ],
    ids=[
        "empty-is-everyone",
        "listed",
        "unlisted",
        "glob-hit",
        "glob-miss",
        "any-pattern",
        "case-sensitive",
    ],
)
def test_users_whitelist_limits_availability(
    users: tuple[str, ...], user: str, available: bool
) -> None:
    context = dataclasses.replace(IN_CHANNEL, user=user)
    assert plugin_available(policy(users=users), context) is available


def test_users_whitelist_applies_in_private_too() -> None:
    settings = policy(users=("bob",), allowed_private_commands=frozenset({"*"}))
    assert not plugin_available(settings, IN_DM)


def test_admin_only_plugin_is_hidden_from_non_admins_as_upstream() -> None:
    # bot/available.go, userCanAccessTask: a non-admin gets what any unknown command gets.
    assert not plugin_available(policy(require_admin=True), IN_CHANNEL)
    assert plugin_available(policy(require_admin=True), ADMIN_IN_CHANNEL)
