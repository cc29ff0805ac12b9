"""The pure checks for commands reached other than by typing, and for pipelines with no user."""

from __future__ import annotations

from burrow.engine.policy import (
    DecisionCode,
    MessageContext,
    PluginPolicy,
    check_availability,
    check_job,
    check_unattended,
)

BOB = MessageContext(user="bob", channel="general")
ALICE = MessageContext(user="alice", channel="general", is_admin=True)


def test_availability_names_the_user_limit_apart_from_the_channel_limit() -> None:
    only_alice = PluginPolicy(name="ops", users=("al*",))
    only_random = PluginPolicy(name="ops", channels=frozenset({"random"}))
    assert check_availability(only_alice, "go", BOB).code is DecisionCode.USER_NOT_LISTED
    assert check_availability(only_alice, "go", ALICE).code is DecisionCode.OK
    refused = check_availability(only_random, "go", BOB)
    assert refused.code is DecisionCode.CHANNEL_NOT_ALLOWED
    assert refused.message == "Sorry, 'ops/go' cannot be run in this channel"


def test_a_job_judges_require_admin_and_user_globs() -> None:
    assert check_job("j", True, [], BOB).code is DecisionCode.JOB_NOT_ALLOWED
    assert check_job("j", True, [], ALICE).code is DecisionCode.OK
    assert check_job("j", False, ["b?b"], BOB).code is DecisionCode.OK
    assert check_job("j", False, ["carol"], BOB).message == (
        "Sorry, you are not allowed to run job 'j'"
    )


def test_a_pipeline_with_no_user_runs_admin_commands_but_never_skips_authorizer_or_elevator() -> (
    None
):
    admin = PluginPolicy(name="p", require_admin=True, users=("alice",))
    assert check_unattended(admin, "go").code is DecisionCode.OK
    for policy in (
        PluginPolicy(name="p", authorized_commands=frozenset({"go"})),
        PluginPolicy(name="p", authorize_all_commands=True),
        PluginPolicy(name="p", elevated_commands=frozenset({"go"})),
        PluginPolicy(name="p", elevate_immediate_commands=frozenset({"go"})),
    ):
        assert check_unattended(policy, "go").code is DecisionCode.NO_USER
    assert check_unattended(
        PluginPolicy(name="p", elevated_commands=frozenset({"x"})), "go"
    ).code is (DecisionCode.OK)
