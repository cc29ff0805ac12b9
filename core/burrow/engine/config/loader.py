"""Read a robot directory's YAML files into validated configuration, with located errors.

``load_robot`` reads ``conf/robot.yaml`` (a broken one stops the robot) and every plugin and
job file as raw documents. ``finalize_plugin`` and ``finalize_job`` later merge each raw
document over the extension's default configuration and validate it; a broken plugin or job is
disabled with its problems, never raised, so one bad file never keeps the robot from starting.

Every document, whether a file or an extension's ``_configure`` answer, is held to the limits
below before it becomes Python values, so hostile YAML (control characters, deep nesting,
alias bombs) is a located problem, never a crash, a stall or a memory blow-up.
"""

from __future__ import annotations

import difflib
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from burrow.engine.config.merge import Origins, merge_with_origins
from burrow.engine.config.schema import (
    Issue,
    JobConfig,
    KeyPath,
    PluginConfig,
    RobotConfig,
    TaskTimeOuts,
    job_issues,
    plugin_issues,
    robot_issues,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_EXPANDED_CHARS",
    "MAX_EXPANDED_NODES",
    "ConfigError",
    "ConfigProblem",
    "LoadedRobot",
    "RawConfig",
    "finalize_job",
    "finalize_plugin",
    "load_robot",
    "parse_config",
]

ROBOT_FILE = "conf/robot.yaml"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# Keys that belong to the declaration in robot.yaml, where only the operator can set them.
_ROBOT_ONLY_KEYS = ("Privileged", "NameSpace", "ParameterSets")

# Limits on every configuration document (docs/configuration.md, "Limits"). The expanded ones
# count a document as it would be written out with every alias (*name) replaced by what it
# repeats, which is what merging, validation and GetTaskConfig walk; they keep any document
# well inside the 16 MiB RPC message limit.
MAX_DOCUMENT_BYTES = 1024 * 1024  # the document's text, in UTF-8
MAX_DEPTH = 100  # lists and mappings nested in one another
MAX_EXPANDED_NODES = 100_000  # keys, values and list items, aliases expanded
MAX_EXPANDED_CHARS = 2 * 1024 * 1024  # characters of all keys and values, aliases expanded


@dataclass(frozen=True, kw_only=True)
class ConfigProblem:
    """One thing wrong with the configuration: where it is, what it is, and how to fix it."""

    file: str
    key: str = ""
    message: str
    hint: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        """Render as ``file:line: Key.Path: message — hint``."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class ConfigError(Exception):
    """The robot's configuration is broken; ``problems`` says where and how."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__(_describe(self.problems))


def _describe(problems: Sequence[ConfigProblem]) -> str:
    """Render problems one per line, the way an operator reads them."""
    if len(problems) == 1:
        return str(problems[0])
    return f"{len(problems)} configuration problems:\n" + "\n".join(f"  {p}" for p in problems)


@dataclass(frozen=True)
class RawConfig:
    """One parsed, environment-substituted YAML document and the line of each key; unvalidated."""

    file: str
    data: dict[str, Any] = field(default_factory=dict)
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    problems: tuple[ConfigProblem, ...] = ()


@dataclass(frozen=True)
class LoadedRobot:
    """A robot's validated ``robot.yaml`` plus its plugin and job files, keyed by name."""

    robot_dir: Path
    config: RobotConfig
    plugin_files: Mapping[str, RawConfig]
    job_files: Mapping[str, RawConfig]


# --- loading -----------------------------------------------------------------------------


def load_robot(robot_dir: Path, environ: Mapping[str, str]) -> LoadedRobot:
    """Load a robot directory, raising ``ConfigError`` if ``conf/robot.yaml`` is broken."""
    raw = _read(robot_dir, ROBOT_FILE, environ)
    if raw.problems:
        raise ConfigError(raw.problems)
    locate = _single(raw)
    try:
        config = RobotConfig.model_validate(raw.data)
    except ValidationError as error:
        raise ConfigError(_validation_problems(error, RobotConfig, raw.data, locate)) from None
    problems = [_issue_problem(issue, locate) for issue in robot_issues(config)]
    if problems:
        raise ConfigError(problems)
    return LoadedRobot(
        robot_dir=robot_dir,
        config=_resolve_paths(config, robot_dir),
        plugin_files=_read_all(robot_dir, "plugins", environ),
        job_files=_read_all(robot_dir, "jobs", environ),
    )


def parse_config(text: str, file: str, environ: Mapping[str, str] | None) -> RawConfig:
    """Parse one YAML mapping, substituting ``${VAR}`` references unless ``environ`` is None."""
    problem = _text_problem(text, file)
    if problem is not None:
        return RawConfig(file, problems=(problem,))
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return RawConfig(file)
        if not isinstance(node, yaml.MappingNode):
            return RawConfig(
                file,
                problems=(
                    ConfigProblem(
                        file=file,
                        line=node.start_mark.line + 1,
                        message="the file must be a mapping of keys to values",
                        hint="start with a key such as 'Commands:'",
                    ),
                ),
            )
        walk = _Walk(file, environ)
        walk.visit(node, ())
        if walk.problems:
            return RawConfig(file, problems=tuple(walk.problems))
        data = loader.construct_document(node)
    except _DocumentError as error:
        return RawConfig(file, problems=(_document_problem(file, error),))
    except yaml.MarkedYAMLError as error:
        if "maximum nesting depth" in str(error.problem) and error.problem_mark is not None:
            # LibYAML's own bound (1000 levels), met when it scans a run of brackets ahead of
            # what the composer has reached: past ours too.
            return RawConfig(
                file, problems=(_document_problem(file, _depth_error(error.problem_mark)),)
            )
        return RawConfig(file, problems=(_syntax_problem(file, error),))
    except yaml.YAMLError as error:
        return RawConfig(
            file, problems=(ConfigProblem(file=file, message=f"unreadable YAML: {error}"),)
        )
    except RecursionError:
        # The depth limit makes this unreachable from a shallow stack; never crash regardless.
        return RawConfig(file, problems=(_too_deep(file, None),))
    finally:
        loader.dispose()
    return RawConfig(file, data, walk.lines)


def _read(robot_dir: Path, file: str, environ: Mapping[str, str]) -> RawConfig:
    """Read and parse one file of the robot directory; a missing file is an empty mapping."""
    path = robot_dir / file
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            problem = ConfigProblem(
                file=file,
                message="not a regular file",
                hint="replace it with a YAML file, or remove it",
            )
            return RawConfig(file, problems=(problem,))
        if info.st_size > MAX_DOCUMENT_BYTES:
            return RawConfig(file, problems=(_too_big(file, info.st_size),))
        with path.open("rb") as handle:
            # Never more than the limit, even if the file grew since stat().
            content = handle.read(MAX_DOCUMENT_BYTES + 1)
        text = content.decode("utf-8")
    except FileNotFoundError:
        return RawConfig(file)
    except (OSError, UnicodeDecodeError) as error:
        problem = ConfigProblem(
            file=file, message=f"cannot read the file: {error}", hint="check it is UTF-8 text"
        )
        return RawConfig(file, problems=(problem,))
    return parse_config(text, file, environ)


def _read_all(robot_dir: Path, kind: str, environ: Mapping[str, str]) -> dict[str, RawConfig]:
    """Read every ``conf/<kind>/NAME.yaml``, keeping broken ones with their problems."""
    folder = robot_dir / "conf" / kind
    if not folder.is_dir():
        return {}
    return {
        path.stem: _read(robot_dir, f"conf/{kind}/{path.name}", environ)
        for path in sorted(folder.glob("*.yaml"))
    }


def _resolve_paths(config: RobotConfig, robot_dir: Path) -> RobotConfig:
    """Make relative extension paths absolute against the robot directory."""
    resolved = {}
    for key in ("external_plugins", "external_jobs", "external_tasks"):
        specs = getattr(config, key)
        resolved[key] = {
            name: spec.model_copy(update={"path": robot_dir / spec.path})
            if not spec.path.is_absolute()
            else spec
            for name, spec in specs.items()
        }
    return config.model_copy(update=resolved)


def _syntax_problem(file: str, error: yaml.MarkedYAMLError) -> ConfigProblem:
    """Turn a YAML parser error into a problem at the parser's line and column."""
    mark = error.problem_mark or error.context_mark
    message = error.problem or "invalid YAML"
    if error.context:
        message += f" ({error.context})"
    return ConfigProblem(
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        message=f"YAML syntax error: {message}",
        hint="check the indentation and quoting on this line and the one before",
    )


# --- limits: checked before a document becomes Python values ------------------------------

# What PyYAML's reader refuses (YAML 1.1's printable set): C0 controls but tab, LF and CR; DEL;
# C1 controls but NEL; surrogates; U+FFFE and U+FFFF.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_C0_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI "
    "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
).split()
_LIMIT_HINT = "see 'Limits' in docs/configuration.md"
# Where in a document: PyYAML's own Mark, or libyaml's, as its stubs allow for either.
_Where = Any


class _DocumentError(yaml.MarkedYAMLError):
    """A document over a limit or with an unreadable value, at the node where it was found."""

    def __init__(self, mark: _Where, message: str, hint: str) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.hint = hint


def _document_problem(file: str, error: _DocumentError) -> ConfigProblem:
    """Turn a limit or value error into a problem at its line and column."""
    mark = error.problem_mark
    return ConfigProblem(
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        message=error.problem or "invalid document",
        hint=error.hint,
    )


def _too_big(file: str, size: int) -> ConfigProblem:
    return ConfigProblem(
        file=file,
        message=f"the document is {size:,} bytes, more than the limit of"
        f" {MAX_DOCUMENT_BYTES // 1024 // 1024} MiB",
        hint=f"keep configuration small: large data belongs in a file the extension reads"
        f" ({_LIMIT_HINT})",
    )


def _too_deep(file: str, mark: _Where) -> ConfigProblem:
    return _document_problem(file, _depth_error(mark))


def _depth_error(mark: _Where) -> _DocumentError:
    return _DocumentError(
        mark,
        f"lists and mappings are nested more than {MAX_DEPTH} levels deep"
        " (counting what aliases repeat)",
        f"flatten the structure ({_LIMIT_HINT})",
    )


def _text_problem(text: str, file: str) -> ConfigProblem | None:
    """Check a document's size and characters before the YAML parser sees it."""
    if len(text) > MAX_DOCUMENT_BYTES // 4:  # could be over the limit in UTF-8
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_DOCUMENT_BYTES:
            return _too_big(file, size)
    found = _NON_PRINTABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    name = _C0_NAMES[code] if code < 32 else "DEL" if code == 0x7F else ""
    shown = f"U+{code:04X}" + (f" ({name})" if name else "")
    line_start = text.rfind("\n", 0, found.start()) + 1
    return ConfigProblem(
        file=file,
        line=text.count("\n", 0, found.start()) + 1,
        column=found.start() - line_start + 1,
        message=f"control character {shown} is not allowed in YAML",
        hint="remove it; a value that needs one can spell it as an escape in a double-quoted"
        ' string, such as "\\e" or "\\x07"',
    )


class _Bounded(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """PyYAML's safe composer and constructor, refusing a document over the limits while it
    is composed; the events come from a parser the class that uses it adds (`_Loader`).

    Composing keeps one node per anchor however often it is aliased, so counting here costs
    nothing extra and stops an alias bomb long before anything is expanded. The composer
    recurses once per level, so the depth limit also keeps it far from Python's stack limit.
    """

    if TYPE_CHECKING:  # what the parser of the class that uses it (`_Loader`) provides

        def peek_event(self) -> yaml.Event: ...

        def dispose(self) -> None: ...

    def _bound(self) -> None:
        self._depth = 0  # lists and mappings around the node being composed
        self._deepest = 0  # deepest level reached inside the node being composed
        self._nodes = 0  # nodes of the document so far, aliases expanded
        self._chars = 0  # characters of its scalars so far, aliases expanded
        # Each complete anchored node: its nodes, characters and levels, aliases expanded.
        self._anchored: dict[int, tuple[int, int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, counting what it adds to the expanded document."""
        event: yaml.Event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._anchored.get(id(node))
            if size is None:
                raise _DocumentError(
                    event.start_mark,
                    f"the alias *{event.anchor} is inside the node it refers to",
                    "an alias may only repeat a node that ends before it",
                )
            self._count(size[0], size[1], event.start_mark)
            self._reach(self._depth + size[2], event.start_mark)
            return node
        nodes, chars, outer_deepest = self._nodes, self._chars, self._deepest
        collection = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        length = len(event.value) if isinstance(event, yaml.ScalarEvent) else 0
        self._count(1, length, event.start_mark)
        if collection:
            self._reach(self._depth + 1, event.start_mark)
            self._depth += 1
        self._deepest = self._depth
        node = super().compose_node(parent, index)
        if collection:
            self._depth -= 1
        height = self._deepest - self._depth
        self._deepest = max(outer_deepest, self._deepest)
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None and node is not None:
            self._anchored[id(node)] = (self._nodes - nodes, self._chars - chars, height)
        return node

    def _count(self, nodes: int, chars: int, mark: _Where) -> None:
        self._nodes += nodes
        self._chars += chars
        if self._nodes > MAX_EXPANDED_NODES:
            raise _DocumentError(
                mark,
                f"the document holds more than {MAX_EXPANDED_NODES:,} values"
                " (keys, values and list items, counting what aliases repeat)",
                f"repeat fewer aliases (*name) or split the data ({_LIMIT_HINT})",
            )
        if self._chars > MAX_EXPANDED_CHARS:
            raise _DocumentError(
                mark,
                f"the document holds more than {MAX_EXPANDED_CHARS:,} characters of text"
                " (counting what aliases repeat)",
                f"repeat fewer aliases (*name) or shorten the values ({_LIMIT_HINT})",
            )

    def _reach(self, level: int, mark: _Where) -> None:
        self._deepest = max(self._deepest, level)
        if level > MAX_DEPTH:
            raise _depth_error(mark)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct one value; a value Python cannot hold is a problem at its line."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError) as error:
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise _DocumentError(
                node.start_mark,
                f"cannot read the {kind} value: {str(error)[:100]}",
                "quote the value to keep it as text",
            ) from None


# --- walking the YAML nodes: line numbers, duplicate keys, ${VAR} substitution ------------

_REFERENCE = re.compile(r"\$(\$|\{([^}]*)(\}?))")
_NAME_AND_DEFAULT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class _Walk:
    """One pass over a composed YAML document, before it is turned into Python values."""

    def __init__(self, file: str, environ: Mapping[str, str] | None) -> None:
        self.file = file
        self.environ = environ
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[ConfigProblem] = []
        self._seen: set[int] = set()

    def visit(self, node: yaml.Node, path: KeyPath) -> None:
        """Record key lines and substitute string values under ``node``."""
        # An anchored node is shared by its aliases: substitute it once, or `$$` would be
        # unescaped twice.
        if id(node) in self._seen:
            return
        self._seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            self._substitute(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self.visit(item, (*path, index))
        elif isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    self.visit(value_node, path)
                    continue
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in keys:
                    # Go's YAML decoder rejects these; PyYAML would silently keep the last one.
                    self._problem((*path, key), line, "duplicate key", "keep only one of them")
                keys.add(key)
                self.lines[(*path, key)] = line
                self.visit(value_node, (*path, key))

    def _substitute(self, node: yaml.ScalarNode, path: KeyPath) -> None:
        """Replace ``${VAR}``, ``${VAR:-default}`` and ``$$`` in one string value."""
        # Substituting parsed string scalars, never the raw text, means a value from the
        # environment can never change the document's structure.
        if self.environ is None or node.tag != _STR_TAG or "$" not in node.value:
            return
        environ = self.environ
        line = node.start_mark.line + 1

        def replace(reference: re.Match[str]) -> str:
            if reference.group(1) == "$":
                return "$"
            parts = _NAME_AND_DEFAULT.fullmatch(reference.group(2))
            if not reference.group(3) or parts is None:
                self._problem(
                    path,
                    line,
                    f"malformed reference {reference.group(0)!r}",
                    "write ${NAME} or ${NAME:-default}, and $$ for a literal $",
                )
                return reference.group(0)
            name, default = parts.group(1), parts.group(2)
            value = environ.get(name)
            # As in the shell, `:-` also replaces a variable that is set but empty.
            if value is None or (value == "" and default is not None):
                if default is None:
                    self._problem(
                        path,
                        line,
                        f"environment variable {name} is not set",
                        f"export {name} before starting the robot, or give a default"
                        f" with ${{{name}:-value}}",
                    )
                    return ""
                return default
            return value

        node.value = _REFERENCE.sub(replace, node.value)

    def _problem(self, path: KeyPath, line: int, message: str, hint: str) -> None:
        """Record a problem at a known line."""
        self.problems.append(
            ConfigProblem(
                file=self.file, key=_format_key(path), line=line, message=message, hint=hint
            )
        )


# --- plugins and jobs --------------------------------------------------------------------

_Task = TypeVar("_Task", PluginConfig, JobConfig)
_Locate = Callable[[KeyPath], tuple[RawConfig, KeyPath]]


class _PythonLoader(_Bounded, yaml.SafeLoader):
    """The bounded loader on PyYAML's own scanner and parser, written in Python."""

    def __init__(self, text: str) -> None:
        yaml.SafeLoader.__init__(self, text)
        self._bound()


_Loader: Callable[[str], _Bounded] = _PythonLoader
if getattr(yaml, "__with_libyaml__", False):
    # PyYAML's wheels carry LibYAML. Its scanner and parser, in C, make the events; composing
    # (and the limits) stay in Python. The Python scanner and parser were most of the time a
    # robot with many plugins took at start to read their configuration (docs/performance.md).

    from yaml._yaml import CParser

    class _LibYAMLLoader(_Bounded, CParser):
        """The bounded loader on LibYAML's scanner and parser."""

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._bound()

    _Loader = _LibYAMLLoader


# An unquoted date (`Since: 2020-01-01`) stays a string, as in Gopherbot's YAML (yaml.v3 keeps
# a timestamp a string in a free-form value): a `Config` value travels to extensions over
# msgpack, which has no date type, and no configuration key of the robot's is a date.
_Bounded.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def finalize_plugin(
    loaded: LoadedRobot,
    name: str,
    default_yaml: str | None = None,
    config_model: type[BaseModel] | None = None,
) -> PluginConfig | list[ConfigProblem]:
    """Merge a plugin's file over its default, validate it and apply the robot's defaults.

    `config_model`, for a plugin the robot implements itself, is what its free-form `Config`
    section must fit; a misfit is located like any other problem.
    """
    result = _finalize(
        loaded, "plugins", name, default_yaml, PluginConfig, plugin_issues, config_model
    )
    if isinstance(result, list):
        return result
    robot = loaded.config
    defaults = robot.time_outs.plugin
    update: dict[str, Any] = {
        "time_outs": _fill_timeouts(result.time_outs, defaults.warn, defaults.kill)
    }
    if not result.channels and not result.all_channels:
        if robot.default_channels:
            update["channels"] = list(robot.default_channels)
        else:
            update["all_channels"] = True
    return result.model_copy(update=update)


def finalize_job(
    loaded: LoadedRobot, name: str, default_yaml: str | None = None
) -> JobConfig | list[ConfigProblem]:
    """Merge a job's file over its default, validate it and apply the robot's defaults."""
    result = _finalize(loaded, "jobs", name, default_yaml, JobConfig, job_issues)
    if isinstance(result, list):
        return result
    robot = loaded.config
    defaults = robot.time_outs.job
    update: dict[str, Any] = {
        "time_outs": _fill_timeouts(result.time_outs, defaults.warn, defaults.kill)
    }
    if not result.channel and not result.disabled:
        if not robot.default_job_channel:
            return [
                ConfigProblem(
                    file=f"conf/jobs/{name}.yaml",
                    key="Channel",
                    message="the job has no Channel and robot.yaml sets no DefaultJobChannel,"
                    " so it is disabled",
                    hint=f"set Channel in conf/jobs/{name}.yaml or DefaultJobChannel in"
                    f" {ROBOT_FILE}",
                )
            ]
        update["channel"] = robot.default_job_channel
    return result.model_copy(update=update)


def _finalize(
    loaded: LoadedRobot,
    kind: Literal["plugins", "jobs"],
    name: str,
    default_yaml: str | None,
    model: type[_Task],
    issues: Callable[[_Task], list[Issue]],
    config_model: type[BaseModel] | None = None,
) -> _Task | list[ConfigProblem]:
    """Merge, validate and check one plugin or job; return its problems instead of raising."""
    files = loaded.plugin_files if kind == "plugins" else loaded.job_files
    overlay: RawConfig = files.get(name) or RawConfig(f"conf/{kind}/{name}.yaml")
    # The default comes from the extension itself, so it gets no ${VAR} substitution: an
    # extension must not be able to read the robot's environment through its own config.
    base: RawConfig = parse_config(
        default_yaml or "", _default_label(loaded, kind, name), environ=None
    )
    problems = [*base.problems, *overlay.problems]
    if problems:
        return problems
    problems = [*_robot_only_problems(base), *_robot_only_problems(overlay)]
    merged, origins = merge_with_origins(_without_robot_only(base), _without_robot_only(overlay))
    locate = _merged(base, overlay, origins)
    try:
        config = model.model_validate(merged)
    except ValidationError as error:
        return problems + _validation_problems(error, model, merged, locate)
    problems += [_issue_problem(issue, locate) for issue in issues(config)]
    if config_model is not None:
        section = merged.get("Config")
        try:
            config_model.model_validate({} if section is None else section)
        except ValidationError as error:

            def in_section(path: KeyPath) -> tuple[RawConfig, KeyPath]:
                return locate(("Config", *path))

            problems += _validation_problems(error, config_model, section or {}, in_section)
    return problems or config


def _default_label(loaded: LoadedRobot, kind: str, name: str) -> str:
    """Name the source of an extension's default configuration for error messages."""
    specs = loaded.config.external_plugins if kind == "plugins" else loaded.config.external_jobs
    spec = specs.get(name)
    if spec is None:
        return f"{kind}/{name} (default configuration)"
    try:
        shown = spec.path.relative_to(loaded.robot_dir)
    except ValueError:
        shown = spec.path
    return f"{shown} (default configuration)"


def _robot_only_problems(doc: RawConfig) -> list[ConfigProblem]:
    """Report keys that only robot.yaml may set."""
    return [
        ConfigProblem(
            file=doc.file,
            key=key,
            line=doc.lines.get((key,)),
            message=f"{key} may only be set in {ROBOT_FILE}",
            hint=f"move it to the extension's entry under ExternalPlugins or ExternalJobs in"
            f" {ROBOT_FILE}",
        )
        for key in _ROBOT_ONLY_KEYS
        if key in doc.data
    ]


def _without_robot_only(doc: RawConfig) -> dict[str, Any]:
    """Return a document without the keys only robot.yaml may set, already reported."""
    return {key: value for key, value in doc.data.items() if key not in _ROBOT_ONLY_KEYS}


def _fill_timeouts(own: TaskTimeOuts, warn: float, kill: float) -> TaskTimeOuts:
    """Fill a task's unset timeouts from the robot-wide ones."""
    return own.model_copy(
        update={
            "warn": warn if own.warn is None else own.warn,
            "kill": kill if own.kill is None else own.kill,
        }
    )


# --- locating problems -------------------------------------------------------------------


def _single(doc: RawConfig) -> _Locate:
    """Locate paths of a document that was not merged with anything."""
    return lambda path: (doc, path)


def _merged(base: RawConfig, overlay: RawConfig, origins: Origins) -> _Locate:
    """Locate paths of a merged document in whichever document supplied them."""

    def locate(path: KeyPath) -> tuple[RawConfig, KeyPath]:
        best: tuple[KeyPath, KeyPath] | None = None
        for merged_prefix, overlay_prefix in origins:
            if path[: len(merged_prefix)] == merged_prefix and (
                best is None or len(merged_prefix) > len(best[0])
            ):
                best = (merged_prefix, overlay_prefix)
        if best is None:
            return base, path
        return overlay, best[1] + path[len(best[0]) :]

    return locate


def _problem_at(locate: _Locate, path: KeyPath, message: str, hint: str = "") -> ConfigProblem:
    """Make a problem for a merged path, with the file, key and line it came from."""
    doc, source_path = locate(path)
    line = None
    for length in range(len(source_path), 0, -1):
        line = doc.lines.get(source_path[:length])
        if line is not None:
            break
    return ConfigProblem(
        file=doc.file, key=_format_key(source_path), line=line, message=message, hint=hint
    )


def _issue_problem(issue: Issue, locate: _Locate) -> ConfigProblem:
    """Locate a rule broken across keys."""
    return _problem_at(locate, issue.path, issue.message, issue.hint)


def _validation_problems(
    error: ValidationError, model: type[BaseModel], data: Mapping[str, Any], locate: _Locate
) -> list[ConfigProblem]:
    """Turn pydantic's errors into located problems, in the order of their lines."""
    problems = []
    for detail in error.errors():
        path = _data_path(data, detail["loc"], keep_missing=detail["type"] == "missing")
        message, hint = _explain(detail, model, path)
        problems.append(_problem_at(locate, path, message, hint))
    return sorted(problems, key=lambda p: (p.file, p.line or 0))


def _data_path(data: Any, loc: tuple[int | str, ...], keep_missing: bool) -> KeyPath:
    """Keep the parts of a pydantic location that are keys or indexes in the document."""
    # pydantic adds entries that are not in the document, such as union member names or
    # `[key]` for a bad mapping key; follow the data so only real keys remain.
    path: list[str | int] = []
    for position, part in enumerate(loc):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            if keep_missing and position == len(loc) - 1:
                path.append(part)
            continue
        path.append(part)
    return tuple(path)


def _explain(detail: ErrorDetails, model: type[BaseModel], path: KeyPath) -> tuple[str, str]:
    """Word a pydantic error for an operator, with a hint where one helps."""
    kind = detail["type"]
    if kind == "extra_forbidden":
        known = {key.lower(): key for key in _keys_at(model, path[:-1])}
        close = difflib.get_close_matches(str(path[-1]).lower(), known, n=1)
        if close:
            return "unknown key", f"did you mean {known[close[0]]}?"
        return "unknown key", "remove it or correct its spelling (keys are case-sensitive)"
    if kind == "missing":
        return "required key is missing", f"add {detail['loc'][-1]}"
    if kind == "value_error":
        cause = detail.get("ctx", {}).get("error")
        return str(cause), str(getattr(cause, "hint", ""))
    shown = repr(detail["input"])
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if kind == "model_type":
        return f"expected a mapping of keys, got {shown}", "indent its keys under it"
    return f"{detail['msg']}, got {shown}", ""


def _keys_at(kind: Any, path: KeyPath) -> list[str]:
    """Return the keys a model allows at a path, to suggest the one a typo meant."""
    for part in path:
        kind = _unwrap(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            fields = {info.alias: info.annotation for info in kind.model_fields.values()}
            kind = fields.get(str(part))
        elif get_origin(kind) in (list, dict):
            kind = get_args(kind)[-1]
        else:
            return []
    kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [info.alias for info in kind.model_fields.values() if info.alias]
    return []


def _unwrap(kind: Any) -> Any:
    """Look through ``Annotated[...]`` and ``X | None`` to the type underneath."""
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if get_origin(kind) in (Union, UnionType):
        members = [arg for arg in get_args(kind) if arg is not type(None)]
        kind = members[0] if len(members) == 1 else kind
    return kind


def _format_key(path: KeyPath) -> str:
    """Render a key path the way it reads in YAML: ``Commands[2].Regex``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
