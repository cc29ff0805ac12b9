"""Specification of a plugin's configuration: default merged with the robot's file, then checked."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from burrow.engine.config import (
    ConfigProblem,
    LoadedRobot,
    PluginConfig,
    finalize_plugin,
    load_robot,
)

# What an extension's `_configure` returns, as in Gopherbot's luafull test plugin.
DEFAULT = """\
Commands:
- Command: weather
  Regex: '(?i:weather) in (.*)'
- Command: forecast
  Regex: 'forecast (\\w+)'
Config:
  Openings: [hello]
"""


def robot(tmp_path: Path, files: dict[str, str], **environ: str) -> LoadedRobot:
    """Write a robot directory (robot.yaml defaults to empty) and load it."""
    files = {"conf/robot.yaml": "", **files}
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_robot(tmp_path, environ)


def plugin(
    tmp_path: Path, file: str | None, default: str | None = DEFAULT, robot_yaml: str = ""
) -> PluginConfig | list[ConfigProblem]:
    """Finalize the plugin `weather` from its robot file (if any) and default configuration."""
    files = {"conf/robot.yaml": robot_yaml}
    if file is not None:
        files["conf/plugins/weather.yaml"] = file
    return finalize_plugin(robot(tmp_path, files), "weather", default)


def valid(result: PluginConfig | list[ConfigProblem]) -> PluginConfig:
    """Return a finalized plugin, failing with its problems if it was disabled."""
    assert isinstance(result, PluginConfig), "\n".join(map(str, result))
    return result


def problems(result: PluginConfig | list[ConfigProblem]) -> list[ConfigProblem]:
    """Return the problems of a plugin that must have been disabled."""
    assert isinstance(result, list), f"expected problems, got {result!r}"
    return result


def only_problem(result: PluginConfig | list[ConfigProblem]) -> ConfigProblem:
    """Return the single problem of a disabled plugin."""
    found = problems(result)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


# --- merging over the default --------------------------------------------------------------


def test_the_robot_file_merges_into_the_default_config_map(tmp_path: Path) -> None:
    result = valid(plugin(tmp_path, "Config:\n  HttpBaseURL: http://x\n"))

    assert [c.command for c in result.commands] == ["weather", "forecast"]
    assert result.config == {"Openings": ["hello"], "HttpBaseURL": "http://x"}


def test_the_robot_file_replaces_the_default_commands_wholesale(tmp_path: Path) -> None:
    result = valid(plugin(tmp_path, "Commands:\n- {Command: secret, Regex: 'secret'}\n"))

    assert [c.command for c in result.commands] == ["secret"]


def test_append_commands_adds_to_the_default_commands(tmp_path: Path) -> None:
    result = valid(plugin(tmp_path, "AppendCommands:\n- {Command: radar, Regex: radar}\n"))

    assert [c.command for c in result.commands] == ["weather", "forecast", "radar"]


def test_a_plugin_needs_neither_a_file_nor_a_default(tmp_path: Path) -> None:
    assert valid(plugin(tmp_path, None, default=None)).commands == []


def test_environment_values_reach_the_plugin_config(tmp_path: Path) -> None:
    files = {"conf/plugins/weather.yaml": "Config: {Key: '${WEATHER_KEY}'}\n"}

    result = valid(finalize_plugin(robot(tmp_path, files, WEATHER_KEY="k"), "weather", DEFAULT))

    assert result.config == {"Openings": ["hello"], "Key": "k"}


def test_the_default_config_gets_no_environment_substitution(tmp_path: Path) -> None:
    # An extension must not read the robot's secrets by naming them in its own default.
    files: dict[str, str] = {}
    loaded = robot(tmp_path, files, AWS_SECRET="hunter2")

    result = valid(finalize_plugin(loaded, "weather", "Config: {Steal: '${AWS_SECRET}'}\n"))

    assert result.config == {"Steal": "${AWS_SECRET}"}


def test_a_disabled_plugin_is_still_a_valid_configuration(tmp_path: Path) -> None:
    assert valid(plugin(tmp_path, "Disabled: true\n")).disabled is True


# --- errors name the file, key and line that caused them ------------------------------------


def test_a_bad_regex_is_reported_with_its_position_key_and_line(tmp_path: Path) -> None:
    file = """\
    Commands:
    - Command: a
      Regex: 'a'
    - Command: b
      Regex: 'b'
    - Command: c
      Regex: 'abc)'
    """

    problem = only_problem(plugin(tmp_path, file))

    assert str(problem) == (
        "conf/plugins/weather.yaml:7: Commands[2].Regex: RE2 cannot compile 'abc)':"
        " unexpected ): abc) — fix the regular expression (Burrow uses RE2 syntax, as"
        " Gopherbot's Go regexp does: https://github.com/google/re2/wiki/Syntax)"
    )


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        pytest.param("(unclosed", "missing )", id="unterminated-group"),
        pytest.param("[a-", "missing ]", id="unterminated-set"),
        pytest.param("a(?=b)", "invalid perl operator: (?=", id="python-only-lookahead"),
        pytest.param("(a)\\1", "invalid escape sequence: \\1", id="python-only-backreference"),
    ],
)
def test_regexes_must_compile_with_re2(tmp_path: Path, regex: str, reason: str) -> None:
    file = f"MessageMatchers:\n- Command: weather\n  Regex: '{regex}'\n"

    problem = only_problem(plugin(tmp_path, file))

    assert (problem.key, problem.line) == ("MessageMatchers[0].Regex", 3)
    assert f"RE2 cannot compile '{regex}': {reason}" in problem.message


def test_a_bad_appended_command_points_at_the_append_key(tmp_path: Path) -> None:
    file = "Channels: [general]\nAppendCommands:\n- Command: radar\n  Regex: 'radar ('\n"

    problem = only_problem(plugin(tmp_path, file))

    assert (problem.file, problem.key, problem.line) == (
        "conf/plugins/weather.yaml",
        "AppendCommands[0].Regex",
        4,
    )


def test_an_error_in_the_default_config_names_the_extension(tmp_path: Path) -> None:
    default = "Commands:\n- Command: weather\n  Regex: 'weather ('\n"
    robot_yaml = "ExternalPlugins:\n  weather: {Path: plugins/weather.lua}\n"

    problem = only_problem(plugin(tmp_path, None, default=default, robot_yaml=robot_yaml))

    assert problem.file == "plugins/weather.lua (default configuration)"
    assert (problem.key, problem.line) == ("Commands[0].Regex", 3)


def test_an_unknown_key_in_a_plugin_file_is_reported_with_the_key(tmp_path: Path) -> None:
    problem = only_problem(plugin(tmp_path, "Channels: [general]\nAllowedPrivateCommand: ['*']\n"))

    assert (problem.file, problem.key, problem.line) == (
        "conf/plugins/weather.yaml",
        "AllowedPrivateCommand",
        2,
    )
    assert problem.message == "unknown key"
    assert problem.hint == "did you mean AllowedPrivateCommands?"


def test_an_unknown_key_with_an_empty_value_is_still_reported(tmp_path: Path) -> None:
    assert only_problem(plugin(tmp_path, "Help:\n")).key == "Help"


@pytest.mark.parametrize("key", ["Quiet", "Triggers", "KeepLogs"])
def test_job_only_keys_are_unknown_in_a_plugin(tmp_path: Path, key: str) -> None:
    assert only_problem(plugin(tmp_path, f"{key}: []\n")).key == key


@pytest.mark.parametrize("source", ["file", "default"])
def test_privileged_may_only_be_set_in_robot_yaml(tmp_path: Path, source: str) -> None:
    file, default = (
        ("Privileged: true\n", DEFAULT)
        if source == "file"
        else (None, DEFAULT + "Privileged: true\n")
    )

    problem = only_problem(plugin(tmp_path, file, default=default))

    assert problem.key == "Privileged"
    assert "only be set in conf/robot.yaml" in problem.message


def test_a_broken_plugin_file_disables_only_that_plugin(tmp_path: Path) -> None:
    loaded = robot(
        tmp_path,
        {
            "conf/plugins/weather.yaml": "Commands:\n  - Command: x\n   Regex: y\n",
            "conf/plugins/ping.yaml": "Channels: [general]\n",
        },
    )

    broken = only_problem(finalize_plugin(loaded, "weather", DEFAULT))
    ping = valid(finalize_plugin(loaded, "ping", None))

    assert (broken.file, broken.line) == ("conf/plugins/weather.yaml", 3)
    assert "YAML syntax error" in broken.message
    assert ping.channels == ["general"]


def test_broken_default_yaml_disables_the_plugin(tmp_path: Path) -> None:
    problem = only_problem(plugin(tmp_path, None, default="Commands: [\n"))

    assert problem.file == "plugins/weather (default configuration)"
    assert "YAML syntax error" in problem.message


# --- sanity rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "security_list",
    [
        "AdminCommands",
        "ElevatedCommands",
        "ElevateImmediateCommands",
        "AuthorizedCommands",
        "AllowedPrivateCommands",
        "RequiredPrivateCommands",
    ],
)
def test_security_lists_may_only_name_the_plugins_commands(
    tmp_path: Path, security_list: str
) -> None:
    problem = only_problem(plugin(tmp_path, f"{security_list}: [weather, forcast]\n"))

    assert (problem.key, problem.line) == (f"{security_list}[1]", 1)
    assert "'forcast' is not a command of this plugin" in problem.message
    assert "forecast, weather" in problem.hint


def test_security_lists_may_name_message_matcher_commands(tmp_path: Path) -> None:
    file = "AppendMessageMatchers: [{Command: lurk, Regex: lurk}]\nAdminCommands: [lurk]\n"

    assert valid(plugin(tmp_path, file)).admin_commands == ["lurk"]


def test_allowed_private_commands_accepts_the_wildcard(tmp_path: Path) -> None:
    assert valid(plugin(tmp_path, "AllowedPrivateCommands: ['*']\n")).allowed_private_commands == [
        "*"
    ]


def test_reply_matcher_labels_may_not_start_with_a_capital(tmp_path: Path) -> None:
    file = "ReplyMatchers:\n- {Label: city, Regex: '\\w+'}\n- {Label: YesNo, Regex: 'y|n'}\n"

    problem = only_problem(plugin(tmp_path, file))

    assert (problem.key, problem.line) == ("ReplyMatchers[1].Label", 3)
    assert "reserved" in problem.message


def test_matcher_commands_may_not_start_with_an_underscore(tmp_path: Path) -> None:
    problem = only_problem(plugin(tmp_path, "Commands: [{Command: _init, Regex: init}]\n"))

    assert problem.key == "Commands[0].Command"
    assert "reserved for engine callbacks" in problem.message


@pytest.mark.parametrize(
    ("file", "key", "message"),
    [
        pytest.param(
            "Commands: [{Command: w, Regex: w, SimpleMatcher: w}]\n",
            "Commands[0].SimpleMatcher",
            "mutually exclusive",
            id="regex-and-simple-matcher",
        ),
        pytest.param(
            "Commands: [{Command: w}]\n", "Commands[0].Regex", "missing Regex", id="no-regex"
        ),
        pytest.param(
            "Commands: [{Regex: w}]\n", "Commands[0].Command", "missing Command", id="no-command"
        ),
        pytest.param(
            "MessageMatchers: [{Command: w, Regex: w, SimpleMatcher: w}]\n",
            "MessageMatchers[0].SimpleMatcher",
            "only allowed in Commands",
            id="simple-matcher-outside-commands",
        ),
        pytest.param(
            "ReplyMatchers: [{Regex: w}]\n", "ReplyMatchers[0].Label", "missing Label", id="label"
        ),
        pytest.param(
            "CatchAllModes: [alias, shouted]\n",
            "CatchAllModes[1]",
            "'alias', 'name', 'direct' or 'hidden'",
            id="catch-all-mode",
        ),
        pytest.param(
            "TimeOuts: {Warn: soon}\n", "TimeOuts.Warn", "invalid duration", id="task-timeout"
        ),
    ],
)
def test_matcher_and_key_rules(tmp_path: Path, file: str, key: str, message: str) -> None:
    problem = only_problem(plugin(tmp_path, file))

    assert problem.key == key
    assert message in problem.message


def test_a_simple_matcher_that_does_not_compile_is_reported_with_its_reason(
    tmp_path: Path,
) -> None:
    file = "Commands: [{Command: w, SimpleMatcher: 'weather in <city:town>'}]\n"
    problem = only_problem(plugin(tmp_path, file, default=None))

    assert problem.key == "Commands[0].SimpleMatcher"
    assert "unknown capture type 'town'" in problem.message and "ident" in problem.hint


def test_a_simple_matcher_command_is_accepted(tmp_path: Path) -> None:
    file = "Commands: [{Command: w, SimpleMatcher: 'weather in <city:rest>'}]\n"
    assert isinstance(plugin(tmp_path, file, default=None), PluginConfig)


def test_all_problems_of_a_plugin_are_reported_together(tmp_path: Path) -> None:
    file = "Privileged: true\nAdminCommands: [nope]\nReplyMatchers: [{Label: X, Regex: x}]\n"

    assert [p.key for p in problems(plugin(tmp_path, file))] == [
        "Privileged",
        "ReplyMatchers[0].Label",
        "AdminCommands[0]",
    ]


# --- defaults from the robot ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "default_channels", "channels", "all_channels"),
    [
        pytest.param("", "[general, ops]", ["general", "ops"], False, id="gets-robot-defaults"),
        pytest.param("Channels: [dev]\n", "[general]", ["dev"], False, id="explicit-wins"),
        pytest.param("AllChannels: true\n", "[general]", [], True, id="all-channels-wins"),
        pytest.param("", "[]", [], True, id="no-defaults-means-everywhere"),
    ],
)
def test_channel_defaults(
    tmp_path: Path, file: str, default_channels: str, channels: list[str], all_channels: bool
) -> None:
    robot_yaml = f"DefaultChannels: {default_channels}\n"

    result = valid(plugin(tmp_path, file, robot_yaml=robot_yaml))

    assert (result.channels, result.all_channels) == (channels, all_channels)


def test_plugin_timeouts_default_to_the_robots(tmp_path: Path) -> None:
    result = valid(plugin(tmp_path, None, robot_yaml="TimeOuts: {Plugin: {Warn: 2m}}\n"))

    assert (result.time_outs.warn, result.time_outs.kill) == (120.0, 840.0)


def test_a_plugins_own_timeout_overrides_the_robots(tmp_path: Path) -> None:
    result = valid(plugin(tmp_path, "TimeOuts: {Kill: 1h30m}\n"))

    assert (result.time_outs.warn, result.time_outs.kill) == (420.0, 5400.0)
