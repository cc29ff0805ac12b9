"""`ProtocolConfig.matrix` in robot.yaml: parsed and checked, every error naming its key.

Secrets never come from the configuration file in clear: `AccessToken` and `Password` take
only an `encrypted:` value (made with the robot's `EncryptSecret`, decrypted with
`BURROW_ENCRYPTION_KEY`), and `AccessTokenEnv` / `PasswordEnv` name the environment variable
holding one (by default `MATRIX_ACCESS_TOKEN`, then `MATRIX_PASSWORD`). A `${VAR}` in
`AccessToken` is refused too: after substitution it cannot be told from a token typed in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ENCRYPTED_PREFIX = "encrypted:"
DEFAULT_TOKEN_ENV = "MATRIX_ACCESS_TOKEN"
DEFAULT_PASSWORD_ENV = "MATRIX_PASSWORD"
WHERE = "robot.yaml: ProtocolConfig.matrix"
# Where the robot's CLI puts the state folder (core/burrow/cli.py); not a user setting.
STATE_FOLDER_KEY = "StateFolder"

_MXID = re.compile(r"^@[^:\s]+:[^\s]+$")
_ROOM = re.compile(r"^[#!][^:\s]+:[^\s]+$")
_KNOWN = {
    "Homeserver",
    "UserID",
    "AccessToken",
    "AccessTokenEnv",
    "Password",
    "PasswordEnv",
    "DeviceID",
    "Rooms",
    "AcceptDirect",
    "AcceptAnyRoom",
    "CatchUp",
    "SendRetries",
    "MessageLimit",
    "TimelineLimit",
    "DisplayName",
    STATE_FOLDER_KEY,
}


class MatrixConfigError(ValueError):
    """A setting of `ProtocolConfig.matrix` is missing or wrong; the text says which and how."""


@dataclass(frozen=True)
class RoomSetting:
    """One configured room: its alias or id, and the channel name the robot uses for it."""

    room: str  # "#alias:server" or "!id:server"
    name: str  # the channel name; default: the alias's localpart, or the room id


@dataclass(frozen=True)
class MatrixSettings:
    homeserver: str
    user_id: str
    access_token: str = ""
    password: str = ""
    device_id: str = ""
    rooms: tuple[RoomSetting, ...] = field(default_factory=tuple)
    accept_direct: bool = True
    accept_any_room: bool = False
    catch_up: float = 600.0
    send_retries: int = 5
    message_limit: int = 16000
    timeline_limit: int = 100
    display_name: str = ""
    state_folder: str = ""

    @property
    def server_name(self) -> str:
        return self.user_id.split(":", 1)[1]

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def _fail(key: str, problem: str) -> MatrixConfigError:
    return MatrixConfigError(f"{WHERE}.{key}: {problem}")


def _string(config: Mapping[str, Any], key: str, default: str = "") -> str:
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _fail(key, f"expected a string, got {type(value).__name__} {value!r}")
    return value.strip()


def _bool(config: Mapping[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise _fail(key, f"expected true or false, got {value!r}")
    return value


def _int(config: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(key, f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _decrypt(key: str, value: str) -> str:
    from burrow.brain.secrets import SecretBox, SecretError

    try:
        return SecretBox.from_environ().decrypt_secret(value[len(ENCRYPTED_PREFIX) :])
    except SecretError as exc:
        raise _fail(key, f"cannot be decrypted: {exc}") from None


def _secret(config: Mapping[str, Any], key: str, env_key: str, default_env: str) -> tuple[str, str]:
    """(value, where it came from) of a secret setting; ("", "") when none is given."""
    value = _string(config, key)
    if value:
        if not value.startswith(ENCRYPTED_PREFIX):
            raise _fail(
                key,
                "a secret is never written in the configuration in clear: give "
                f"'encrypted:...' (from EncryptSecret) or name an environment variable with "
                f"{env_key} (default {default_env})",
            )
        return _decrypt(key, value), key
    env_name = _string(config, env_key)
    if env_name:
        found = os.environ.get(env_name, "")
        if not found:
            raise _fail(env_key, f"the environment variable {env_name} is not set or empty")
        return found.strip(), env_name
    found = os.environ.get(default_env, "").strip()
    return (found, default_env) if found else ("", "")


def _rooms(config: Mapping[str, Any]) -> tuple[RoomSetting, ...]:
    value = config.get("Rooms", [])
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail("Rooms", "expected a list of room aliases (#name:server) or ids (!id:server)")
    rooms: list[RoomSetting] = []
    names: set[str] = set()
    for index, entry in enumerate(value):
        key = f"Rooms[{index}]"
        if isinstance(entry, str):
            room, name = entry.strip(), ""
        elif isinstance(entry, Mapping):
            unknown = set(entry) - {"Room", "Name"}
            if unknown:
                raise _fail(key, f"unknown key(s) {sorted(unknown)}; a room takes Room and Name")
            room = str(entry.get("Room") or "").strip()
            name = str(entry.get("Name") or "").strip()
        else:
            raise _fail(key, f"expected an alias, an id or {{Room, Name}}, got {entry!r}")
        if not _ROOM.match(room):
            raise _fail(
                key, f"{room!r} is neither a room alias (#name:server) nor an id (!id:server)"
            )
        if not name:
            name = room[1:].split(":", 1)[0] if room.startswith("#") else room
        if name.lower() in names:
            raise _fail(key, f"the channel name {name!r} is used by another room; give it a Name")
        names.add(name.lower())
        rooms.append(RoomSetting(room=room, name=name))
    return tuple(rooms)


def parse_settings(config: Mapping[str, Any]) -> MatrixSettings:
    """Check `ProtocolConfig.matrix` and return its settings; `MatrixConfigError` otherwise."""
    from burrow.engine.config.durations import parse_duration

    unknown = sorted(set(config) - _KNOWN)
    if unknown:
        raise MatrixConfigError(
            f"{WHERE}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_KNOWN - {STATE_FOLDER_KEY}))}"
        )
    homeserver = _string(config, "Homeserver").rstrip("/")
    if not homeserver:
        raise _fail(
            "Homeserver",
            "required: the homeserver's client API URL, like https://matrix.example.org",
        )
    parts = urlsplit(homeserver)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail("Homeserver", f"{homeserver!r} is not an http(s) URL")
    user_id = _string(config, "UserID")
    if not _MXID.match(user_id):
        raise _fail(
            "UserID", f"required: the robot's Matrix ID, like @robot:example.org (got {user_id!r})"
        )
    token, _ = _secret(config, "AccessToken", "AccessTokenEnv", DEFAULT_TOKEN_ENV)
    password = ""
    if not token:
        password, _ = _secret(config, "Password", "PasswordEnv", DEFAULT_PASSWORD_ENV)
    if not token and not password:
        raise MatrixConfigError(
            f"{WHERE}: no credentials: set the environment variable {DEFAULT_TOKEN_ENV} (or "
            f"{DEFAULT_PASSWORD_ENV}), name another with AccessTokenEnv or PasswordEnv, or give "
            "AccessToken or Password as 'encrypted:...'"
        )
    try:
        catch_up = parse_duration(config.get("CatchUp", "10m"))
    except ValueError as exc:
        raise _fail("CatchUp", str(exc)) from None
    if catch_up < 0:
        raise _fail("CatchUp", "must not be negative")
    return MatrixSettings(
        homeserver=homeserver,
        user_id=user_id,
        access_token=token,
        password=password,
        device_id=_string(config, "DeviceID"),
        rooms=_rooms(config),
        accept_direct=_bool(config, "AcceptDirect", True),
        accept_any_room=_bool(config, "AcceptAnyRoom", False),
        catch_up=catch_up,
        send_retries=_int(config, "SendRetries", 5, 0, 100),
        message_limit=_int(config, "MessageLimit", 16000, 200, 30000),
        timeline_limit=_int(config, "TimelineLimit", 100, 1, 1000),
        display_name=_string(config, "DisplayName"),
        state_folder=_string(config, STATE_FOLDER_KEY),
    )
