"""The one schema of a robot's configuration: ``robot.yaml`` and the per-plugin and per-job files.

Field names are snake_case in Python; the YAML keys are Gopherbot's PascalCase names (made by
the alias generator, with explicit aliases where Gopherbot's spelling differs), so a Gopherbot
robot's configuration carries over. Every default lives here and nowhere else.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_pascal

from burrow.engine.config.durations import parse_duration
from burrow.engine.matching import compile_command
from burrow.engine.patterns import PatternError
from burrow.engine.pipeline_logs import DEFAULT_KEEP, MIN_KEEP
from burrow.engine.simple_matcher import SimpleMatcherError, compile_simple
from burrow.engine.slots import default_max_children

__all__ = [
    "BotInfo",
    "ChildLimitsConfig",
    "ConfigModel",
    "HTTPClientConfig",
    "IdentityProvider",
    "InputMatcher",
    "InvalidValue",
    "Issue",
    "JobConfig",
    "JobTimeOuts",
    "JobTrigger",
    "KeyPath",
    "MailConfig",
    "OAuth2Config",
    "OAuth2Endpoint",
    "Parameter",
    "ParameterSet",
    "PluginConfig",
    "PluginTimeOuts",
    "PrivSepConfig",
    "RobotConfig",
    "RobotTimeOuts",
    "ScheduledJob",
    "TaskSpec",
    "TaskTimeOuts",
    "UserInfo",
    "job_issues",
    "plugin_issues",
    "robot_issues",
]

KeyPath = tuple[str | int, ...]


class InvalidValue(ValueError):
    """A value that fails validation, carrying a hint that tells the operator how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class Issue(NamedTuple):
    """A broken rule at a key path of a validated configuration, with how to fix it."""

    path: KeyPath
    message: str
    hint: str = ""


class _Model(BaseModel):
    """Base of every configuration model: Gopherbot key names, unknown keys rejected."""

    # Unknown keys are errors because a misspelt security list that is silently ignored grants
    # access nobody meant to grant. Numbers become strings so `Channel: 2024` or a numeric
    # UserID works as it does in Go's YAML decoder.
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_pascal,
        frozen=True,
        coerce_numbers_to_str=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        """Treat a key with an empty value as absent, as Go's YAML decoder does."""
        # `Users:` with nothing under it is common in hand-edited YAML and means "none".
        # Unknown keys are kept even when empty so that they are still reported.
        if isinstance(data, dict):
            known = {info.alias for info in cls.model_fields.values()}
            return {k: v for k, v in data.items() if v is not None or k not in known}
        return data


# The base of configuration models outside this module: the `Config` sections of the plugins
# the robot implements itself (engine/builtin_plugins), which follow the same rules.
ConfigModel = _Model


# --- field types -------------------------------------------------------------------------


def _duration(value: object) -> float:
    """Validate a timeout given as a Go duration string or integer nanoseconds."""
    hint = "write a Go duration such as '7m', '1h30m' or '500ms'"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidValue(f"expected a duration, got {value!r}", hint)
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise InvalidValue(str(error), hint) from None
    if seconds <= 0:
        raise InvalidValue(f"a timeout must be longer than zero, got {value!r}", hint)
    return seconds


def _regex(pattern: str) -> str:
    """Check that a regular expression compiles with RE2, on its own and as a whole command.

    RE2 is Gopherbot's syntax (Go's regexp) and matches in linear time; Python's re would let
    a pattern like `^(a+)+$` hold the robot for minutes. The error names the pattern and, for
    Python-only syntax such as lookahead, says what to write instead.
    """
    if pattern:
        try:
            compile_command(pattern)
        except PatternError as error:
            raise InvalidValue(str(error), error.hint) from None
    return pattern


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _task_name(name: str) -> str:
    """Check a plugin, job, task, namespace or parameter set name."""
    if not _NAME.fullmatch(name):
        raise InvalidValue(
            f"{name!r} is not a valid name",
            "start with a letter, then use only letters, digits, '_' and '-'",
        )
    if name == "bot":
        raise InvalidValue("'bot' is reserved for the robot itself", "choose another name")
    return name


def _extension_path(value: object) -> object:
    """Reject an empty Path, which would otherwise resolve to the robot directory itself."""
    if value == "":
        raise InvalidValue("Path is empty", "give the extension's file, e.g. plugins/weather.lua")
    return value


def _lowercase(value: object) -> object:
    """Accept log levels in any case, as Gopherbot does."""
    return value.lower() if isinstance(value, str) else value


Duration = Annotated[float, BeforeValidator(_duration)]
Regex = Annotated[str, AfterValidator(_regex)]
TaskName = Annotated[str, AfterValidator(_task_name)]
MessageFormat = Literal["Raw", "Fixed", "Variable", "BasicMarkdown"]
LogLevel = Annotated[
    Literal["trace", "debug", "info", "audit", "warn", "error", "fatal"],
    BeforeValidator(_lowercase),
]
CatchAllMode = Literal["alias", "name", "direct", "hidden"]

_ALIAS_CHARACTERS = "&!;:-%#@~<>*+^$?\\[]{}"


# --- timeouts ----------------------------------------------------------------------------


class TaskTimeOuts(_Model):
    """A task's own ``TimeOuts``; unset values fall back to the robot's, in seconds."""

    warn: Duration | None = None
    kill: Duration | None = None


class PluginTimeOuts(_Model):
    """Robot-wide plugin timeouts in seconds: warn after 7 minutes, kill after 14."""

    warn: Duration = 7 * 60.0
    kill: Duration = 14 * 60.0


class JobTimeOuts(_Model):
    """Robot-wide job timeouts in seconds: warn after an hour, kill after two."""

    warn: Duration = 60 * 60.0
    kill: Duration = 2 * 60 * 60.0


class RobotTimeOuts(_Model):
    """The robot's ``TimeOuts`` for plugins and jobs."""

    plugin: PluginTimeOuts = PluginTimeOuts()
    job: JobTimeOuts = JobTimeOuts()


# --- robot.yaml --------------------------------------------------------------------------


class BotInfo(_Model):
    """The robot's own identity."""

    user_name: str = ""
    email: str = ""
    full_name: str = ""
    first_name: str = ""
    last_name: str = ""


class UserInfo(_Model):
    """One entry of the ``UserRoster``."""

    user_name: str
    user_id: str = Field("", alias="UserID")
    email: str = ""
    full_name: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    bot_user: bool = False


class Parameter(_Model):
    """A name/value pair given to a task as a parameter (an environment variable by default)."""

    name: str
    value: str = ""


class ParameterSet(_Model):
    """A named set of parameters, used for ``NameSpaces`` and ``ParameterSets``."""

    description: str = ""
    parameters: list[Parameter] = Field(default_factory=list)


class TaskSpec(_Model):
    """The declaration of an external plugin, job or task in ``robot.yaml``."""

    path: Annotated[Path, BeforeValidator(_extension_path)]
    description: str = ""
    name_space: str = ""
    parameter_sets: list[str] = Field(default_factory=list)
    disabled: bool = False
    homed: bool = False
    privileged: bool = False
    parameters: list[Parameter] = Field(default_factory=list)


class ScheduledJob(_Model):
    """A job started on a cron schedule, or once at start-up with ``@init``."""

    name: str
    schedule: str
    command: str = ""
    arguments: list[str] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _five_fields_or_init(cls, schedule: str) -> str:
        """A 5-field cron expression croniter accepts, or @init."""
        if schedule.strip() != "@init" and (
            len(schedule.split()) != 5 or not croniter.is_valid(schedule.strip())
        ):
            raise InvalidValue(
                f"{schedule!r} is neither a 5-field cron expression nor @init",
                "write minute hour day-of-month month day-of-week, e.g. '0 8 * * 1-5'",
            )
        return schedule.strip()


# --- child limits and privilege separation (docs/security.md) ------------------------------

MiB = 1024 * 1024
PRIVSEP_PROCESSES = 512  # RLIMIT_NPROC of PrivSep children when ChildLimits sets no Processes
GiB = 1024 * MiB
_SIZE_UNITS = {"": 1, "k": 1024, "kib": 1024, "m": MiB, "mib": MiB, "g": GiB, "gib": GiB}
_SIZE = re.compile(r"(\d+)\s*([A-Za-z]*)")


def _limit(minimum: int, what: str) -> AfterValidator:
    """A count limit: 0 for none, else at least `minimum` (less would stop every child)."""

    def check(value: int) -> int:
        if value < 0 or 0 < value < minimum:
            raise InvalidValue(
                f"{value} is too small: a child needs at least {minimum} {what}",
                f"write {minimum} or more, or 0 for no limit",
            )
        return value

    return AfterValidator(check)


def _memory(value: object) -> object:
    """Read a size in bytes: an integer, or a number with K, M or G (KiB, MiB, GiB)."""
    hint = "write a size such as '512MiB' or '1GiB' (or bytes), or 0 for no limit"
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (found := _SIZE.fullmatch(value.strip())):
        unit = found.group(2).lower()
        if unit not in _SIZE_UNITS:
            raise InvalidValue(f"unknown size unit {found.group(2)!r}", hint)
        size = int(found.group(1)) * _SIZE_UNITS[unit]
    else:
        raise InvalidValue(f"expected a size, got {value!r}", hint)
    if size < 0 or 0 < size < 64 * MiB:
        raise InvalidValue(f"{value!r} is too small: a child needs at least 64MiB", hint)
    return size


class ChildLimitsConfig(_Model):
    """``ChildLimits``: what each extension child may use; 0 leaves the robot's own limit."""

    cpu_seconds: Annotated[int, _limit(1, "second")] = Field(600, alias="CPUSeconds")
    memory: Annotated[int, BeforeValidator(_memory)] = GiB
    open_files: Annotated[int, _limit(16, "open files")] = 1024
    # Per user, and never enforced for root: unset means PRIVSEP_PROCESSES for children that
    # run as PrivSep's account and no limit for the others.
    processes: Annotated[int, _limit(8, "processes (threads count)")] | None = None

    def processes_for(self, unprivileged: bool) -> int:
        """The RLIMIT_NPROC of a child (0: none), by whether it runs as PrivSep's account."""
        if self.processes is not None:
            return self.processes
        return PRIVSEP_PROCESSES if unprivileged else 0


def _child_count(value: object) -> object:
    """Read ``MaxConcurrentChildren``: a whole number of children, 0 for no bound."""
    hint = "write how many extension children may run at once, e.g. 8, or 0 for no bound"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"expected a whole number of children, got {value!r}", hint)
    if value < 0:
        raise InvalidValue(f"{value} is negative", hint)
    return value


def _pipeline_logs(value: object) -> object:
    """Read ``PipelineLogs``: how many pipeline logs the state folder keeps."""
    hint = f"write how many pipeline logs to keep, e.g. {DEFAULT_KEEP} (at least {MIN_KEEP})"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"expected a whole number of logs, got {value!r}", hint)
    if value < MIN_KEEP:
        raise InvalidValue(f"{value} is fewer than {MIN_KEEP}", hint)
    return value


MAX_SPARES = 16  # spare children per binding: each holds a prepared runtime (JS ≈ 50 MiB)


def _spare_children(value: object) -> object:
    """Read ``SpareChildren``: how many prepared children to keep per binding name."""
    hint = f"write spares per binding, e.g. {{lua: 2, js: 1}}: 0 to {MAX_SPARES}, 0 keeps none"
    if not isinstance(value, dict):
        raise InvalidValue(f"expected a map of binding names to numbers, got {value!r}", hint)
    for name, count in value.items():
        if not isinstance(name, str) or not name:
            raise InvalidValue(f"{name!r} is not a binding name", hint)
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidValue(f"{name}: expected a whole number, got {count!r}", hint)
        if not 0 <= count <= MAX_SPARES:
            raise InvalidValue(f"{name}: {count} is outside 0 to {MAX_SPARES}", hint)
    return value


class PrivSepConfig(_Model):
    """``PrivSep``: the account that children of unprivileged pipelines run as."""

    user: str
    group: str = ""  # default: the user's primary group

    @field_validator("user")
    @classmethod
    def _named(cls, user: str) -> str:
        """Require an account."""
        if not user.strip():
            raise InvalidValue("User is empty", "name an unprivileged account, e.g. nobody")
        return user.strip()


# --- mail and identity providers (docs/configuration.md) -------------------------------------

_MAIL_AUTH_TYPES = ("", "none", "plain")


def _split_mailhost(mailhost: str) -> tuple[str, int]:
    """`host`, `host:port`, `[v6 address]:port` or a bare v6 address, as (host, port)."""
    hint = "write the SMTP server as host or host:port, e.g. smtp.example.com:587"
    if mailhost.startswith("["):
        host, bracket, rest = mailhost[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidValue(f"{mailhost!r} is not a host and port", hint)
    elif mailhost.count(":") == 1:
        host, _, port = mailhost.partition(":")
    else:
        host, port = mailhost, ""
    if not host or any(c.isspace() or c in "/@[]" for c in host):
        raise InvalidValue(f"{mailhost!r} is not a host name", hint)
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise InvalidValue(f"{port!r} is not a port number", hint)
    return host, int(port) if port else 25


class MailConfig(_Model):
    """``MailConfig``: the SMTP server the robot sends email through (Gopherbot's keys)."""

    mailhost: str = ""  # host or host:port (port 25 when none is given)
    authtype: str = ""  # "plain" authenticates with User and Password; "" or "none" does not
    user: str = ""
    password: str = ""  # may be encrypted:<ciphertext> (EncryptSecret)

    @field_validator("mailhost")
    @classmethod
    def _host_and_port(cls, mailhost: str) -> str:
        """A host name or address, optionally with a port from 1 to 65535."""
        mailhost = mailhost.strip()
        if mailhost:
            _split_mailhost(mailhost)
        return mailhost

    @property
    def server(self) -> tuple[str, int]:
        """The SMTP server's host and port (25 unless Mailhost gives one)."""
        return _split_mailhost(self.mailhost)

    @field_validator("authtype")
    @classmethod
    def _known_auth(cls, authtype: str) -> str:
        """Gopherbot's authentication types: plain, or none."""
        authtype = authtype.strip().lower()
        if authtype not in _MAIL_AUTH_TYPES:
            raise InvalidValue(
                f"unknown Authtype {authtype!r}", "write plain (with User and Password) or none"
            )
        return authtype

    @model_validator(mode="after")
    def _plain_needs_user(self) -> MailConfig:
        """Plain authentication needs a server and a user."""
        if self.authtype == "plain" and not self.user:
            raise InvalidValue("Authtype plain needs a User", "add User and Password")
        if (self.authtype or self.user or self.password) and not self.mailhost:
            raise InvalidValue(
                "MailConfig has no Mailhost", "add Mailhost: the SMTP server, as host:port"
            )
        return self


def _http_url(url: str) -> str:
    """An http or https URL with a host (a token endpoint)."""
    url = url.strip()
    if url:
        scheme, _, rest = url.partition("://")
        if scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
            raise InvalidValue(
                f"{url!r} is not an http(s) URL",
                "write the provider's token endpoint, e.g. https://example.com/oauth/token",
            )
    return url


class OAuth2Endpoint(_Model):
    """An OAuth2 endpoint: its URL, and headers and form parameters added to every request."""

    url: Annotated[str, AfterValidator(_http_url)] = Field("", alias="URL")
    headers: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, str] = Field(default_factory=dict)
    refresh_parameters: dict[str, str] = Field(
        default_factory=dict
    )  # added to refresh requests only


_TOKEN_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "client_id_only", "none")


class OAuth2Config(_Model):
    """The ``OAuth2`` settings of an identity provider: how to refresh a user's token."""

    token_endpoint_auth_method: str = "client_secret_post"
    token: OAuth2Endpoint = OAuth2Endpoint.model_validate({})

    @field_validator("token_endpoint_auth_method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        """The ways Gopherbot sends the client's credentials to the token endpoint."""
        method = method.strip().lower() or "client_secret_post"
        if method not in _TOKEN_AUTH_METHODS:
            raise InvalidValue(
                f"unknown TokenEndpointAuthMethod {method!r}",
                "write one of " + ", ".join(_TOKEN_AUTH_METHODS),
            )
        return method


class IdentityProvider(_Model):
    """One of ``IdentityProviders``: where users' linked credentials come from."""

    type: str
    # The parameter set holding CLIENT_ID (and CLIENT_SECRET); a task must list it in its
    # ParameterSets to use the provider.
    credential_parameter_set: str
    o_auth2: OAuth2Config | None = Field(None, alias="OAuth2")

    @field_validator("type")
    @classmethod
    def _oauth2(cls, kind: str) -> str:
        """The one type Gopherbot has."""
        kind = kind.strip().lower()
        if kind != "oauth2":
            raise InvalidValue(f"unknown identity provider Type {kind!r}", "write Type: oauth2")
        return kind

    @field_validator("credential_parameter_set")
    @classmethod
    def _named(cls, name: str) -> str:
        """Require the parameter set's name."""
        if not name.strip():
            raise InvalidValue(
                "CredentialParameterSet is empty",
                "name the ParameterSets entry that holds CLIENT_ID and CLIENT_SECRET",
            )
        return name.strip()

    @model_validator(mode="after")
    def _has_oauth2(self) -> IdentityProvider:
        """An oauth2 provider needs its OAuth2 settings (at least an empty map)."""
        if self.o_auth2 is None:
            raise InvalidValue(
                "an oauth2 provider needs OAuth2 settings",
                "add OAuth2: with Token: {URL: <the token endpoint>}",
            )
        return self


# --- the http module of extensions (docs/configuration.md, "HTTP requests from extensions") --


def _http_timeout(value: object) -> object:
    """A request's default timeout: a Go duration, or 0 for none."""
    if value in (0, "0") and not isinstance(value, bool):
        return 0.0
    return _duration(value)


def _body_size(value: object) -> object:
    """A response body limit: bytes, or a number with K, M or G (KiB, MiB, GiB); 0 for none."""
    hint = "write a size such as '8MiB' or '512KiB' (or bytes), or 0 for no limit"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (found := _SIZE.fullmatch(value.strip())):
        unit = found.group(2).lower()
        if unit in _SIZE_UNITS:
            return int(found.group(1)) * _SIZE_UNITS[unit]
        raise InvalidValue(f"unknown size unit {found.group(2)!r}", hint)
    raise InvalidValue(f"expected a size, got {value!r}", hint)


def _redirects(value: object) -> object:
    hint = "write how many redirects a request may follow, e.g. 5, or 0 to follow none"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InvalidValue(f"expected a whole number from 0 to 100, got {value!r}", hint)
    return value


def _proxy_url(url: str) -> str:
    """An http:// proxy with a host (and optionally user:password@ and a port)."""
    url = url.strip()
    if url:
        hint = "write the proxy as http://host:port (http://user:password@host:port)"
        scheme, _, rest = url.partition("://")
        host = rest.split("/", 1)[0].rpartition("@")[2]
        if scheme.lower() != "http" or not host or host.startswith(":"):
            raise InvalidValue(f"{url!r} is not an http:// proxy URL", hint)
        port = host.rpartition("]")[2].rpartition(":")
        if port[1] and not (port[2].isdigit() and 0 < int(port[2]) < 65536):
            raise InvalidValue(f"{url!r} has an invalid port", hint)
    return url


def _ca_file(path: str) -> str:
    """An absolute path of an existing PEM file of certificates."""
    if path and not (Path(path).is_absolute() and Path(path).is_file()):
        raise InvalidValue(
            f"{path!r} is not an existing file given by its absolute path",
            "give the absolute path of a PEM file of CA certificates that children can read",
        )
    return path


class HTTPClientConfig(_Model):
    """``HTTPClient``: limits and routes of the ``http`` module of Lua and JavaScript
    extensions, sent to each child in its execution request (`params()`)."""

    timeout: Annotated[float, BeforeValidator(_http_timeout)] = 30.0
    max_body_size: Annotated[int, BeforeValidator(_body_size)] = 8 * MiB
    max_redirects: Annotated[int, BeforeValidator(_redirects)] = 5
    proxy: Annotated[str, AfterValidator(_proxy_url)] = ""
    no_proxy: list[str] = Field(default_factory=list)
    ca_file: Annotated[str, AfterValidator(_ca_file)] = Field("", alias="CAFile")

    def params(self) -> dict[str, Any]:
        """The execution request's `http_client` (burrow.child.http_client.Limits)."""
        return {
            "timeout": self.timeout,
            "max_body_size": self.max_body_size,
            "max_redirects": self.max_redirects,
            "proxy": self.proxy,
            "no_proxy": list(self.no_proxy),
            "ca_file": self.ca_file,
        }


class RobotConfig(_Model):
    """The whole of ``conf/robot.yaml``; an empty file is a valid terminal robot."""

    bot_info: BotInfo = BotInfo()
    alias: str = ";"
    admin_users: list[str] = Field(default_factory=list)
    admin_contact: str = ""
    user_roster: list[UserInfo] = Field(default_factory=list)
    default_channels: list[str] = Field(default_factory=list)
    default_job_channel: str = ""
    # Asked of connectors that join channels at start, with the two above (engine/channels.py).
    join_channels: list[str] = Field(default_factory=list)
    ignore_users: list[str] = Field(default_factory=list)
    ignore_unlisted_users: bool = False
    hear_self: bool = False
    secure_parameters: bool = False
    default_message_format: MessageFormat = "BasicMarkdown"
    default_elevator: str = ""
    default_authorizer: str = ""
    work_space: str = ""
    log_level: LogLevel = "info"
    primary_protocol: str = "terminal"
    protocol_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    brain: str = "sqlite"
    brain_config: dict[str, Any] = Field(default_factory=dict)
    external_plugins: dict[TaskName, TaskSpec] = Field(default_factory=dict)
    external_jobs: dict[TaskName, TaskSpec] = Field(default_factory=dict)
    external_tasks: dict[TaskName, TaskSpec] = Field(default_factory=dict)
    name_spaces: dict[TaskName, ParameterSet] = Field(default_factory=dict)
    parameter_sets: dict[TaskName, ParameterSet] = Field(default_factory=dict)
    scheduled_jobs: list[ScheduledJob] = Field(default_factory=list)
    time_outs: RobotTimeOuts = RobotTimeOuts()
    time_zone: str = ""
    ready_message: str = ""
    # Email (Email, EmailUser, EmailAddress) and users' linked identities (docs/configuration.md).
    mail_config: MailConfig = MailConfig()
    identity_providers: dict[str, IdentityProvider] = Field(default_factory=dict)
    # Child limits and privilege separation (docs/security.md).
    child_limits: ChildLimitsConfig = ChildLimitsConfig.model_validate({})
    priv_sep: PrivSepConfig | None = None
    # Prepared children kept per binding; unset: defaults for the bindings in use
    # (docs/operations.md, "Spare children").
    spare_children: Annotated[dict[str, int], BeforeValidator(_spare_children)] | None = None
    # The http module of Lua and JavaScript extensions (docs/configuration.md).
    http_client: HTTPClientConfig = Field(HTTPClientConfig.model_validate({}), alias="HTTPClient")
    # Children running at once; further steps queue (docs/configuration.md, engine/slots.py).
    max_concurrent_children: Annotated[int, BeforeValidator(_child_count)] = Field(
        default_factory=default_max_children
    )
    # Pipeline logs kept in the state folder's logs/ (docs/operations.md).
    pipeline_logs: Annotated[int, BeforeValidator(_pipeline_logs)] = DEFAULT_KEEP

    @field_validator("alias")
    @classmethod
    def _one_alias_character(cls, alias: str) -> str:
        """Check that the alias is one of the characters Gopherbot allows."""
        if alias and (len(alias) != 1 or alias not in _ALIAS_CHARACTERS):
            raise InvalidValue(
                f"{alias!r} is not a valid alias",
                f"use one character of {_ALIAS_CHARACTERS} (quote it in YAML)",
            )
        return alias

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        """Check the time zone against the IANA database."""
        if name:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise InvalidValue(
                    f"unknown time zone {name!r}", "use an IANA name such as 'Europe/Berlin'"
                ) from None
        return name


# --- plugin and job files ----------------------------------------------------------------


class InputMatcher(_Model):
    """A regular expression (or simple matcher) with the command and help it stands for."""

    regex: Regex = ""
    simple_matcher: str = ""
    command: str = ""
    label: str = ""
    usage: str = ""
    summary: str = ""
    details: str = ""
    examples: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    channel_only: bool = False
    contexts: list[str] = Field(default_factory=list)

    @field_validator("command")
    @classmethod
    def _not_reserved(cls, command: str) -> str:
        """Reject commands with a leading underscore, which name engine callbacks."""
        if command.startswith("_"):
            raise InvalidValue(
                f"command {command!r} starts with '_', which is reserved for engine callbacks"
                " such as _configure and _init",
                "rename the command",
            )
        return command


class JobTrigger(_Model):
    """A message that starts a job when a given user says it in a given channel."""

    regex: Regex = ""
    user: str = ""
    channel: str = ""


class _TaskConfig(_Model):
    """Keys common to plugin and job files."""

    channel: str = ""
    require_admin: bool = False
    users: list[str] = Field(default_factory=list)
    elevator: str = ""
    authorizer: str = ""
    auth_require: str = ""
    reply_matchers: list[InputMatcher] = Field(default_factory=list)
    config: Any = None
    time_outs: TaskTimeOuts = TaskTimeOuts()
    disabled: bool = False


class PluginConfig(_TaskConfig):
    """A plugin's configuration: its default merged with ``conf/plugins/NAME.yaml``."""

    channels: list[str] = Field(default_factory=list)
    all_channels: bool = False
    admin_commands: list[str] = Field(default_factory=list)
    elevated_commands: list[str] = Field(default_factory=list)
    elevate_immediate_commands: list[str] = Field(default_factory=list)
    authorized_commands: list[str] = Field(default_factory=list)
    authorize_all_commands: bool = False
    allowed_private_commands: list[str] = Field(default_factory=list)
    required_private_commands: list[str] = Field(default_factory=list)
    require_all_commands_private: bool = False
    restrict_private_channels: bool = False
    commands: list[InputMatcher] = Field(default_factory=list)
    message_matchers: list[InputMatcher] = Field(default_factory=list)
    ambient_match_command: bool = False
    catch_all: bool = False
    catch_all_modes: list[CatchAllMode] = Field(default_factory=list)
    match_unlisted: bool = False


class JobConfig(_TaskConfig):
    """A job's configuration: its default merged with ``conf/jobs/NAME.yaml``."""

    quiet: bool = False
    keep_logs: int = 0
    triggers: list[JobTrigger] = Field(default_factory=list)
    arguments: list[InputMatcher] = Field(default_factory=list)


# --- rules across keys -------------------------------------------------------------------


def robot_issues(robot: RobotConfig) -> list[Issue]:
    """Return the rules ``robot.yaml`` breaks across keys: unique names, known references."""
    issues: list[Issue] = []
    tasks = {
        "ExternalPlugins": robot.external_plugins,
        "ExternalJobs": robot.external_jobs,
        "ExternalTasks": robot.external_tasks,
    }
    sets = {"NameSpaces": robot.name_spaces, "ParameterSets": robot.parameter_sets}
    declared_in: dict[str, str] = {}
    sections: list[tuple[str, Mapping[str, object]]] = [*tasks.items(), *sets.items()]
    for section, names in sections:
        for name in names:
            if name in declared_in:
                issues.append(
                    Issue(
                        (section, name),
                        f"{name!r} is already declared in {declared_in[name]}",
                        "plugins, jobs, tasks, namespaces and parameter sets share one set of"
                        " names; rename one of them",
                    )
                )
            else:
                declared_in[name] = section
    for section, specs in tasks.items():
        for name, spec in specs.items():
            if spec.name_space and spec.name_space not in robot.name_spaces:
                issues.append(
                    Issue(
                        (section, name, "NameSpace"),
                        f"namespace {spec.name_space!r} is not declared",
                        "declare it under NameSpaces or correct the name",
                    )
                )
            for index, set_name in enumerate(spec.parameter_sets):
                if set_name not in robot.parameter_sets:
                    issues.append(
                        Issue(
                            (section, name, "ParameterSets", index),
                            f"parameter set {set_name!r} is not declared",
                            "declare it under ParameterSets or correct the name",
                        )
                    )
    issues += _identity_provider_issues(robot)
    return issues


def _identity_provider_issues(robot: RobotConfig) -> list[Issue]:
    """Identity provider names are case-insensitive; each names a declared parameter set."""
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for name, provider in robot.identity_providers.items():
        key = name.strip().lower()
        if not key:
            issues.append(Issue(("IdentityProviders", name), "empty provider name", "name it"))
        elif key in seen:
            issues.append(
                Issue(
                    ("IdentityProviders", name),
                    f"{name!r} is the same provider as {seen[key]!r} (names ignore case)",
                    "remove one of them",
                )
            )
        seen.setdefault(key, name)
        if provider.credential_parameter_set not in robot.parameter_sets:
            issues.append(
                Issue(
                    ("IdentityProviders", name, "CredentialParameterSet"),
                    f"parameter set {provider.credential_parameter_set!r} is not declared",
                    "declare it under ParameterSets with CLIENT_ID and CLIENT_SECRET",
                )
            )
    return issues


def plugin_issues(plugin: PluginConfig) -> list[Issue]:
    """Return the rules a plugin configuration breaks across keys."""
    issues = _matcher_issues("Commands", plugin.commands, needs=("Command",), simple=True)
    issues += _matcher_issues(
        "MessageMatchers", plugin.message_matchers, needs=("Command", "Regex")
    )
    issues += _reply_matcher_issues(plugin.reply_matchers)
    commands = {m.command for m in [*plugin.commands, *plugin.message_matchers]}
    security_lists = {
        "AdminCommands": plugin.admin_commands,
        "ElevatedCommands": plugin.elevated_commands,
        "ElevateImmediateCommands": plugin.elevate_immediate_commands,
        "AuthorizedCommands": plugin.authorized_commands,
        "AllowedPrivateCommands": plugin.allowed_private_commands,
        "RequiredPrivateCommands": plugin.required_private_commands,
    }
    for section, names in security_lists.items():
        for index, name in enumerate(names):
            if name == "*" and section == "AllowedPrivateCommands":
                continue
            if name not in commands:
                known = ", ".join(sorted(commands)) or "none defined"
                issues.append(
                    Issue(
                        (section, index),
                        f"{name!r} is not a command of this plugin",
                        f"use a Command from Commands or MessageMatchers ({known})",
                    )
                )
    return issues


def job_issues(job: JobConfig) -> list[Issue]:
    """Return the rules a job configuration breaks across keys."""
    issues = _reply_matcher_issues(job.reply_matchers)
    issues += _matcher_issues("Arguments", job.arguments, needs=("Label", "Regex"))
    for index, trigger in enumerate(job.triggers):
        if not trigger.regex:
            issues.append(
                Issue(("Triggers", index, "Regex"), "a trigger needs a Regex", "add Regex")
            )
    return issues


def _reply_matcher_issues(matchers: list[InputMatcher]) -> list[Issue]:
    """Check reply matchers, whose capitalised labels are reserved for the stock ones."""
    issues = _matcher_issues("ReplyMatchers", matchers, needs=("Label", "Regex"))
    for index, matcher in enumerate(matchers):
        if matcher.label[:1].isupper():
            issues.append(
                Issue(
                    ("ReplyMatchers", index, "Label"),
                    f"label {matcher.label!r} starts with a capital letter, which is reserved"
                    " for the robot's stock reply matchers",
                    "start the label with a lower-case letter",
                )
            )
    return issues


def _matcher_issues(
    section: str, matchers: list[InputMatcher], needs: tuple[str, ...], simple: bool = False
) -> list[Issue]:
    """Check that each matcher of a section has what that section requires."""
    issues: list[Issue] = []
    for index, matcher in enumerate(matchers):
        for key in needs:
            # The required keys (Command, Label, Regex) are single words: alias == field.title().
            if not getattr(matcher, key.lower()):
                issues.append(Issue((section, index, key), f"missing {key}", f"add {key}"))
        if simple:
            if matcher.regex and matcher.simple_matcher:
                issues.append(
                    Issue(
                        (section, index, "SimpleMatcher"),
                        "Regex and SimpleMatcher are mutually exclusive",
                        "keep one of them",
                    )
                )
            elif not matcher.regex and not matcher.simple_matcher:
                issues.append(Issue((section, index, "Regex"), "missing Regex", "add a Regex"))
            elif matcher.simple_matcher:
                try:
                    compile_simple(matcher.simple_matcher)  # engine/simple_matcher.py
                except SimpleMatcherError as error:
                    issues.append(Issue((section, index, "SimpleMatcher"), str(error), error.hint))
        elif matcher.simple_matcher:
            issues.append(
                Issue(
                    (section, index, "SimpleMatcher"),
                    "SimpleMatcher is only allowed in Commands",
                    "write a Regex instead",
                )
            )
    return issues
