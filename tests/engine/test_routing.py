"""The routing decision, tested without a robot: message, index, state in; a
reason and the actions to perform out. Also the many-pattern matching it is built on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burrow.connectors.base import IncomingMessage
from burrow.engine import matching
from burrow.engine.catalog import Catalog, TaskDef, TaskKind, policy_of, routes_of
from burrow.engine.config import JobConfig, PluginConfig
from burrow.engine.matching import (
    MULTIPLE_MATCHES_MESSAGE,
    CommandMatcher,
    MatcherIndex,
    MessageMatcher,
    PatternSet,
    PluginRoutes,
    compile_command,
    match_ambient,
    match_commands,
)
from burrow.engine.patterns import compile_pattern
from burrow.engine.prompts import prompt_key
from burrow.engine.robot import Robot
from burrow.engine.routing import (
    LAST_MESSAGE_WINDOW,
    Answer,
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
)
from support import run

SETTINGS = RoutingSettings(
    name="burrow",
    alias=";",
    roster=frozenset({"alice", "bob", "ci"}),
    admins=frozenset({"alice"}),
)
READY = RobotState(hidden_supported=True)


def plugin(name: str, **config: Any) -> TaskDef:
    """A plugin configured as in conf/plugins/NAME.yaml; heard in every channel by default."""
    settings = PluginConfig.model_validate({"AllChannels": True, **config})
    return TaskDef(
        name,
        TaskKind.PLUGIN,
        plugin=settings,
        routes=routes_of(name, settings),
        policy=policy_of(name, settings),
    )


def job(name: str, *triggers: dict[str, str]) -> TaskDef:
    return TaskDef(name, TaskKind.JOB, job=JobConfig.model_validate({"Triggers": list(triggers)}))


def index(*tasks: TaskDef, settings: RoutingSettings = SETTINGS) -> RoutingIndex:
    return RoutingIndex.build(Catalog({t.name: t for t in tasks}), settings)


def said(text: str, user: str = "bob", channel: str = "general", **kw: Any) -> IncomingMessage:
    return IncomingMessage(protocol="test", user=user, text=text, channel=channel, **kw)


def route(
    text: str, *tasks: TaskDef, state: RobotState = READY, **kw: Any
) -> tuple[Routing, dict[str, TaskDef]]:
    """Decide `text` from bob in general (unless told otherwise) against `tasks`."""
    return decide(said(text, **kw), index(*tasks), state), {t.name: t for t in tasks}


DEPLOY = {"Commands": [{"Command": "deploy", "Regex": r"deploy (\w+)(?: to (\w+))?"}]}


# --- addressed commands --------------------------------------------------------------------------


def test_an_addressed_command_starts_its_plugin_with_the_captures() -> None:
    routing, tasks = route(";deploy web", plugin("ops", **DEPLOY))
    assert routing == Routing(
        Reason.COMMAND, (StartCommand(tasks["ops"], "deploy", ("web", ""), ()),), "ops"
    )


@pytest.mark.parametrize(
    "text", ["burrow, deploy web", "burrow: deploy web", "@burrow deploy web", "deploy web, burrow"]
)
def test_every_form_of_address_reaches_the_command(text: str) -> None:
    routing, _ = route(text, plugin("ops", **DEPLOY))
    assert routing.reason is Reason.COMMAND


def test_a_direct_message_is_a_command_without_an_address() -> None:
    ops = plugin("ops", AllowedPrivateCommands=["deploy"], **DEPLOY)
    routing, _ = route("deploy web", ops, channel="")
    assert routing.actions == (StartCommand(ops, "deploy", ("web", ""), ()),)


def test_the_matchers_contexts_go_with_the_command_to_be_resolved() -> None:
    ops = plugin(
        "ops", Commands=[{"Command": "restart", "Regex": r"restart (\w+)", "Contexts": ["server"]}]
    )
    routing, _ = route(";restart it", ops)
    assert routing.actions == (StartCommand(ops, "restart", ("it",), ("server",)),)


def test_two_plugins_matching_is_ambiguous_and_nothing_runs() -> None:
    routing, _ = route(";deploy web", plugin("ops", **DEPLOY), plugin("ci", **DEPLOY))
    assert routing == Routing(Reason.AMBIGUOUS, (Answer(MULTIPLE_MATCHES_MESSAGE),), "ops, ci")


def test_a_plugin_not_available_here_does_not_make_a_command_ambiguous() -> None:
    elsewhere = plugin("ci", AllChannels=False, Channels=["builds"], **DEPLOY)
    routing, tasks = route(";deploy web", plugin("ops", **DEPLOY), elsewhere)
    assert routing.actions == (StartCommand(tasks["ops"], "deploy", ("web", ""), ()),)


def test_within_one_plugin_the_first_matching_command_wins() -> None:
    ops = plugin(
        "ops",
        Commands=[
            {"Command": "specific", "Regex": "reload config"},
            {"Command": "general", "Regex": r"reload (\w+)"},
        ],
    )
    routing, _ = route(";reload config", ops)
    assert routing.actions == (StartCommand(ops, "specific", (), ()),)


def test_a_plugins_users_whitelist_keeps_its_commands_from_others() -> None:
    ops = plugin("ops", Users=["al*"], **DEPLOY)
    assert route(";deploy web", ops, user="alice")[0].reason is Reason.COMMAND
    # Hidden from bob, as upstream: he is not told the command exists (docs/configuration.md).
    assert route(";deploy web", ops, user="bob")[0].reason is Reason.UNKNOWN_COMMAND


# --- ambient matchers, triggers, subscriptions --------------------------------------------------

BUILD_WATCH = {"MessageMatchers": [{"Command": "broken", "Regex": r"(?i)build (\w+) is broken"}]}


def test_an_ambient_matcher_hears_unaddressed_text() -> None:
    routing, tasks = route("oh no, build 42 is broken", plugin("watch", **BUILD_WATCH))
    assert routing == Routing(
        Reason.AMBIENT, (Start(tasks["watch"], "broken", ("42",), "ambient"),)
    )


def test_every_plugin_whose_ambient_matcher_hears_it_starts() -> None:
    routing, _ = route("build 7 is broken", plugin("a", **BUILD_WATCH), plugin("b", **BUILD_WATCH))
    assert [a.task.name for a in routing.actions if isinstance(a, Start)] == ["a", "b"]


def test_ambient_matchers_skip_commands_unless_ambient_match_command() -> None:
    quiet = plugin("quiet", **BUILD_WATCH)
    keen = plugin("keen", AmbientMatchCommand=True, **BUILD_WATCH)
    routing, _ = route(";build 7 is broken", quiet, keen)
    assert [a.task.name for a in routing.actions if isinstance(a, Start)] == ["keen"]


def test_another_bots_message_is_not_heard_by_ambient_matchers() -> None:
    routing, _ = route("build 7 is broken", plugin("watch", **BUILD_WATCH), bot_message=True)
    assert routing.reason is not Reason.AMBIENT


def test_a_trigger_starts_its_job_for_its_user_only() -> None:
    deployed = job("notify", {"Regex": r"deployed (\w+)", "User": "ci"})
    routing, _ = route("deployed web today", deployed, user="ci")
    assert routing == Routing(
        Reason.TRIGGERED, (Start(deployed, "", ("web",), "triggered", automatic=True),)
    )
    assert route("deployed web today", deployed, user="bob")[0].reason is Reason.CHATTER


def test_a_trigger_for_a_channel_is_not_pulled_elsewhere() -> None:
    deployed = job("notify", {"Regex": "deployed", "Channel": "ops"})
    assert route("deployed", deployed, channel="ops")[0].reason is Reason.TRIGGERED
    assert route("deployed", deployed, channel="general")[0].reason is Reason.CHATTER


def test_ambient_matchers_come_before_triggers() -> None:
    watch = plugin("watch", **BUILD_WATCH)
    routing, _ = route("build 7 is broken", watch, job("j", {"Regex": "broken"}))
    assert routing.reason is Reason.AMBIENT


def test_a_subscribed_thread_goes_to_its_plugin() -> None:
    chat = plugin("chat")
    state = RobotState(hidden_supported=True, subscriber="chat")
    routing, _ = route("and another thing", chat, state=state, threaded=True, thread_id="t1")
    assert routing == Routing(
        Reason.SUBSCRIBED,
        (Start(chat, "_subscribed", ("and another thing",), "subscription"),),
        "chat",
    )


def test_a_subscription_needs_a_thread_and_a_sender_who_may_use_the_plugin() -> None:
    state = RobotState(hidden_supported=True, subscriber="chat")
    chat = plugin("chat", Users=["alice"])
    assert route("hi", chat, state=state)[0].reason is Reason.CHATTER  # not threaded
    threaded = {"threaded": True, "thread_id": "t1"}
    assert route("hi", chat, state=state, user="bob", **threaded)[0].reason is Reason.CHATTER
    assert route("hi", chat, state=state, user="alice", **threaded)[0].reason is Reason.SUBSCRIBED


# --- addressed, unmatched ------------------------------------------------------------------------


GUIDANCE = "Try `;commands` or `;help <keyword>`."


def test_an_unknown_command_is_answered_in_a_thread_in_upstreams_words() -> None:
    routing, _ = route(";frobnicate   now", plugin("ops", **DEPLOY))
    text = f"I couldn't match `;frobnicate now` in channel `#general`.\n{GUIDANCE}"
    assert routing == Routing(Reason.UNKNOWN_COMMAND, (Answer(text, say=True, thread=True),))


def test_the_unknown_command_is_shown_as_the_sender_addressed_the_robot() -> None:
    routing, _ = route("burrow, frobnicate", plugin("ops", **DEPLOY))
    assert routing.actions[0].text.startswith("I couldn't match `burrow, frobnicate` in channel")
    routing, _ = route("frobnicate", plugin("ops", **DEPLOY), channel="")
    assert routing.actions == (Answer(f"I couldn't match `;frobnicate`.\n{GUIDANCE}", True),)


def test_without_an_alias_the_hint_uses_the_name() -> None:
    settings = RoutingSettings(name="burrow", alias="")
    routing = decide(said("burrow, frobnicate"), index(settings=settings), READY)
    assert routing.actions == (
        Answer(
            "I couldn't match `burrow, frobnicate` in channel `#general`.\n"
            "Try `burrow, commands` or `burrow, help <keyword>`.",
            say=True,
            thread=True,
        ),
    )


def test_a_command_that_exists_elsewhere_says_where_not() -> None:
    ops = plugin("ops", AllChannels=False, Channels=["ops"], **DEPLOY)
    routing, _ = route(";deploy web", ops)
    assert routing == Routing(
        Reason.WRONG_PLACE,
        (Answer("Sorry, 'ops/deploy' cannot be run in this channel"),),
        "ops/deploy",
    )
    private = route("deploy web", ops, channel="")[0]
    assert private.actions == (Answer("Sorry, 'ops/deploy' cannot be run as a private command"),)


def test_a_catch_all_takes_addressed_text_that_matched_nothing() -> None:
    fallback = plugin("fallback", CatchAll=True)
    routing, _ = route(";frobnicate it", plugin("ops", **DEPLOY), fallback)
    assert routing == Routing(
        Reason.CATCH_ALL,
        (Start(fallback, "_catchall", ("frobnicate it",), "catchall"),),
        "fallback",
    )


def test_a_catch_all_for_the_mode_beats_a_fallback_and_two_fallbacks_run_neither() -> None:
    named = plugin("named", CatchAll=True, CatchAllModes=["name"])
    fallback = plugin("fallback", CatchAll=True)
    by_name = route("burrow, frobnicate", named, fallback)[0]
    assert [a.task.name for a in by_name.actions if isinstance(a, Start)] == ["named"]
    by_alias = route(";frobnicate", named, fallback)[0]
    assert [a.task.name for a in by_alias.actions if isinstance(a, Start)] == ["fallback"]
    two = route(";frobnicate", fallback, plugin("other", CatchAll=True))[0]
    assert two.reason is Reason.UNKNOWN_COMMAND


def test_unaddressed_chatter_is_remembered_and_empty_text_is_nothing() -> None:
    state = RobotState(hidden_supported=True, now=5.0)
    routing, _ = route("ping", state=state)
    assert routing == Routing(
        Reason.CHATTER, (Remember(("test", "bob", "general", ""), "ping", 5.0),)
    )
    assert route("   ")[0] == Routing(Reason.NOTHING)


# --- prompts and bare addresses --------------------------------------------------------------------


def test_a_waiting_prompt_takes_the_next_message_before_any_command() -> None:
    state = RobotState(hidden_supported=True, prompt_waiting=True)
    routing, _ = route(";deploy web", plugin("ops", **DEPLOY), state=state, user="Bob")
    assert routing == Routing(
        Reason.PROMPT, (Deliver(prompt_key("test", "bob", "general", ""), "deploy web"),)
    )
    unaddressed = route("yes please", state=state, threaded=True, thread_id="t9")[0]
    assert unaddressed.actions == (Deliver(("test", "bob", "general", "t9"), "yes please"),)


def test_a_bare_address_reruns_the_last_unaddressed_message_once() -> None:
    place = ("test", "bob", "general", "")
    recent = RobotState(hidden_supported=True, last_unaddressed=("ping", 100.0), now=110.0)
    assert route("burrow", state=recent)[0] == Routing(
        Reason.REPEAT_LAST, (Forget(place), Reroute("burrow: ping"))
    )
    stale = RobotState(
        hidden_supported=True, last_unaddressed=("ping", 0.0), now=LAST_MESSAGE_WINDOW + 1
    )
    assert route(";", state=stale)[0] == Routing(
        Reason.BARE_ADDRESS, (Forget(place), Answer("Yes?"))
    )
    assert route("burrow?")[0] == Routing(Reason.BARE_ADDRESS, (Answer("Yes?"),))


# --- who is heard ----------------------------------------------------------------------------------


def test_ignored_unlisted_anonymous_and_own_messages_are_dropped() -> None:
    settings = RoutingSettings(
        name="burrow", ignore_users=frozenset({"spam"}), roster=frozenset({"bob"})
    )
    ops = index(plugin("ops", **DEPLOY), settings=settings)
    assert decide(said(";deploy web", user="spam"), ops, READY).reason is Reason.IGNORED_USER
    assert decide(said(";deploy web", user=""), ops, READY).reason is Reason.NO_USER
    own = said(";deploy web", self_message=True)
    assert decide(own, ops, READY).reason is Reason.SELF
    strict = RoutingSettings(name="burrow", ignore_unlisted_users=True, roster=frozenset({"bob"}))
    listed_only = index(plugin("ops", **DEPLOY), settings=strict)
    assert decide(said(";deploy web", user="eve"), listed_only, READY).reason is (
        Reason.UNLISTED_USER
    )
    assert decide(said(";deploy web"), listed_only, READY).reason is Reason.COMMAND


def test_hidden_messages_need_a_connector_that_has_them_and_an_address() -> None:
    ops = plugin("ops", AllowedPrivateCommands=["deploy"], **DEPLOY)
    no_hidden = RobotState(hidden_supported=False)
    assert route(";deploy web", ops, state=no_hidden, hidden=True)[0].reason is (
        Reason.HIDDEN_UNSUPPORTED
    )
    assert route("deploy web", ops, hidden=True)[0].reason is Reason.HIDDEN_UNADDRESSED
    assert route(";deploy web", ops, hidden=True)[0].actions == (
        StartCommand(ops, "deploy", ("web", ""), ()),
    )


def test_a_hidden_catch_all_mode_takes_hidden_commands() -> None:
    hidden = plugin("hidden", CatchAll=True, CatchAllModes=["hidden"], AllowedPrivateCommands=["*"])
    routing, _ = route(";frobnicate", hidden, hidden=True)
    assert routing.reason is Reason.CATCH_ALL


# --- the index -------------------------------------------------------------------------------------


def test_a_task_disabled_in_place_stops_routing_and_enabled_again_resumes() -> None:
    ops = plugin("ops", **DEPLOY)
    deployed = job("notify", {"Regex": "deployed"})
    built = index(ops, deployed)
    ops.disabled = deployed.disabled = "switched off"
    assert decide(said(";deploy web"), built, READY).reason is Reason.UNKNOWN_COMMAND
    assert decide(said("deployed"), built, READY).reason is Reason.CHATTER
    ops.disabled = deployed.disabled = ""
    assert decide(said(";deploy web"), built, READY).reason is Reason.COMMAND
    assert decide(said("deployed"), built, READY).reason is Reason.TRIGGERED


def test_thousands_of_plugins_route_to_the_right_one_across_every_set() -> None:
    plugins = [
        plugin(f"p{i}", Commands=[{"Command": "go", "Regex": rf"go{i}(?: (\w+))?"}])
        for i in range(3 * matching.SET_CHUNK + 7)
    ]
    built = index(*plugins)
    assert built.commands._set.sets >= 4
    for i in (0, matching.SET_CHUNK, len(plugins) - 1):
        routing = decide(said(f";go{i} now"), built, READY)
        assert routing.actions == (StartCommand(plugins[i], "go", ("now",), ()),)
    assert decide(said(";go"), built, READY).reason is Reason.UNKNOWN_COMMAND


def test_the_robot_indexes_its_catalog_once_and_again_when_it_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text("UserRoster: [{UserName: bob}]\n")
    robot = Robot(tmp_path, environ={**os.environ, "BURROW_ZYGOTE": "off"})

    async def load() -> None:
        await robot.load()
        await robot.close_brain()

    run(load())
    first = robot.routing_index()
    assert robot.routing_index() is first
    assert decide(said(";ping"), first, READY).reason is Reason.COMMAND
    robot.catalog = Catalog({"ops": plugin("ops", **DEPLOY)})
    second = robot.routing_index()
    assert second is not first
    assert decide(said(";ping"), second, READY).reason is Reason.UNKNOWN_COMMAND
    assert decide(said(";deploy web"), second, READY).reason is Reason.COMMAND


# --- many patterns at once: the same answers as one at a time -------------------------------------

PIECES = ["a", "b", "ab", r"\w", r"\d+", ".", "x*", "(a|b)", "(?i:A)", r"\s", "^", "$", r"\b"]
TEXT = st.text(alphabet="abAB1 .x\n", max_size=12)
REGEX = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join)


@given(regexes=st.lists(REGEX, min_size=1, max_size=12), text=TEXT, anchored=st.booleans())
def test_a_pattern_set_finds_exactly_the_patterns_that_match(
    regexes: list[str], text: str, anchored: bool
) -> None:
    patterns = [compile_command(r) if anchored else compile_pattern(r) for r in regexes]
    expected = {
        i
        for i, p in enumerate(patterns)
        if (p.fullmatch(text) if anchored else p.search(text)) is not None
    }
    assert PatternSet(patterns, anchored=anchored).matching(text) == expected


def test_patterns_no_set_can_hold_are_tried_one_by_one() -> None:
    patterns = [compile_command(rf"(\w+) is (\w+){i}") for i in range(40)]
    starved = PatternSet(patterns, anchored=True, max_mem=1 << 12)
    assert starved.sets == 0 and starved.alone == 40
    assert starved.matching("sky is blue7") == {7}
    roomy = PatternSet(patterns, anchored=True)
    assert roomy.sets == 1 and roomy.alone == 0
    assert roomy.matching("sky is blue7") == {7}


def test_text_that_is_not_utf8_is_matched_as_the_single_patterns_match_it() -> None:
    patterns = [compile_pattern("caf."), compile_pattern("x")]
    assert PatternSet(patterns, anchored=False).matching("caf\ud800") == {0}


PLUGIN = st.lists(REGEX, min_size=1, max_size=3)


@given(plugins=st.lists(PLUGIN, min_size=1, max_size=6), text=TEXT)
def test_the_matcher_index_answers_as_matching_each_plugin_does(
    plugins: list[list[str]], text: str
) -> None:
    routes = [
        PluginRoutes(
            f"p{n}",
            commands=tuple(CommandMatcher(f"c{k}", r) for k, r in enumerate(regexes)),
            message_matchers=tuple(MessageMatcher(f"m{k}", r) for k, r in enumerate(regexes)),
        )
        for n, regexes in enumerate(plugins)
    ]
    commands = [m for _, m in MatcherIndex(routes, ambient=False).matches(text)]
    assert tuple(commands) == match_commands(text, routes).matches
    heard = [m for _, m in MatcherIndex(routes, ambient=True).matches(text)]
    assert tuple(heard) == match_ambient(text, routes)


def test_an_admin_only_plugin_is_unknown_to_a_non_admin_and_known_to_an_admin() -> None:
    vault = plugin("vault", RequireAdmin=True, **DEPLOY)
    assert route(";deploy web", vault, user="bob")[0].reason is Reason.UNKNOWN_COMMAND
    assert route(";deploy web", vault, user="alice")[0].reason is Reason.COMMAND


def test_an_admin_command_elsewhere_is_not_revealed_to_a_non_admin() -> None:
    ops = plugin("ops", AllChannels=False, Channels=["ops"], AdminCommands=["deploy"], **DEPLOY)
    assert route(";deploy web", ops, user="bob")[0].reason is Reason.UNKNOWN_COMMAND
    assert route(";deploy web", ops, user="alice")[0].reason is Reason.WRONG_PLACE


# --- SimpleMatcher commands ----------------------------------------------------------------------

LEVELS = {"Commands": [{"Command": "level", "SimpleMatcher": "set loglevel (level:debug|info)"}]}
BAD_LEVEL = 'Invalid value: "fine" for: "level"; valid values: debug, info.'


def test_a_simple_matcher_command_starts_with_the_token_matchers_arguments() -> None:
    ops = plugin("ops", **LEVELS)
    routing, _ = route(";set-loglevel-debug", ops)
    assert routing.actions == (StartCommand(ops, "level", ("debug",), ()),)
    # Its regex would take one phrase with two separators; the token matcher does not.
    assert route(";set loglevel-debug", ops)[0].reason is Reason.COMMAND
    assert route(";set-loglevel debug", ops)[0].reason is Reason.COMMAND


def test_one_near_miss_is_answered_with_its_diagnostic_in_a_thread() -> None:
    routing, _ = route(";set loglevel fine", plugin("ops", **LEVELS))
    assert routing.reason is Reason.SYNTAX and routing.detail == "ops/level"
    assert routing.actions == (Answer(BAD_LEVEL, say=True, thread=True),)
    private = plugin("ops", AllowedPrivateCommands=["*"], **LEVELS)
    routing, _ = route("set loglevel fine", private, channel="")
    assert routing.actions == (Answer(BAD_LEVEL, say=True, thread=False),)


def test_two_different_near_misses_are_no_answer_but_the_unknown_command() -> None:
    other = {"Commands": [{"Command": "l", "SimpleMatcher": "set loglevel (level:warn)"}]}
    routing, _ = route(";set loglevel fine", plugin("ops", **LEVELS), plugin("web", **other))
    assert routing.reason is Reason.UNKNOWN_COMMAND


def test_a_near_miss_in_a_plugin_not_here_is_not_answered() -> None:
    ops = plugin("ops", AllChannels=False, Channels=["ops"], **LEVELS)
    assert route(";set loglevel fine", ops)[0].reason is not Reason.SYNTAX
