"""`builtin-totp`: upstream Gopherbot's TOTP elevator, as a plugin of the robot itself.

Each user who may elevate has a TOTP secret (RFC 6238: 6 digits, 30-second steps, SHA-1, the
codes of Google Authenticator and its kind) in `Config.Users`; the secret may be written as
`encrypted:<ciphertext>` (from `EncryptSecret`, or `python -m
burrow.engine.builtin_plugins.gentotp USER`), which the robot decrypts only when it checks a code.

`_elevate` asks the user for a code (`PromptForReply` with the stock `OTP` matcher, then once
more by direct message if that got no usable answer) and answers Success for a valid one. An
elevation lasts `TimeoutSeconds` for commands that are elevated but not immediate: with
`TimeoutType: idle` each elevated command restarts the clock, with `absolute` only a new code
does. Immediate elevation always asks. A code is refused if it is the last one the user gave.

Behaviour and chat texts follow upstream's bot/builtin_totp.go
(https://github.com/lnxjedi/gopherbot/blob/main/bot/builtin_totp.go) and its
conf/plugins/builtin-totp.yaml, whose defaults are below.
"""

from __future__ import annotations

import base64
import binascii
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import pyotp
from pydantic import Field, field_validator

from burrow.constants import LogLevel, RetVal, TaskRetVal
from burrow.engine.builtin_plugins.chat import prompt_for_reply
from burrow.engine.config.schema import ConfigModel, InvalidValue

if TYPE_CHECKING:
    from burrow.engine.pipeline import Pipeline, TaskRun
    from burrow.engine.robot import Robot

__all__ = ["DEFAULT_CONFIG", "ENCRYPTED", "NAME", "TotpConfig", "totp"]

NAME = "builtin-totp"
ENCRYPTED = "encrypted:"

DEFAULT_CONFIG = r"""
Commands:
- Command: check
  SimpleMatcher: '/validate|launch missiles:/ <code:number>'
  Keywords: [totp, launch, missiles]
  Usage: validate <code>
  Summary: check that your TOTP codes work
Config:
  TimeoutSeconds: 7200  # how long an elevation lasts
  TimeoutType: idle  # idle: each elevated command restarts the clock; absolute: it does not
  Users: []  # - {User: alice, Secret: "encrypted:..."}
"""

_HINT = "generate one with: python -m burrow.engine.builtin_plugins.gentotp <user>"


class TotpUser(ConfigModel):
    """One entry of `Config.Users`: a user and their TOTP secret."""

    user: str
    secret: str

    @field_validator("secret")
    @classmethod
    def _base32(cls, secret: str) -> str:
        """A base32 secret, or an `encrypted:` one (checked when it is decrypted)."""
        if secret.startswith(ENCRYPTED):
            return secret
        if not _is_base32(secret):
            raise InvalidValue("the secret is not a base32 TOTP secret", _HINT)
        return secret


class TotpConfig(ConfigModel):
    """The plugin's `Config` section."""

    timeout_seconds: int = 7200
    timeout_type: Literal["idle", "absolute"] = "idle"
    users: list[TotpUser] = Field(default_factory=list)

    @field_validator("timeout_seconds")
    @classmethod
    def _not_negative(cls, seconds: int) -> int:
        """Zero asks for a code every time; less makes no sense."""
        if seconds < 0:
            raise InvalidValue(f"{seconds} is negative", "write seconds, e.g. 7200, or 0")
        return seconds


def _is_base32(secret: str) -> bool:
    text = secret.strip().replace(" ", "").upper()
    if not text:
        return False
    try:
        base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return False
    return True


@dataclass
class _State:
    """What the elevator remembers while the robot runs (upstream keeps it in memory too)."""

    elevated_at: dict[str, float] = field(default_factory=dict)  # user -> when
    last_code: dict[str, str] = field(default_factory=dict)  # user -> last valid code


_STATES: weakref.WeakKeyDictionary[Robot, _State] = weakref.WeakKeyDictionary()


def _state(robot: Robot) -> _State:
    state = _STATES.get(robot)
    if state is None:
        state = _STATES[robot] = _State()
    return state


def _secret(pipeline: Pipeline, config: TotpConfig) -> str:
    """The pipeline user's secret in clear, or "" when they have none (or it is unreadable)."""
    user = pipeline.message.user
    for entry in config.users:
        if entry.user == user:
            secret = pipeline.robot.reveal(entry.secret, f"{NAME} secret of {user}")
            return secret.strip().replace(" ", "").upper()
    return ""


def _check_code(pipeline: Pipeline, config: TotpConfig, code: str) -> tuple[bool, int]:
    """(valid, Success), or (False, why the code could not be judged), as upstream's checkOTP."""
    user = pipeline.message.user
    secret = _secret(pipeline, config)
    if not secret:
        pipeline.log(LogLevel.Error, f"{NAME}: no usable TOTP secret for user {user!r}")
        return False, TaskRetVal.MechanismFail
    state = _state(pipeline.robot)
    if state.last_code.get(user) == code:
        pipeline.log(LogLevel.Warn, f"User {user} attempted to re-use a TOTP code")
        return False, TaskRetVal.Fail
    try:
        valid = pyotp.TOTP(secret).verify(code, valid_window=1)  # one 30 s step either way
    except (binascii.Error, ValueError, TypeError) as exc:
        pipeline.log(LogLevel.Error, f"{NAME}: the secret of {user!r} is unusable: {exc}")
        return False, TaskRetVal.MechanismFail
    if valid:
        state.last_code[user] = code
    return valid, TaskRetVal.Success


async def _ask_for_code(pipeline: Pipeline, config: TotpConfig, immediate: bool) -> int:
    """Prompt for a code and judge it: Success, Fail, or MechanismFail (upstream's getcode)."""
    full_name = pipeline.robot.config.bot_info.full_name or pipeline.robot.name
    kind = "immediate elevation" if immediate else "elevation"
    prompt = f"This command requires {kind}, please provide a TOTP code for '{full_name}':"
    reply, ret = await prompt_for_reply(pipeline, "OTP", prompt)
    if ret != RetVal.Ok and pipeline.killed is None:
        reply, ret = await prompt_for_reply(
            pipeline, "OTP", "Try again? I need a 6-digit launch code", direct=True
        )
    if ret != RetVal.Ok:
        pipeline.log(
            LogLevel.Error, f'User "{pipeline.message.user}" failed to respond to TOTP token prompt'
        )
        return TaskRetVal.Fail
    valid, judged = _check_code(pipeline, config, reply)
    if judged != TaskRetVal.Success:
        await pipeline.say(
            "There were technical issues validating your code, ask an administrator to check "
            "the log"
        )
        return TaskRetVal.MechanismFail
    if valid:
        return TaskRetVal.Success
    await pipeline.say("Invalid code")
    return TaskRetVal.Fail


async def _elevate(pipeline: Pipeline, config: TotpConfig, immediate: bool) -> int:
    user = pipeline.message.user
    state = _state(pipeline.robot)
    now = time.monotonic()
    asked = False
    if immediate:
        ret = await _ask_for_code(pipeline, config, immediate)
    else:
        last = state.elevated_at.get(user)
        if last is not None and now - last <= config.timeout_seconds:
            ret = TaskRetVal.Success
        else:
            asked = True
            ret = await _ask_for_code(pipeline, config, immediate)
    # idle: every elevation restarts the clock; absolute: only a new code for a timed one.
    if ret == TaskRetVal.Success and (
        config.timeout_type == "idle" or (asked and config.timeout_type == "absolute")
    ):
        state.elevated_at[user] = now
    return ret


async def totp(pipeline: Pipeline, run: TaskRun) -> int:
    """The plugin's handler: the `check` command and the `_elevate` callback.

    Its `_init` has nothing to do: unlike upstream's, which reads its users' secrets into
    memory then, the configuration is read at each call, so a new one is used at once.
    """
    if run.command == "_init":
        return TaskRetVal.Normal
    config = TotpConfig.model_validate(run.task.config or {})
    if run.command == "_elevate":
        if not pipeline.message.user:  # a schedule or @init: nobody to ask for a code
            pipeline.log(LogLevel.Warn, f"{NAME}: elevation asked with no user; refused")
            return TaskRetVal.Fail
        immediate = bool(run.args) and run.args[0] in ("true", "True", "t", "T", "Yes", "yes", "Y")
        return await _elevate(pipeline, config, immediate)
    if run.command == "check":
        valid, judged = _check_code(pipeline, config, run.args[0] if run.args else "")
        if judged != TaskRetVal.Success:
            await pipeline.say("Dang! I had a system problem verifying your code")
        elif valid:
            await pipeline.say("Looks good - you're ready to wreak havoc!")
        else:
            await pipeline.say("Sorry, that's not a valid code")
    return TaskRetVal.Normal
