"""Each Robot API method, called by an extension in a real child and served by a real robot."""

from __future__ import annotations

import os

from support import run

ECHO_CONFIG = """\
config: |
  Commands:
    - {Command: go, Regex: 'go(?: (.*))?'}
  Config: {Greeting: hello, Sizes: [1, 2]}
"""


def _plugin(harness, steps: str, settings: str = "", conf: str = "") -> None:
    harness.extension("plugin", "probe", ECHO_CONFIG + "commands:\n  go:\n" + steps, settings, conf)


def test_say_in_a_channel_goes_to_the_channel(harness) -> None:
    _plugin(harness, "    - [Say, 'hi {bot[user]}']\n")

    [sent] = harness.play(lambda h: h.exchange("bob", ";go"))
    assert (sent.user, sent.channel, sent.threaded, sent.text) == ("", "general", False, "hi bob")


def test_reply_is_addressed_and_reply_thread_is_threaded(harness) -> None:
    _plugin(harness, "    - [Reply, one]\n    - [ReplyThread, two]\n    - [SayThread, three]\n")

    one, two, three = harness.play(lambda h: h.exchange("bob", ";go", n=3))
    assert (one.user, one.channel, one.threaded) == ("bob", "general", False)
    assert (two.user, two.channel, two.threaded) == ("bob", "general", True)
    assert (three.user, three.channel, three.threaded) == ("", "general", True)


def test_say_in_a_dm_stays_a_dm_and_a_threaded_message_is_answered_in_its_thread(harness) -> None:
    _plugin(harness, "    - [Say, here]\n", conf="AllowedPrivateCommands: [go]\n")

    async def main():
        await harness.start()
        try:
            dm = await harness.exchange("bob", "go", channel="")
            threaded = await harness.exchange("bob", ";go", threaded=True, thread_id="t42")
            return dm[0], threaded[0]
        finally:
            await harness.stop()

    dm, threaded = run(main())
    assert (dm.user, dm.channel) == ("bob", "")
    assert (threaded.channel, threaded.threaded, threaded.thread_id) == ("general", True, "t42")


def test_direct_option_turns_say_into_a_dm(harness) -> None:
    _plugin(harness, "    - {call: [Say, secret], options: {direct: true}}\n")

    [sent] = harness.play(lambda h: h.exchange("bob", ";go"))
    assert (sent.user, sent.channel) == ("bob", "")


def test_send_family_addresses_users_channels_and_threads(harness) -> None:
    _plugin(
        harness,
        "    - [SendChannelMessage, random, a]\n"
        "    - [SendChannelThreadMessage, random, t1, b]\n"
        "    - [SendUserMessage, alice, c]\n"
        "    - [SendUserChannelMessage, alice, random, d]\n"
        "    - [SendUserChannelThreadMessage, alice, random, t2, e]\n"
        "    - [SendProtocolUserChannelMessage, test, '', random, f]\n"
        "    - {call: [SendUserChannelMessage, '', '', g], as: missing}\n"
        "    - {call: [SendProtocolUserChannelMessage, slack, alice, '', h], as: inactive}\n"
        "    - [Say, 'missing={missing[ret_val]} inactive={inactive[ret_val]}']\n",
    )

    sent = harness.play(lambda h: h.exchange("bob", ";go", n=7))
    assert [(s.user, s.channel, s.threaded, s.text) for s in sent] == [
        ("", "random", False, "a"),
        ("", "random", True, "b"),
        ("alice", "", False, "c"),
        ("alice", "random", False, "d"),
        ("alice", "random", True, "e"),
        ("", "random", False, "f"),
        ("", "general", False, "missing=24 inactive=63"),  # MissingArguments, Failed
    ]


def test_empty_message_is_failed_and_not_sent(harness) -> None:
    _plugin(harness, "    - {call: [Say, ''], as: r}\n    - [Say, 'ret={r[ret_val]}']\n")

    assert harness.play(lambda h: h.texts("bob", ";go")) == ["ret=63"]


def test_attributes_come_from_the_roster_and_bot_info(harness) -> None:
    _plugin(
        harness,
        "    - {call: [GetBotAttribute, fullname], as: b}\n"
        "    - {call: [GetBotAttribute, Contact], as: c}\n"
        "    - {call: [GetUserAttribute, alice, email], as: u}\n"
        "    - {call: [GetSenderAttribute, firstname], as: s}\n"
        "    - {call: [GetSenderAttribute, phone], as: missing}\n"
        "    - {call: [GetBotAttribute, shoesize], as: nope}\n"
        "    - [Say, '{b[attribute]}|{c[attribute]}|{u[attribute]}|{s[attribute]}|{missing[ret_val]}|{nope[ret_val]}']\n",
    )
    harness.robot_yaml = harness.robot_yaml.replace(
        "FullName: Bob User}", "FullName: Bob User, FirstName: Bob}"
    )

    assert harness.play(lambda h: h.texts("bob", ";go")) == [
        "Burrow Robot|Alice <alice@example.com>|alice@example.com|Bob|3|3"
    ]


def test_check_admin_is_true_only_for_roster_listed_admins(harness) -> None:
    _plugin(harness, "    - {call: [CheckAdmin], as: a}\n    - [Say, '{a[bool]}']\n")

    async def script(h):
        return await h.texts("alice", ";go") + await h.texts("bob", ";go")

    assert harness.play(script) == ["True", "False"]


def test_get_task_config_returns_the_merged_config(harness) -> None:
    _plugin(
        harness,
        "    - {call: [GetTaskConfig], as: c}\n    - [Say, '{c[config][Greeting]} {c[config][Sizes]} {c[ret_val]}']\n",
        conf="Config: {Greeting: howdy}\nAppendCommands: []\n",
    )

    assert harness.play(lambda h: h.texts("bob", ";go")) == ["howdy [1, 2] 0"]


def test_parameters_from_configuration_and_set_parameter_reach_later_tasks(harness) -> None:
    harness.extension(
        "task",
        "reader",
        "commands:\n  '*':\n    - {call: [GetParameter, COLOR], as: c}\n"
        "    - {call: [GetParameter, TOKEN], as: t}\n    - [Say, 'color={c[string]} token={t[string]}']\n",
        settings="Parameters: [{Name: TOKEN, Value: s3cret}]",
    )
    _plugin(
        harness,
        "    - {call: [SetParameter, COLOR, blue], as: ok}\n    - {call: [SetParameter, '9bad', x], as: bad}\n"
        "    - [Say, 'set={ok[bool]} bad={bad[bool]}']\n    - [AddTask, reader]\n",
    )

    assert harness.play(lambda h: h.texts("bob", ";go", n=2)) == [
        "set=True bad=False",
        "color=blue token=s3cret",
    ]


def test_set_working_directory_moves_later_children_never_the_robot(harness) -> None:
    harness.extension("task", "where", "commands:\n  '*':\n    - [Say, 'cwd={cwd}']\n")
    _plugin(
        harness,
        "    - {call: [SetWorkingDirectory, sub], as: a}\n"
        "    - {call: [SetWorkingDirectory, ../..], as: b}\n"
        "    - {call: [SetWorkingDirectory, nowhere], as: c}\n"
        "    - [Say, '{a[bool]} {b[bool]} {c[bool]}']\n"
        "    - [AddTask, where]\n",
    )
    (harness.root / "sub").mkdir(parents=True)
    before = os.getcwd()

    assert harness.play(lambda h: h.texts("bob", ";go", n=2)) == [
        "True False False",
        f"cwd={(harness.root / 'sub').resolve()}",
    ]
    assert os.getcwd() == before


def test_task_environment_carries_message_context_and_parameters_only(harness, monkeypatch) -> None:
    monkeypatch.setenv("ROBOT_ONLY_SECRET", "hunter2")
    _plugin(
        harness,
        "    - [Say, '{env[GOPHER_USER]} {env[GOPHER_CHANNEL]} {env[GOPHER_TASK_NAME]} {env[COLOR]}']\n"
        "    - [Say, '{env}']\n",
        settings="Parameters: [{Name: COLOR, Value: teal}]",
    )

    text, whole_env = harness.play(lambda h: h.texts("bob", ";go", n=2))
    assert text == "bob general probe teal"
    assert "ROBOT_ONLY_SECRET" not in whole_env and "hunter2" not in whole_env


def test_log_random_pause_and_get_message(harness) -> None:
    _plugin(
        harness,
        "    - {call: [Log, 4, 'a warning from the extension'], as: l}\n"
        "    - {call: [RandomInt, 5], as: i}\n"
        "    - {call: [RandomString, [only]], as: s}\n"
        "    - {call: [Pause, 0.05], as: p}\n"
        "    - {call: [GetMessage], as: m}\n"
        "    - [Say, '{l[bool]} {i[int]} {s[string]} {p[ok]} {m[message][user]} {m[message][channel]} {m[message][protocol]}']\n",
    )

    async def main():
        await harness.start()
        try:
            texts = await harness.texts("bob", ";go")
            logs = "".join(
                p.read_text() for p in (harness.root / "state" / "logs").glob("pipeline-*.log")
            )
            return texts, logs
        finally:
            await harness.stop()

    [text], logs = run(main())
    ok, number, choice, paused, user, channel, protocol = text.split()
    assert (ok, choice, paused, user, channel, protocol) == (
        "True",
        "only",
        "True",
        "bob",
        "general",
        "test",
    )
    assert 0 <= int(number) < 5
    assert "WARN" in logs and "a warning from the extension" in logs


def test_unknown_robot_method_and_bad_arguments_are_protocol_errors(harness) -> None:
    _plugin(
        harness,
        "    - {call: [Frobnicate], as: a}\n    - {call: [RandomInt, notanumber], as: b}\n"
        "    - {call: [Say], as: c}\n    - [Say, '{a[error]} {b[error]} {c[error]}']\n",
    )

    assert harness.play(lambda h: h.texts("bob", ";go")) == [
        "method_not_found invalid_params invalid_params"
    ]


def test_a_parameter_can_never_set_loader_or_path_variables_of_a_later_child(harness) -> None:
    harness.extension(
        "task",
        "victim",
        "commands:\n  '*':\n    - {call: [GetParameter, LD_PRELOAD], as: p}\n"
        '    - [Say, "param={p[string]} env={env}"]\n',
    )
    _plugin(
        harness,
        "    - [SetParameter, LD_PRELOAD, /tmp/evil.so]\n    - [SetParameter, PATH, /tmp/evil]\n"
        "    - [SetParameter, COLOR, red]\n    - [AddTask, victim]\n",
    )
    [text] = harness.play(lambda h: h.texts("bob", ";go"))
    assert text.startswith("param=/tmp/evil.so ")  # still a parameter the task may read
    assert "evil" not in text.split(" env=", 1)[1]  # but never in the child's environment
    assert "'COLOR': 'red'" in text
