"""Robot configuration: the schema, Gopherbot's merge rules, and loading with located errors."""

from burrow.engine.config.durations import parse_duration
from burrow.engine.config.loader import (
    ConfigError,
    ConfigProblem,
    LoadedRobot,
    RawConfig,
    finalize_job,
    finalize_plugin,
    load_robot,
)
from burrow.engine.config.merge import merge_config
from burrow.engine.config.schema import (
    InputMatcher,
    JobConfig,
    PluginConfig,
    RobotConfig,
    TaskSpec,
)

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "InputMatcher",
    "JobConfig",
    "LoadedRobot",
    "PluginConfig",
    "RawConfig",
    "RobotConfig",
    "TaskSpec",
    "finalize_job",
    "finalize_plugin",
    "load_robot",
    "merge_config",
    "parse_duration",
]
