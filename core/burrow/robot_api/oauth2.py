"""OAuth2 token state of a linked identity, and the refresh exchange with a token endpoint.

Gopherbot's model (https://github.com/lnxjedi/gopherbot/blob/main/bot/oauth2.go): a link stores
the user's access token, refresh token and their expiry times; a credential is handed out while
the access token has more than 30 s to live, otherwise the parent refreshes it at the
provider's token endpoint (`grant_type=refresh_token`, a form POST) with the client credentials
of the provider's parameter set, and stores the new state. Errors that need the user to link
again (`invalid_grant`, `expired_token`, ...) mark the link for re-authentication.

The record is a JSON object with upstream's field names (`token.access_token`, `grant`,
`status`, ...); times are RFC 3339 strings in UTC.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from burrow.constants import RetVal
from burrow.engine.config.schema import IdentityProvider

__all__ = [
    "EXPIRY_LEEWAY",
    "SCHEMA_VERSION",
    "TOKEN_TIMEOUT",
    "ClientCredentials",
    "credential_of",
    "format_time",
    "normalize_scopes",
    "refresh",
    "resolve_time",
    "token_usable",
]

SCHEMA_VERSION = 1
EXPIRY_LEEWAY = timedelta(seconds=30)  # a token this close to expiring is refreshed first
TOKEN_TIMEOUT = 20.0  # seconds for one token endpoint request (upstream's)
_MAX_RESPONSE = 1 << 20  # bytes of a token endpoint's answer that are read
# Provider errors that only the user can mend, by linking again.
_REAUTH_ERRORS = frozenset(
    {"invalid_grant", "expired_token", "access_denied", "invalid_refresh_token"}
)


@dataclass(frozen=True)
class ClientCredentials:
    """The robot's client id and secret at the provider (from its parameter set)."""

    client_id: str
    client_secret: str


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, whole seconds: 2026-01-31T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (`Z` or an offset); ValueError otherwise."""
    moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(UTC)


def resolve_time(expires_at: str, expires_in: int, now: datetime) -> str:
    """An expiry as RFC 3339: `expires_at` if given, else `now + expires_in` s, else ""."""
    if expires_at.strip():
        return format_time(parse_time(expires_at))
    if expires_in > 0:
        return format_time(now + timedelta(seconds=expires_in))
    return ""


def normalize_scopes(raw: Any) -> list[str]:
    """Scopes as a list: a space- or comma-separated string, or a list of strings."""
    if isinstance(raw, str):
        return [part for part in raw.replace(",", " ").split() if part]
    if isinstance(raw, list):
        return [item.strip() for item in raw if isinstance(item, str) and item.strip()]
    return []


def token_usable(record: dict[str, Any], now: datetime) -> bool:
    """Whether the stored access token may be handed out as it is."""
    token = record.get("token") or {}
    if not str(token.get("access_token", "")).strip():
        return False
    expires = str(token.get("expires_at") or "")
    if not expires:
        return True
    try:
        return now + EXPIRY_LEEWAY < parse_time(expires)
    except ValueError:
        return False


def credential_of(record: dict[str, Any]) -> dict[str, Any]:
    """The credential a task gets: the bearer token and its Authorization header."""
    token = record.get("token") or {}
    value = str(token.get("access_token", "")).strip()
    scheme = str(token.get("token_type") or "").strip() or "Bearer"
    return {
        "type": "bearer_token",
        "value": value,
        "scheme": scheme,
        "header_name": "Authorization",
        "header_value": f"{scheme} {value}",
        "expires_at": str(token.get("expires_at") or ""),
        "metadata": {},
    }


def _set_error(
    record: dict[str, Any], code: RetVal, message: str, reauth: bool, now: datetime
) -> RetVal:
    record["status"] = {
        "reauth_required": reauth,
        "last_error_code": int(code),
        "last_error": message.strip(),
        "last_error_at": format_time(now),
    }
    return code


def _post_form(url: str, headers: dict[str, str], form: dict[str, str]) -> tuple[int, bytes]:
    """POST `form` urlencoded; the status and body, whatever the status (blocking)."""
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TOKEN_TIMEOUT) as response:
            return int(response.status), response.read(_MAX_RESPONSE)
    except urllib.error.HTTPError as error:  # 4xx and 5xx carry the provider's error
        with error:
            return error.code, error.read(_MAX_RESPONSE)


async def refresh(
    provider: IdentityProvider,
    record: dict[str, Any],
    client: ClientCredentials | None,
    now: datetime,
) -> tuple[RetVal, str]:
    """Refresh the access token of `record` in place; the RetVal and, on failure, why.

    `client` is None when the provider's parameter set has no CLIENT_ID.
    """
    oauth2 = provider.o_auth2
    token = record.setdefault("token", {})
    if oauth2 is None or not oauth2.token.url:
        why = "provider has no OAuth2 Token URL"
        return _set_error(record, RetVal.IdentityConfigError, why, False, now), why
    refresh_token = str(token.get("refresh_token") or "").strip()
    if not refresh_token:
        why = "token expired and no refresh token is stored"
        return _set_error(record, RetVal.IdentityReauthRequired, why, True, now), why
    if client is None:
        why = f"parameter set {provider.credential_parameter_set!r} has no CLIENT_ID"
        return _set_error(record, RetVal.IdentityConfigError, why, False, now), why
    endpoint = oauth2.token
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    form.update({k: v for k, v in endpoint.refresh_parameters.items() if k.strip() and v})
    headers = {k: v for k, v in endpoint.headers.items() if k and v}
    method = oauth2.token_endpoint_auth_method
    if method == "client_secret_basic":
        if not client.client_secret:
            why = "client_secret_basic needs CLIENT_SECRET, which is empty"
            return _set_error(record, RetVal.IdentityConfigError, why, False, now), why
        pair = f"{client.client_id}:{client.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif method == "client_id_only":
        form["client_id"] = client.client_id
    elif method == "client_secret_post":
        form["client_id"] = client.client_id
        if client.client_secret:
            form["client_secret"] = client.client_secret
    for key, value in endpoint.parameters.items():  # defaults, never overriding the above
        if key.strip() and value:
            form.setdefault(key, value)
    try:
        status, body = await asyncio.to_thread(_post_form, endpoint.url, headers, form)
    except (OSError, ValueError) as error:  # URLError, timeouts, refused connections
        why = f"refresh request to {endpoint.url} failed: {error}"
        return _set_error(record, RetVal.IdentityRefreshFailed, why, False, now), why
    try:
        answer = json.loads(body)
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        why = f"refresh answer (HTTP {status}) is not JSON: {error}"
        return _set_error(record, RetVal.IdentityRefreshFailed, why, False, now), why
    if answer.get("error"):
        parts = [answer.get(k) for k in ("error", "error_description", "message", "error_uri")]
        why = " - ".join(str(p) for p in parts if p)
        reauth = str(answer["error"]).strip().lower() in _REAUTH_ERRORS
        code = RetVal.IdentityReauthRequired if reauth else RetVal.IdentityRefreshFailed
        return _set_error(record, code, why, reauth, now), why
    access = answer.get("access_token")
    if not isinstance(access, str) or not access.strip():
        why = f"refresh answer (HTTP {status}) has no access_token"
        return _set_error(record, RetVal.IdentityRefreshFailed, why, False, now), why
    token["access_token"] = access
    rotated = answer.get("refresh_token")
    grant = record.setdefault("grant", {})
    if isinstance(rotated, str) and rotated:
        if rotated != refresh_token:
            grant["rotation_counter"] = int(grant.get("rotation_counter") or 0) + 1
        token["refresh_token"] = rotated
    if isinstance(answer.get("token_type"), str) and answer["token_type"].strip():
        token["token_type"] = answer["token_type"].strip()
    scopes = normalize_scopes(answer.get("scope"))
    if scopes:
        token["scope"] = scopes
    token["expires_at"] = resolve_time("", _seconds(answer.get("expires_in")), now)
    refresh_expires = resolve_time("", _seconds(answer.get("refresh_token_expires_in")), now)
    if refresh_expires:
        token["refresh_expires_at"] = refresh_expires
    grant["last_refresh_at"] = format_time(now)
    record["status"] = {}
    return RetVal.Ok, ""


def _seconds(value: Any) -> int:
    """A number of seconds from a JSON answer (0 when absent or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value)
