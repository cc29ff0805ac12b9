"""Secrets and identity: EncryptSecret."""

from __future__ import annotations

from typing import Any

from burrow.brain import SecretError
from burrow.constants import LogLevel, RetVal
from burrow.robot_api.api import Result, TaskApi, robot_method


@robot_method("EncryptSecret", str)
async def _encrypt_secret(api: TaskApi, options: dict[str, Any], plaintext: str) -> Result:
    if not api.pipeline.privileged:
        return {"ciphertext": "", "ret_val": RetVal.PrivilegeViolation}
    box = api.robot.secrets
    if box is None or not plaintext:
        api.pipeline.log(LogLevel.Error, "EncryptSecret: no encryption key (BURROW_ENCRYPTION_KEY)")
        return {"ciphertext": "", "ret_val": RetVal.Failed}
    try:
        return {"ciphertext": box.encrypt_secret(plaintext), "ret_val": RetVal.Ok}
    except SecretError as exc:
        api.pipeline.log(LogLevel.Error, f"EncryptSecret: {exc}")
        return {"ciphertext": "", "ret_val": RetVal.Failed}
