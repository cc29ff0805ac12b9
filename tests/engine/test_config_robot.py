"""Specification of loading ``conf/robot.yaml``: defaults, validation, located errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from burrow.engine.config import ConfigError, ConfigProblem, RobotConfig, load_robot


def write(robot_dir: Path, files: dict[str, str]) -> Path:
    """Write YAML files (dedented) under a robot directory and return the directory."""
    for name, text in files.items():
        path = robot_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return robot_dir


def load_error(robot_dir: Path, robot_yaml: str, **environ: str) -> ConfigError:
    """Load a robot.yaml that must be rejected and return the error."""
    write(robot_dir, {"conf/robot.yaml": robot_yaml})
    with pytest.raises(ConfigError) as caught:
        load_robot(robot_dir, environ)
    return caught.value


def only_problem(error: ConfigError) -> ConfigProblem:
    """Return the single problem of an error."""
    assert len(error.problems) == 1, str(error)
    return error.problems[0]


def test_a_missing_robot_yaml_gives_the_installed_defaults(tmp_path: Path) -> None:
    loaded = load_robot(tmp_path, {})

    robot = loaded.config
    assert robot == RobotConfig()
    assert robot.primary_protocol == "terminal"
    assert robot.brain == "sqlite"
    assert robot.default_message_format == "BasicMarkdown"
    assert (robot.time_outs.plugin.warn, robot.time_outs.plugin.kill) == (420.0, 840.0)
    assert (robot.time_outs.job.warn, robot.time_outs.job.kill) == (3600.0, 7200.0)
    assert loaded.plugin_files == {} and loaded.job_files == {}


def test_a_gopherbot_style_robot_yaml_loads(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "conf/robot.yaml": """
            BotInfo:
              UserName: floyd
              Email: floyd@example.com
              FullName: Floyd Gopher
            Alias: ';'
            AdminUsers: [alice]
            UserRoster:
            - UserName: alice
              UserID: 1001
              Phone: 5551234
            DefaultChannels: [general, random]
            DefaultJobChannel: jobs
            DefaultMessageFormat: Fixed
            LogLevel: DEBUG
            ProtocolConfig:
              terminal:
                Users: [{Name: alice, Email: alice@example.com}]
                Channels: [general]
            BrainConfig: {Path: state/brain.db}
            ExternalPlugins:
              weather:
                Path: plugins/weather.lua
                Description: Tells the weather
                Parameters:
                - {Name: API_KEY, Value: '${WEATHER_KEY}'}
            ExternalJobs:
              backup: {Path: /opt/jobs/backup.lua, Privileged: true}
            ScheduledJobs:
            - {Name: backup, Schedule: '0 3 * * *'}
            - {Name: backup, Schedule: '@init'}
            TimeOuts:
              Plugin: {Warn: 1m}
              Job: {Kill: 3h}
            TimeZone: Europe/Berlin
            """
        },
    )

    robot = load_robot(tmp_path, {"WEATHER_KEY": "k3y"}).config

    assert robot.bot_info.user_name == "floyd"
    assert robot.alias == ";"
    assert robot.user_roster[0].user_id == "1001"
    assert robot.user_roster[0].phone == "5551234"
    assert robot.log_level == "debug"
    assert robot.protocol_config["terminal"]["Channels"] == ["general"]
    assert robot.external_plugins["weather"].parameters[0].value == "k3y"
    assert robot.external_jobs["backup"].privileged is True
    assert [job.schedule for job in robot.scheduled_jobs] == ["0 3 * * *", "@init"]
    assert (robot.time_outs.plugin.warn, robot.time_outs.plugin.kill) == (60.0, 840.0)
    assert (robot.time_outs.job.warn, robot.time_outs.job.kill) == (3600.0, 10800.0)


def test_relative_extension_paths_resolve_against_the_robot_dir(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "conf/robot.yaml": """
            ExternalPlugins:
              weather: {Path: plugins/weather.lua}
            ExternalTasks:
              notify: {Path: /usr/local/bin/notify}
            """
        },
    )

    robot = load_robot(tmp_path, {}).config

    assert robot.external_plugins["weather"].path == tmp_path / "plugins" / "weather.lua"
    assert robot.external_tasks["notify"].path == Path("/usr/local/bin/notify")


def test_an_empty_value_means_the_default(tmp_path: Path) -> None:
    write(tmp_path, {"conf/robot.yaml": "DefaultChannels:\nBrain:\n"})

    robot = load_robot(tmp_path, {}).config

    assert (robot.default_channels, robot.brain) == ([], "sqlite")


def test_broken_yaml_syntax_reports_line_and_column(tmp_path: Path) -> None:
    error = load_error(tmp_path, "BotInfo:\n  UserName: floyd\n Email: x\n")

    problem = only_problem(error)
    assert (problem.file, problem.line, problem.column) == ("conf/robot.yaml", 3, 2)
    assert "YAML syntax error" in problem.message
    assert str(error).startswith("conf/robot.yaml:3:2: YAML syntax error")


def test_a_robot_yaml_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    problem = only_problem(load_error(tmp_path, "- just\n- a list\n"))

    assert "mapping" in problem.message


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    problem = only_problem(load_error(tmp_path, "Brain: sqlite\nAlias: ';'\nBrain: memory\n"))

    assert (problem.key, problem.line, problem.message) == ("Brain", 3, "duplicate key")


def test_an_unset_variable_stops_the_robot_with_its_location(tmp_path: Path) -> None:
    error = load_error(tmp_path, "AdminContact: admin\nReadyMessage: ${READY}\n")

    assert str(error) == (
        "conf/robot.yaml:2: ReadyMessage: environment variable READY is not set — export READY"
        " before starting the robot, or give a default with ${READY:-value}"
    )


@pytest.mark.parametrize(
    ("robot_yaml", "key", "line", "message"),
    [
        pytest.param("Brain: sqlite\nBrian: x\n", "Brian", 2, "unknown key", id="unknown-key"),
        pytest.param(
            "BotInfo:\n  UserName: x\n  Nickname: y\n",
            "BotInfo.Nickname",
            3,
            "unknown key",
            id="unknown-nested-key",
        ),
        pytest.param("Alias: 'xy'\n", "Alias", 1, "not a valid alias", id="long-alias"),
        pytest.param("Alias: a\n", "Alias", 1, "not a valid alias", id="letter-alias"),
        pytest.param(
            "DefaultMessageFormat: Markdown\n",
            "DefaultMessageFormat",
            1,
            "'BasicMarkdown'",
            id="message-format",
        ),
        pytest.param("LogLevel: loud\n", "LogLevel", 1, "'debug'", id="log-level"),
        pytest.param("HearSelf: maybe\n", "HearSelf", 1, "boolean", id="not-a-boolean"),
        pytest.param(
            "TimeOuts:\n  Plugin:\n    Warn: 7 minutes\n",
            "TimeOuts.Plugin.Warn",
            3,
            "invalid duration",
            id="bad-duration",
        ),
        pytest.param(
            "TimeOuts:\n  Job: {Kill: 0s}\n",
            "TimeOuts.Job.Kill",
            2,
            "longer than zero",
            id="zero-timeout",
        ),
        pytest.param(
            "ExternalPlugins:\n  weather:\n    Description: no path\n",
            "ExternalPlugins.weather.Path",
            2,
            "required key is missing",
            id="missing-path",
        ),
        pytest.param(
            "ExternalPlugins:\n  weather:\n    Path: w.lua\n  bot:\n    Path: b.lua\n",
            "ExternalPlugins.bot",
            4,
            "reserved",
            id="bot-is-illegal",
        ),
        pytest.param(
            "ExternalJobs:\n  2fast:\n    Path: j.lua\n",
            "ExternalJobs.2fast",
            2,
            "not a valid name",
            id="name-starts-with-digit",
        ),
        pytest.param(
            "UserRoster:\n- UserName: a\n- UserID: 2\n",
            "UserRoster[1].UserName",
            3,
            "required key is missing",
            id="roster-without-name",
        ),
        pytest.param(
            "ScheduledJobs:\n- Name: backup\n  Schedule: '0 3 * *'\n",
            "ScheduledJobs[0].Schedule",
            3,
            "5-field cron",
            id="four-field-schedule",
        ),
        pytest.param("TimeZone: Mars/Olympus\n", "TimeZone", 1, "unknown time zone", id="tz"),
    ],
)
def test_each_validation_error_names_file_key_and_line(
    tmp_path: Path, robot_yaml: str, key: str, line: int, message: str
) -> None:
    problem = only_problem(load_error(tmp_path, robot_yaml))

    assert (problem.file, problem.key, problem.line) == ("conf/robot.yaml", key, line)
    assert message in problem.message


def test_all_validation_errors_are_reported_together(tmp_path: Path) -> None:
    error = load_error(tmp_path, "Brian: x\nAlias: ab\nHearSelf: maybe\n")

    assert [p.key for p in error.problems] == ["Brian", "Alias", "HearSelf"]
    assert str(error).startswith("3 configuration problems:\n  conf/robot.yaml:1: Brian:")


@pytest.mark.parametrize(
    ("robot_yaml", "suggestion"),
    [
        pytest.param("Brian: x\n", "did you mean Brain?", id="top-level"),
        pytest.param("TimeOuts: {Job: {warn: 1m}}\n", "did you mean Warn?", id="nested-case"),
        pytest.param("UserRoster: [{UserName: a, UserId: 1}]\n", "did you mean UserID?", id="list"),
        pytest.param(
            "ExternalJobs: {backup: {Path: b, Namespace: x}}\n",
            "did you mean NameSpace?",
            id="inside-a-map-of-names",
        ),
    ],
)
def test_a_misspelt_key_gets_a_suggestion(tmp_path: Path, robot_yaml: str, suggestion: str) -> None:
    problem = only_problem(load_error(tmp_path, robot_yaml))

    assert (problem.message, problem.hint) == ("unknown key", suggestion)


def test_names_are_unique_across_plugins_jobs_tasks_and_sets(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """\
        ExternalPlugins:
          deploy: {Path: p.lua}
        ExternalJobs:
          deploy: {Path: j.lua}
        ParameterSets:
          deploy: {Parameters: [{Name: A, Value: b}]}
        """,
    )

    assert [(p.key, p.line) for p in error.problems] == [
        ("ExternalJobs.deploy", 4),
        ("ParameterSets.deploy", 6),
    ]
    assert "already declared in ExternalPlugins" in error.problems[0].message


def test_referenced_namespaces_and_parameter_sets_must_exist(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """\
        NameSpaces:
          shared: {}
        ExternalJobs:
          deploy:
            Path: j.lua
            NameSpace: sharde
            ParameterSets: [aws]
        """,
    )

    assert [(p.key, p.line) for p in error.problems] == [
        ("ExternalJobs.deploy.NameSpace", 6),
        ("ExternalJobs.deploy.ParameterSets[0]", 7),
    ]


def test_a_bad_plugin_file_does_not_stop_the_robot(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "conf/robot.yaml": "Alias: ';'\n",
            "conf/plugins/broken.yaml": "Commands: [\n",
            "conf/plugins/secret.yaml": "Config: {Token: '${MISSING}'}\n",
            "conf/plugins/fine.yaml": "Channels: [general]\n",
            "conf/jobs/nightly.yaml": "Channel: jobs\n",
        },
    )

    loaded = load_robot(tmp_path, {})

    assert sorted(loaded.plugin_files) == ["broken", "fine", "secret"]
    assert loaded.plugin_files["broken"].problems
    assert loaded.plugin_files["secret"].problems
    assert loaded.plugin_files["fine"].problems == ()
    assert loaded.job_files["nightly"].data == {"Channel": "jobs"}
