"""Secrets and identity: EncryptSecret, and users' linked identities (LinkOAuth2Identity,
GetIdentityCredential, UnlinkIdentity).

Identity providers are configured in robot.yaml (`IdentityProviders`, docs/configuration.md).
The parent keeps each user's link in the brain, encrypted with the robot's key
(burrow.brain.credentials), and checks every call here, in the parent:

- the provider must exist (`IdentityProviderNotFound`);
- the calling task must list the provider's `CredentialParameterSet` in its `ParameterSets`
  (`IdentityConfigError`): shipping an extension grants nothing, the operator attaches it;
- a pipeline that acts for a user reaches only that user's own link (`PrivilegeViolation`);
  one that acts for nobody (a schedule, `@init`) was started by the operator's configuration
  and may name any user, as upstream's scheduled jobs do.

A stored access token is handed out while it has more than 30 s to live; after that the
parent refreshes it at the provider's token endpoint first (robot_api/oauth2.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from burrow.brain import BrainError, SecretError
from burrow.brain.credentials import CredentialStore, credential_key, credential_store
from burrow.constants import LogLevel, RetVal
from burrow.engine.config.schema import IdentityProvider
from burrow.robot_api import oauth2
from burrow.robot_api.api import Result, TaskApi, robot_method
from burrow.rpc.errors import ErrorCode, RpcError


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


# -- linked identities -----------------------------------------------------------------------


class _Refused(Exception):
    """A call refused before it touched the brain, with the RetVal to answer."""

    def __init__(self, ret: RetVal) -> None:
        super().__init__(ret.name)
        self.ret = ret


def _provider(api: TaskApi, method: str, name: str) -> tuple[str, IdentityProvider]:
    """The provider called `name` (any case) if the calling task may use it."""
    key = name.strip().lower()
    providers = {n.strip().lower(): p for n, p in api.robot.config.identity_providers.items()}
    provider = providers.get(key)
    if provider is None:
        api.pipeline.log(LogLevel.Warn, f"{method}: no identity provider {name!r} is configured")
        raise _Refused(RetVal.IdentityProviderNotFound)
    task = api.step.task
    attached = task.spec.parameter_sets if task.spec is not None else []
    if provider.credential_parameter_set not in attached:
        api.pipeline.log(
            LogLevel.Error,
            f"{method}: task {task.name!r} may not use identity provider {key!r}: add its "
            f"CredentialParameterSet {provider.credential_parameter_set!r} to the task's "
            "ParameterSets in robot.yaml",
        )
        raise _Refused(RetVal.IdentityConfigError)
    return key, provider


def _owner(api: TaskApi, method: str, user: str) -> str:
    """The canonical user name, if this pipeline may act on that user's link."""
    user = user.strip().lower()
    if not user:
        raise _Refused(RetVal.IdentityInvalidLinkRequest)
    acting = api.pipeline.message.user.strip().lower()
    if acting and acting != user:
        api.pipeline.log(
            LogLevel.Error,
            f"{method}: a pipeline acting for {acting!r} may not use the identity of {user!r}",
        )
        raise _Refused(RetVal.PrivilegeViolation)
    return user


def _store(api: TaskApi, method: str) -> CredentialStore:
    robot = api.robot
    if robot.brain is None:
        raise RpcError(ErrorCode.INVALID_STATE, "the robot has no brain loaded")
    if robot.secrets is None:
        api.pipeline.log(
            LogLevel.Error,
            f"{method}: linked identities are stored encrypted and need BURROW_ENCRYPTION_KEY "
            "in the robot's environment",
        )
        raise _Refused(RetVal.IdentityConfigError)
    return credential_store(robot.brain, robot.secrets)


def _client(api: TaskApi, provider: IdentityProvider) -> oauth2.ClientCredentials | None:
    """CLIENT_ID and CLIENT_SECRET from the provider's parameter set (decrypted), if any."""
    found = api.robot.config.parameter_sets.get(provider.credential_parameter_set)
    values: dict[str, str] = {}
    for parameter in found.parameters if found is not None else []:
        name = parameter.name.strip().upper()
        if name in ("CLIENT_ID", "CLIENT_SECRET") and name not in values:
            what = f"parameter set {provider.credential_parameter_set} {name}"
            values[name] = api.robot.reveal(parameter.value, what).strip()
    if not values.get("CLIENT_ID"):
        return None
    return oauth2.ClientCredentials(values["CLIENT_ID"], values.get("CLIENT_SECRET", ""))


# The fields of upstream's OAuth2IdentityLinkRequest, matched without case as Go's JSON does.
_LINK_TEXT = (
    "Provider",
    "User",
    "AccessToken",
    "RefreshToken",
    "TokenType",
    "ExpiresAt",
    "RefreshExpiresAt",
    "GrantType",
    "SubjectID",
    "SubjectLogin",
    "SubjectName",
    "SubjectEmail",
)
_LINK_NUMBERS = ("ExpiresIn", "RefreshExpiresIn")


def _link_request(raw: Any) -> dict[str, Any]:
    """The link request's fields by upstream name; invalid_params for a wrong shape."""
    if not isinstance(raw, dict):
        raise RpcError(
            ErrorCode.INVALID_PARAMS,
            f"LinkOAuth2Identity: argument 1 must be a map, got {type(raw).__name__}",
        )
    by_lower = {str(k).lower(): v for k, v in raw.items()}
    request: dict[str, Any] = {}
    for name in _LINK_TEXT:
        value = by_lower.get(name.lower(), "")
        if not isinstance(value, str):
            raise RpcError(ErrorCode.INVALID_PARAMS, f"LinkOAuth2Identity: {name} must be a string")
        request[name] = value.strip()
    for name in _LINK_NUMBERS:
        value = by_lower.get(name.lower(), 0)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RpcError(
                ErrorCode.INVALID_PARAMS, f"LinkOAuth2Identity: {name} must be an integer"
            )
        request[name] = value
    scope = by_lower.get("scope", [])
    if scope is None:
        scope = []
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        raise RpcError(
            ErrorCode.INVALID_PARAMS, "LinkOAuth2Identity: Scope must be a list of strings"
        )
    request["Scope"] = oauth2.normalize_scopes(scope)
    return request


@robot_method("LinkOAuth2Identity", object)
async def _link(api: TaskApi, options: dict[str, Any], raw: Any) -> Result:
    request = _link_request(raw)
    try:
        key, _ = _provider(api, "LinkOAuth2Identity", request["Provider"])
        if not request["AccessToken"]:
            raise _Refused(RetVal.IdentityInvalidLinkRequest)
        user = _owner(api, "LinkOAuth2Identity", request["User"])
        store = _store(api, "LinkOAuth2Identity")
    except _Refused as refused:
        return {"ret_val": refused.ret}
    now = datetime.now(UTC)
    try:
        expires = oauth2.resolve_time(request["ExpiresAt"], request["ExpiresIn"], now)
        refresh_expires = oauth2.resolve_time(
            request["RefreshExpiresAt"], request["RefreshExpiresIn"], now
        )
    except ValueError as error:
        api.pipeline.log(LogLevel.Warn, f"LinkOAuth2Identity: not an RFC 3339 time: {error}")
        return {"ret_val": RetVal.IdentityInvalidLinkRequest}
    token = {
        "access_token": request["AccessToken"],
        "refresh_token": request["RefreshToken"],
        "token_type": request["TokenType"] or "Bearer",
        "scope": request["Scope"],
        "expires_at": expires,
        "refresh_expires_at": refresh_expires,
    }
    record = {
        "schema_version": oauth2.SCHEMA_VERSION,
        "provider_key": key,
        "username": user,
        "subject": {
            "id": request["SubjectID"],
            "login": request["SubjectLogin"],
            "name": request["SubjectName"],
            "email": request["SubjectEmail"],
        },
        "token": {k: v for k, v in token.items() if v},
        "grant": {"type": request["GrantType"], "linked_at": oauth2.format_time(now)},
        "status": {},
    }
    brain_key = credential_key(key, user)
    try:
        async with store.locked(brain_key):
            await store.put(brain_key, record)
    except BrainError as error:
        api.pipeline.log(LogLevel.Error, f"LinkOAuth2Identity: {error}")
        return {"ret_val": RetVal.BrainFailed}
    api.pipeline.log(LogLevel.Audit, f"LinkOAuth2Identity: linked {user!r} with {key!r}")
    return {"ret_val": RetVal.Ok}


@robot_method("GetIdentityCredential", str, str)
async def _get_credential(
    api: TaskApi, options: dict[str, Any], provider_name: str, user_name: str
) -> Result:
    method = "GetIdentityCredential"
    try:
        key, provider = _provider(api, method, provider_name)
        user = _owner(api, method, user_name)
        store = _store(api, method)
    except _Refused as refused:
        return {"credential": None, "ret_val": refused.ret}
    brain_key = credential_key(key, user)
    try:
        record = await store.get(brain_key)
        now = datetime.now(UTC)
        if record is None:
            return {"credential": None, "ret_val": RetVal.IdentityNotLinked}
        if (record.get("status") or {}).get("reauth_required"):
            return {"credential": None, "ret_val": RetVal.IdentityReauthRequired}
        if oauth2.token_usable(record, now):
            return {"credential": oauth2.credential_of(record), "ret_val": RetVal.Ok}
        async with store.locked(brain_key):
            # Someone may have refreshed (or unlinked) it while this call waited.
            record = await store.get(brain_key)
            now = datetime.now(UTC)
            if record is None:
                return {"credential": None, "ret_val": RetVal.IdentityNotLinked}
            if (record.get("status") or {}).get("reauth_required"):
                return {"credential": None, "ret_val": RetVal.IdentityReauthRequired}
            if oauth2.token_usable(record, now):
                return {"credential": oauth2.credential_of(record), "ret_val": RetVal.Ok}
            ret, why = await oauth2.refresh(provider, record, _client(api, provider), now)
            await store.put(brain_key, record)
    except BrainError as error:
        api.pipeline.log(LogLevel.Error, f"{method}: {error}")
        return {"credential": None, "ret_val": RetVal.BrainFailed}
    if ret is not RetVal.Ok:
        api.pipeline.log(
            LogLevel.Warn, f"{method}: refreshing {user!r} at {key!r} failed: {ret.name} ({why})"
        )
        return {"credential": None, "ret_val": ret}
    api.pipeline.log(LogLevel.Info, f"{method}: refreshed the token of {user!r} at {key!r}")
    return {"credential": oauth2.credential_of(record), "ret_val": RetVal.Ok}


@robot_method("UnlinkIdentity", str, str)
async def _unlink(
    api: TaskApi, options: dict[str, Any], provider_name: str, user_name: str
) -> Result:
    try:
        key, _ = _provider(api, "UnlinkIdentity", provider_name)
        user = _owner(api, "UnlinkIdentity", user_name)
        store = _store(api, "UnlinkIdentity")
    except _Refused as refused:
        return {"ret_val": refused.ret}
    brain_key = credential_key(key, user)
    try:
        async with store.locked(brain_key):
            await store.delete(brain_key)
    except BrainError as error:
        api.pipeline.log(LogLevel.Error, f"UnlinkIdentity: {error}")
        return {"ret_val": RetVal.BrainFailed}
    api.pipeline.log(LogLevel.Audit, f"UnlinkIdentity: unlinked {user!r} from {key!r}")
    return {"ret_val": RetVal.Ok}
