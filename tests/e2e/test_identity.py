"""Linked identities (LinkOAuth2Identity, GetIdentityCredential, UnlinkIdentity), end to end.

A real robot, real children calling the methods, and for refreshes a real OAuth2 token
endpoint: a small HTTP server on loopback that answers `grant_type=refresh_token` requests as a
provider does and records what it was sent.
"""

from __future__ import annotations

import ast
import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from burrow.brain import SecretBox, generate_key
from burrow.brain.credentials import credential_key
from support import run

KEY = generate_key()

PLUGIN = r"""
config: |
  Commands:
    - {Command: link, Regex: 'link (\S+) (\S+) (\S+)'}
    - {Command: get, Regex: 'get (\S+) (\S+)'}
    - {Command: unlink, Regex: 'unlink (\S+) (\S+)'}
    - {Command: odd, Regex: 'odd (.+)'}
commands:
  link:
    - call: [LinkOAuth2Identity, "={'Provider': args[1], 'User': args[2], 'AccessToken': 'tok-' + args[2], 'RefreshToken': 'r1', 'ExpiresAt': '' if args[3] == '-' else args[3], 'Scope': ['repo'], 'SubjectLogin': args[2] + '-gh'}"]
      as: r
    - [Say, "{r}"]
  get:
    - {call: [GetIdentityCredential, "{args[1]}", "{args[2]}"], as: r}
    - [Say, "{r}"]
  unlink:
    - {call: [UnlinkIdentity, "{args[1]}", "{args[2]}"], as: r}
    - [Say, "{r}"]
  odd:
    - {call: [LinkOAuth2Identity, "=eval(args[1])"], as: r}
    - [Say, "{r}"]
"""

PROVIDERS = """\
ParameterSets:
  gh-oauth:
    Parameters: [{{Name: CLIENT_ID, Value: the-client}}, {{Name: CLIENT_SECRET, Value: the-secret}}]
IdentityProviders:
  GitHub:
    Type: oauth2
    CredentialParameterSet: gh-oauth
    OAuth2:
      TokenEndpointAuthMethod: {method}
      Token:
        URL: '{url}'
        Headers: {{Accept: application/json}}
        Parameters: {{audience: api}}
        RefreshParameters: {{scope: repo}}
"""


class TokenEndpoint:
    """A provider's token endpoint on loopback: answers queued replies, records requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.replies: list[tuple[int, bytes]] = []
        self.delay = 0.0  # seconds each answer takes
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "form": dict(urllib.parse.parse_qsl(body.decode())),
                    }
                )
                time.sleep(endpoint.delay)
                status, payload = endpoint.replies.pop(0) if endpoint.replies else (500, b"")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status: int, payload: Any) -> None:
        self.replies.append(
            (status, payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    server = TokenEndpoint()
    yield server
    server.close()


@pytest.fixture
def keyed(monkeypatch) -> None:
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", KEY)


def _robot(
    harness,
    url: str = "http://127.0.0.1:9/token",
    method: str = "client_secret_post",
    sets: str = "[gh-oauth]",
) -> None:
    harness.robot_yaml += PROVIDERS.format(url=url, method=method)
    harness.extension("plugin", "idp", PLUGIN, f"ParameterSets: {sets}" if sets else "")


async def _ask(harness, user: str, text: str, channel: str = "general") -> dict[str, Any]:
    [reply] = await harness.texts(user, text, channel)
    return ast.literal_eval(reply)


def test_a_linked_token_is_handed_back_and_stored_encrypted_in_the_brain(harness, keyed) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            linked = await _ask(harness, "bob", ";link github Bob -")
            got = await _ask(harness, "bob", ";get GitHub bob")
            raw = await harness.robot.brain.get(credential_key("github", "bob"))
            return linked, got, raw
        finally:
            await harness.stop()

    linked, got, raw = run(main())
    assert linked == {"ret_val": 0}
    assert got == {
        "ret_val": 0,
        "credential": {
            "type": "bearer_token",
            "value": "tok-Bob",
            "scheme": "Bearer",
            "header_name": "Authorization",
            "header_value": "Bearer tok-Bob",
            "expires_at": "",
            "metadata": {},
        },
    }
    # Under upstream's key, and unreadable without the robot's key.
    assert credential_key("github", "bob").startswith("bot:identity:v1:github:user:")
    # Fernet's base64 can hold any short string by chance ("r1" ~7% of runs): look for the
    # plaintext's own markers instead.
    assert b"tok-Bob" not in raw and b"refresh_token" not in raw
    record = json.loads(SecretBox([KEY]).decrypt(raw))
    assert record["username"] == "bob" and record["provider_key"] == "github"
    assert record["token"] == {
        "access_token": "tok-Bob",
        "refresh_token": "r1",
        "token_type": "Bearer",
        "scope": ["repo"],
    }
    assert record["subject"]["login"] == "Bob-gh"


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_an_expired_token_is_refreshed_at_the_token_endpoint_once(
    harness, keyed, endpoint, method
) -> None:
    _robot(harness, endpoint.url, method)
    endpoint.answer(
        200,
        {
            "access_token": "fresh",
            "refresh_token": "r2",
            "token_type": "bearer",
            "expires_in": 3600,
            "scope": "repo read:org",
        },
    )

    async def main():
        await harness.start()
        try:
            await _ask(harness, "bob", ";link github bob 2000-01-01T00:00:00Z")
            first = await _ask(harness, "bob", ";get github bob")
            second = await _ask(harness, "bob", ";get github bob")
            raw = await harness.robot.brain.get(credential_key("github", "bob"))
            return first, second, json.loads(SecretBox([KEY]).decrypt(raw))
        finally:
            await harness.stop()

    first, second, record = run(main())
    assert first["ret_val"] == 0 and first["credential"]["value"] == "fresh"
    assert first["credential"]["header_value"] == "bearer fresh"
    assert first["credential"]["expires_at"] > "2000"
    assert second == first  # still valid: no second request
    [request] = endpoint.requests
    assert request["path"] == "/oauth/token"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert request["headers"]["Accept"] == "application/json"
    form = request["form"]
    assert (form["grant_type"], form["refresh_token"], form["scope"], form["audience"]) == (
        "refresh_token",
        "r1",
        "repo",
        "api",
    )
    if method == "client_secret_post":
        assert (form["client_id"], form["client_secret"]) == ("the-client", "the-secret")
        assert "Authorization" not in request["headers"]
    else:
        assert "client_secret" not in form
        expected = base64.b64encode(b"the-client:the-secret").decode()
        assert request["headers"]["Authorization"] == f"Basic {expected}"
    assert record["token"]["refresh_token"] == "r2"
    assert record["token"]["scope"] == ["repo", "read:org"]
    assert record["grant"]["rotation_counter"] == 1


def test_concurrent_requests_for_an_expired_token_refresh_it_once(harness, keyed, endpoint) -> None:
    _robot(harness, endpoint.url)
    endpoint.delay = 0.5
    endpoint.answer(200, {"access_token": "fresh", "expires_in": 3600})

    async def main():
        await harness.start()
        try:
            await _ask(harness, "bob", ";link github bob 2000-01-01T00:00:00Z")
            await harness.send("bob", ";get github bob")
            await harness.send("bob", ";get github bob", channel="random")
            return [ast.literal_eval(m.text) for m in await harness.replies(2)]
        finally:
            await harness.stop()

    answers = run(main())
    assert [a["credential"]["value"] for a in answers] == ["fresh", "fresh"]
    assert len(endpoint.requests) == 1  # the second waited for the first's refresh


def test_provider_errors_need_reauthentication_or_fail_the_refresh(
    harness, keyed, endpoint
) -> None:
    _robot(harness, endpoint.url)
    endpoint.answer(400, {"error": "invalid_grant", "error_description": "revoked"})
    endpoint.answer(503, b"<html>down</html>")

    async def main():
        await harness.start()
        try:
            await _ask(harness, "bob", ";link github bob 2000-01-01T00:00:00Z")
            revoked = await _ask(harness, "bob", ";get github bob")
            again = await _ask(harness, "bob", ";get github bob")  # no new request
            await _ask(harness, "alice", ";link github alice 2000-01-01T00:00:00Z")
            down = await _ask(harness, "alice", ";get github alice")
            return revoked, again, down
        finally:
            await harness.stop()

    revoked, again, down = run(main())
    assert revoked == {"credential": None, "ret_val": 32}  # IdentityReauthRequired
    assert again == revoked
    assert down == {"credential": None, "ret_val": 33}  # IdentityRefreshFailed
    assert len(endpoint.requests) == 2


def test_an_unreachable_token_endpoint_fails_the_refresh(harness, keyed) -> None:
    _robot(harness, "http://127.0.0.1:9/token")  # the discard port: nothing listens

    async def main():
        await harness.start()
        try:
            await _ask(harness, "bob", ";link github bob 2000-01-01T00:00:00Z")
            return await _ask(harness, "bob", ";get github bob")
        finally:
            await harness.stop()

    assert run(main()) == {"credential": None, "ret_val": 33}


def test_unlink_removes_the_link(harness, keyed) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            before = await _ask(harness, "bob", ";get github bob")
            await _ask(harness, "bob", ";link github bob -")
            unlinked = await _ask(harness, "bob", ";unlink github bob")
            after = await _ask(harness, "bob", ";get github bob")
            raw = await harness.robot.brain.get(credential_key("github", "bob"))
            return before, unlinked, after, raw
        finally:
            await harness.stop()

    before, unlinked, after, raw = run(main())
    assert before == {"credential": None, "ret_val": 31}  # IdentityNotLinked
    assert unlinked == {"ret_val": 0}
    assert after == before and raw is None


def test_only_the_owning_user_and_an_attached_task_reach_a_link(harness, keyed) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            return [
                await _ask(harness, "bob", ";link github bob -"),
                await _ask(harness, "bob", ";get github alice"),  # someone else's
                await _ask(harness, "bob", ";link github alice -"),
                await _ask(harness, "bob", ";unlink github alice"),
                await _ask(harness, "bob", ";get gitlab bob"),  # no such provider
                await _ask(harness, "bob", ";odd {'Provider': 'github', 'User': 'bob'}"),
                await _ask(
                    harness, "bob", ";odd {'Provider': 'github', 'User': '', 'AccessToken': 't'}"
                ),
                await _ask(
                    harness,
                    "bob",
                    ";odd {'provider': 'github', 'user': 'bob', 'accesstoken': 't', 'expiresat': 'soon'}",
                ),
                await _ask(
                    harness, "bob", ";odd {'Provider': 'github', 'User': 'bob', 'AccessToken': 5}"
                ),
                await _ask(harness, "bob", ";odd ['github']"),
            ]
        finally:
            await harness.stop()

    answers = run(main())
    assert answers == [
        {"ret_val": 0},
        {"credential": None, "ret_val": 29},  # PrivilegeViolation
        {"ret_val": 29},
        {"ret_val": 29},
        {"credential": None, "ret_val": 30},  # IdentityProviderNotFound
        {"ret_val": 34},  # IdentityInvalidLinkRequest: no AccessToken
        {"ret_val": 34},  # no User
        {"ret_val": 34},  # ExpiresAt is not RFC 3339 (field names match without case)
        {"error": "invalid_params"},
        {"error": "invalid_params"},
    ]


def test_a_task_without_the_providers_parameter_set_is_refused(harness, keyed) -> None:
    _robot(harness, sets="")

    async def main():
        await harness.start()
        try:
            return [
                await _ask(harness, "bob", ";link github bob -"),
                await _ask(harness, "bob", ";get github bob"),
                await _ask(harness, "bob", ";unlink github bob"),
            ]
        finally:
            await harness.stop()

    assert run(main()) == [
        {"ret_val": 35},  # IdentityConfigError
        {"credential": None, "ret_val": 35},
        {"ret_val": 35},
    ]
    log = "\n".join(p.read_text() for p in (harness.root / "state" / "logs").glob("*.log"))
    assert "add its CredentialParameterSet 'gh-oauth' to the task's ParameterSets" in log


def test_without_an_encryption_key_nothing_is_linked(harness, monkeypatch) -> None:
    monkeypatch.delenv("BURROW_ENCRYPTION_KEY", raising=False)
    _robot(harness)

    async def main():
        await harness.start()
        try:
            return await _ask(harness, "bob", ";link github bob -")
        finally:
            await harness.stop()

    assert run(main()) == {"ret_val": 35}
    log = "\n".join(p.read_text() for p in (harness.root / "state" / "logs").glob("*.log"))
    assert "need BURROW_ENCRYPTION_KEY" in log


def test_a_pipeline_acting_for_nobody_may_name_any_user(harness, keyed) -> None:
    harness.robot_yaml += PROVIDERS.format(url="http://127.0.0.1:9/token", method="none")
    harness.robot_yaml += "ScheduledJobs: [{Name: boot, Schedule: '@init'}]\n"
    harness.extension(
        "job",
        "boot",
        """
        commands:
          '*':
            - {call: [LinkOAuth2Identity, "={'Provider': 'github', 'User': 'carol', 'AccessToken': 'c-tok'}"], as: l}
            - {call: [GetIdentityCredential, github, carol], as: g}
            - [SendChannelMessage, ops, "{l[ret_val]} {g[ret_val]} {g[credential][value]}"]
        """,
        "ParameterSets: [gh-oauth]",
        conf="Quiet: true\n",
    )

    [sent] = harness.play(lambda h: h.replies(1))
    assert (sent.channel, sent.text) == ("ops", "0 0 c-tok")


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        (
            "IdentityProviders: {github: {Type: saml, CredentialParameterSet: s, OAuth2: {}}}",
            "IdentityProviders.github.Type: unknown identity provider Type 'saml' — write Type: oauth2",
        ),
        (
            "IdentityProviders: {github: {Type: oauth2, CredentialParameterSet: nope, OAuth2: {}}}",
            "IdentityProviders.github.CredentialParameterSet: parameter set 'nope' is not declared",
        ),
        (
            "IdentityProviders: {github: {Type: oauth2, CredentialParameterSet: s}}",
            "IdentityProviders.github: an oauth2 provider needs OAuth2 settings",
        ),
        (
            "IdentityProviders: {github: {Type: oauth2, CredentialParameterSet: s, OAuth2: {Token: {URL: 'file:///etc/passwd'}}}}",
            "IdentityProviders.github.OAuth2.Token.URL: 'file:///etc/passwd' is not an http(s) URL",
        ),
        (
            "IdentityProviders: {github: {Type: oauth2, CredentialParameterSet: s, OAuth2: {TokenEndpointAuthMethod: jwt}}}",
            "TokenEndpointAuthMethod: unknown TokenEndpointAuthMethod 'jwt'",
        ),
    ],
)
def test_broken_identity_providers_are_configuration_errors(harness, yaml, problem) -> None:
    harness.robot_yaml += "ParameterSets: {s: {Parameters: [{Name: CLIENT_ID, Value: x}]}}\n"
    harness.robot_yaml += yaml + "\n"
    error = harness.load_error()
    assert f"conf/robot.yaml:{harness.last_line}" in error
    assert problem in error
