"""Lua's `require("http")`: upstream's gluahttp interface, run in real children against real
servers on loopback (tests/http_support.py).

What upstream promises (https://github.com/cjoudrey/gluahttp, as Gopherbot preloads it): a
response table (status_code, body, body_size, headers, cookies, url) for every answer, 4xx
and 5xx included, and `nil, err` when there is no answer. What Burrow adds: a deadline per
request (the option, else `HTTPClient.Timeout`), a body limit, bounded redirects, verified TLS
and cancellation (docs/lua.md, "http").
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lua_support import LuaRun

from http_support import JOKE, WebServer, certificates, connect_proxy, free_port, web_server


@pytest.fixture(scope="module")
def server() -> Iterator[WebServer]:
    with web_server() as running:
        yield running


@pytest.fixture
def lua(run_lua: Callable[..., LuaRun], server: WebServer) -> Callable[..., LuaRun]:
    """Run `source` (with BASE replaced by the server's URL); `limits` is http_client."""

    def _run(source: str, limits: dict[str, Any] | None = None, **kwargs: Any) -> LuaRun:
        params = dict(kwargs.pop("params", {}))
        if limits is not None:
            params["http_client"] = limits
        return run_lua(source.replace("BASE", server.base), prelude=True, params=params, **kwargs)

    return _run


def test_get_returns_upstreams_response_table(lua: Callable[..., LuaRun]) -> None:
    run = lua(
        """
        local http = require("http")
        local json = require("json")
        local r, err = http.get("BASE/echo?x=1", {
          headers = { Accept = "application/json", ["x-count"] = 3 },
          cookies = { session = "abc" },
          auth = { user = "ann", pass = "s3cret" },
        })
        local seen = json.decode(r.body)
        report(err, r.status_code, r.body_size == #r.body, r.url, r.headers["Content-Type"],
               r.headers["X-Served-By"], seen.method, seen.query, seen.headers)
        """
    )
    err, status, sized, url, content_type, served_by, method, query, headers = run.report
    assert (err, status, sized, method, query) == (None, 200, True, "GET", "x=1")
    assert url.endswith("/echo?x=1")
    # Response header names in Go's canonical form, one value each (Header.Get).
    assert (content_type, served_by) == ("application/json", "loopback")
    assert headers["Accept"] == "application/json"
    assert headers["X-Count"] == "3"  # numbers become text, as gluahttp's String()
    assert headers["Cookie"] == "session=abc"
    assert headers["Authorization"] == "Basic YW5uOnMzY3JldA=="
    assert headers["User-Agent"] == "Burrow-http-client/1.1"


def test_upstreams_luafull_http_command_passes(lua: Callable[..., LuaRun]) -> None:
    # The logic of upstream's plugins/test/luafull.lua `http` command, against the endpoints
    # of its integration suite: JSON GET, POST, PUT, a 500 and a timeout.
    run = lua(
        """
        local http = require("http")
        local json = require("json")
        local function request_json(method, path, opts, payload)
          opts = opts or {}
          opts.headers = opts.headers or {}
          opts.headers.Accept = "application/json"
          if payload ~= nil then
            opts.body = json.encode(payload)
            opts.headers["Content-Type"] = "application/json"
          end
          local response, requestErr = http.request(method, "BASE" .. path, opts)
          if requestErr then return nil, requestErr end
          if response.status_code >= 400 then
            return nil, { status = response.status_code, body = response.body }
          end
          return json.decode(response.body)
        end
        local out = {}
        out[1] = request_json("GET", "/json/get", { timeout = "5s" }).method
        out[2] = request_json("POST", "/json/post", { timeout = "5s" }, { value = "alpha" }).value
        out[3] = request_json("PUT", "/json/put", { timeout = "5s" }, { value = "bravo" }).value
        local _, err = request_json("GET", "/json/error", { timeout = "5s" })
        out[4] = err.status
        local _, slow = request_json("GET", "/json/slow", { timeout = "50ms" })
        out[5] = type(slow)
        report(out)
        """
    )
    assert run.report == [["GET", "alpha", "bravo", 500, "string"]]


def test_every_verb_and_its_body(lua: Callable[..., LuaRun], server: WebServer) -> None:
    run = lua(
        """
        local http, json = require("http"), require("json")
        local out = {}
        for _, verb in ipairs({ "post", "put", "patch", "delete" }) do
          local r = http[verb]("BASE/echo", { body = verb .. " body" })
          local seen = json.decode(r.body)
          out[#out + 1] = { seen.method, seen.body }
        end
        -- form: a URL-encoded body with its Content-Type; headers set last win over it
        local form = json.decode(http.post("BASE/echo", { form = "a=1&b=2" }).body)
        local typed = json.decode(http.post("BASE/echo", {
          form = "a=1", headers = { ["Content-Type"] = "text/x-mine" } }).body)
        -- a body that is not UTF-8 text arrives byte for byte
        local binary = json.decode(http.put("BASE/echo", { body = "\\0\\255\\254A" }).body)
        local custom = json.decode(http.request("options", "BASE/echo").body)
        report(out, form.headers["Content-Type"], form.body, typed.headers["Content-Type"],
               binary.body_hex, custom.method)
        """
    )
    verbs, form_type, form_body, typed, binary, custom = run.report
    assert verbs == [[v.upper(), f"{v} body"] for v in ("post", "put", "patch", "delete")]
    assert (form_type, form_body) == ("application/x-www-form-urlencoded", "a=1&b=2")
    assert typed == "text/x-mine"
    assert binary == "00fffe41"
    assert custom == "OPTIONS"


def test_head_binary_bodies_cookies_and_repeated_headers(lua: Callable[..., LuaRun]) -> None:
    run = lua(
        """
        local http = require("http")
        local head = http.head("BASE/echo")
        local bin = http.get("BASE/binary")
        local cookies = http.get("BASE/cookies")
        report(head.status_code, head.body, head.body_size, head.headers["Content-Length"] ~= nil,
               bin.body_size, bin.body:byte(1), bin.body:byte(256),
               cookies.cookies, cookies.headers["X-Multi"])
        """
    )
    assert run.report == [
        200,
        "",
        0,
        True,
        256,
        0,
        255,
        {"session": "abc123", "theme": "dark"},
        "one",
    ]


def test_error_statuses_are_responses_not_errors(lua: Callable[..., LuaRun]) -> None:
    run = lua(
        """
        local http = require("http")
        local out = {}
        for _, code in ipairs({ 204, 404, 418, 500, 503 }) do
          local r, err = http.get("BASE/status/" .. code)
          out[#out + 1] = { r.status_code, err == nil }
        end
        report(out)
        """
    )
    assert run.report == [[[204, True], [404, True], [418, True], [500, True], [503, True]]]


def test_failures_return_nil_and_gos_error_text(lua: Callable[..., LuaRun]) -> None:
    port = free_port()
    run = lua(
        f"""
        local http = require("http")
        local out = {{}}
        local function try(...) local r, err = ...; out[#out + 1] = {{ r == nil, err }} end
        try(http.get("http://127.0.0.1:{port}/"))
        try(http.get("ftp://example.com/file"))
        try(http.get("BASE/echo", {{ timeout = "soon" }}))
        try(http.get("BASE/echo", {{ auth = {{ user = "ann" }} }}))
        try(http.get("BASE/echo", "not options"))
        try(http.get("BASE/echo", {{ headers = {{ ["Bad Name"] = "x" }} }}))
        try(http.get("BASE/echo", {{ headers = {{ X = "a\\r\\nInjected: yes" }} }}))
        try(http.get("http://nonexistent.invalid/"))
        report(out)
        """
    )
    (results,) = run.report
    assert all(failed for failed, _ in results), results
    errors = [err for _, err in results]
    assert (
        errors[0]
        == f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )
    assert errors[1] == 'Get "ftp://example.com/file": unsupported protocol scheme "ftp"'
    assert errors[2] == 'time: invalid duration "soon"'
    assert errors[3] == "auth table must contain no nil user and pass fields"
    assert errors[4] == "options must be a table, got string"
    assert errors[5].endswith("net/http: invalid header field name 'Bad Name'")
    assert errors[6].endswith("net/http: invalid header field value for 'X'")
    assert (
        errors[7]
        == 'Get "http://nonexistent.invalid/": dial tcp: lookup nonexistent.invalid: no such host'
    )


def test_the_timeout_covers_headers_and_body_and_defaults_to_the_robots(
    lua: Callable[..., LuaRun], server: WebServer
) -> None:
    started = time.monotonic()
    run = lua(
        """
        local http = require("http")
        local function try(...) local r, err = ...; return { r == nil, err } end
        report(
          try(http.get("BASE/slow?s=3", { timeout = "200ms" })),
          try(http.get("BASE/slow?s=3", { timeout = 0.2 })),
          -- headers at once, then one byte every 0.1 s for 3 s: the deadline covers the body
          try(http.get("BASE/trickle?n=30&s=0.1", { timeout = "300ms" })),
          -- no timeout option: the robot's HTTPClient Timeout (here 0.25 s)
          try(http.get("BASE/slow?s=3")),
          try(http.get("BASE/slow?s=0.05", { timeout = "2s" }))
        )
        """,
        limits={"timeout": 0.25},
    )
    elapsed = time.monotonic() - started
    header_timeout, number_timeout, body_timeout, default_timeout, in_time = run.report
    expired = "context deadline exceeded"
    assert header_timeout == [True, f'Get "{server.base}/slow?s=3": {expired} (timeout 200ms)']
    assert number_timeout == header_timeout
    assert body_timeout == [
        True,
        f'Get "{server.base}/trickle?n=30&s=0.1": {expired} (timeout 300ms)',
    ]
    assert default_timeout == [True, f'Get "{server.base}/slow?s=3": {expired} (timeout 250ms)']
    assert in_time == [False]  # {false, nil}: a response and no error
    assert elapsed < 6, elapsed  # four deadlines of about 0.25 s, not four 3 s waits


def test_redirects_are_followed_as_go_does_and_bounded(
    lua: Callable[..., LuaRun], server: WebServer
) -> None:
    run = lua(
        """
        local http, json = require("http"), require("json")
        local three = http.get("BASE/redirect/3")
        local _, loop = http.get("BASE/loop")
        -- 303 after a POST: GET without the body; 307 and 308: the same method and body
        local see_other = json.decode(http.post("BASE/to?code=303&url=/echo", { body = "x" }).body)
        local temporary = json.decode(http.post("BASE/to?code=307&url=/echo", { body = "kept" }).body)
        local permanent = json.decode(http.put("BASE/to?code=308&url=/echo", { body = "put" }).body)
        report(three.status_code, three.url, json.decode(three.body).redirected, loop,
               { see_other.method, see_other.body }, { temporary.method, temporary.body },
               { permanent.method, permanent.body })
        """
    )
    status, url, redirected, loop, see_other, temporary, permanent = run.report
    assert (status, url, redirected) == (200, f"{server.base}/redirect/0", True)
    assert loop == 'Get "/loop": stopped after 5 redirects'
    assert see_other == ["GET", ""]
    assert temporary == ["POST", "kept"]
    assert permanent == ["PUT", "put"]


def test_max_redirects_comes_from_the_robot(lua: Callable[..., LuaRun]) -> None:
    run = lua(
        """
        local http = require("http")
        local one = http.get("BASE/redirect/1")
        local _, two = http.get("BASE/redirect/2")
        report(one.status_code, two)
        """,
        limits={"max_redirects": 1},
    )
    assert run.report == [200, 'Get "/redirect/0": stopped after 1 redirects']


def test_credentials_do_not_follow_a_redirect_to_another_host(
    lua: Callable[..., LuaRun], server: WebServer
) -> None:
    # 127.0.0.1 and localhost are the same server but, to a client, different hosts.
    other = f"http://localhost:{server.port}/echo"
    run = lua(
        f"""
        local http, json = require("http"), require("json")
        local opts = {{ headers = {{ Authorization = "Bearer t0k", ["X-Keep"] = "yes" }},
                        cookies = {{ c = "1" }} }}
        local same = json.decode(http.get("BASE/to?url=/echo", opts).body).headers
        local moved = json.decode(http.get("BASE/to?url={other}", opts).body).headers
        report(same.Authorization, same.Cookie, same.Referer ~= nil,
               moved.Authorization, moved.Cookie, moved["X-Keep"])
        """
    )
    assert run.report == ["Bearer t0k", "c=1", True, None, None, "yes"]


def test_bodies_over_the_limit_are_refused(lua: Callable[..., LuaRun]) -> None:
    limit = 256 * 1024
    run = lua(
        f"""
        local http = require("http")
        local exact = http.get("BASE/big?n={limit}")
        local _, declared = http.get("BASE/big?n={limit + 1}")
        local _, streamed = http.get("BASE/chunked?n={4 * limit}")
        report(exact.body_size, declared, streamed)
        """,
        limits={"max_body_size": limit},
    )
    exact, declared, streamed = run.report
    assert exact == limit
    assert declared.endswith(
        "the response body is larger than the 256 KiB limit (HTTPClient MaxBodySize)"
    )
    assert "/chunked?n=1048576" in streamed and streamed.endswith(
        "256 KiB limit (HTTPClient MaxBodySize)"
    )


def test_the_default_body_limit_is_8_mib(lua: Callable[..., LuaRun]) -> None:
    run = lua(
        """
        local http = require("http")
        local _, err = http.get("BASE/big?n=8388609")
        report(err)
        """
    )
    assert run.report[0].endswith("larger than the 8 MiB limit (HTTPClient MaxBodySize)")


def test_request_batch_answers_in_order(lua: Callable[..., LuaRun]) -> None:
    run = lua(
        """
        local http = require("http")
        local ok = http.request_batch({ { "GET", "BASE/status/200" }, { "post", "BASE/status/201" } })
        local responses, errors = http.request_batch({
          { "GET", "BASE/status/202" }, "not a request", { "GET", "ftp://x" } })
        report(#ok, ok[1].status_code, ok[2].status_code,
               responses[1].status_code, responses[2], responses[3], errors[1], errors[2], errors[3])
        """
    )
    assert run.report == [
        2,
        200,
        201,
        202,
        None,
        None,
        None,
        "Request must be a table",
        'Get "ftp://x": unsupported protocol scheme "ftp"',
    ]


def test_tls_is_verified_and_ca_file_is_trusted(lua: Callable[..., LuaRun], tmp_path: Path) -> None:
    certs = certificates(tmp_path / "pki")
    script = """
        local http = require("http")
        local r, err = http.get("URL")
        report(r and r.status_code, err)
        """
    with web_server(tls=certs.server_context("127.0.0.1")) as tls:
        url = f"{tls.base}/status/200"
        untrusted = lua(script.replace("URL", url))
        trusted = lua(script.replace("URL", url), limits={"ca_file": str(certs.ca_file)})
        # SSL_CERT_FILE (a parameter can put it in a child's environment) is not read.
        from_env = lua(script.replace("URL", url), env={"SSL_CERT_FILE": str(certs.ca_file)})
    with web_server(tls=certs.server_context("other.example")) as wrong_name:
        mismatch = lua(
            script.replace("URL", f"{wrong_name.base}/status/200"),
            limits={"ca_file": str(certs.ca_file)},
        )
    assert untrusted.report == [
        None,
        f'Get "{url}": tls: failed to verify certificate: x509: unable to get local issuer certificate',
    ]
    assert trusted.report == [200, None]
    assert from_env.report == untrusted.report
    assert mismatch.report[1].startswith(
        f'Get "{wrong_name.base}/status/200": tls: failed to verify'
    )
    assert "mismatch" in mismatch.report[1]


def test_a_proxy_carries_requests_except_to_loopback(
    lua: Callable[..., LuaRun], server: WebServer
) -> None:
    with connect_proxy(("127.0.0.1", server.port)) as proxy:
        address = proxy.url.replace("http://", "http://user:pa%20ss@")
        run = lua(
            """
            local http, json = require("http"), require("json")
            local plain = json.decode(http.get("http://api.example.test/v1?q=1").body)
            local direct = http.get("BASE/status/200")
            local skipped, err = http.get("http://intranet.corp.test/", { timeout = "300ms" })
            report(plain.proxied, direct.status_code, err)
            """,
            limits={"proxy": address, "no_proxy": [".corp.test"]},
        )
    proxied, direct, err = run.report
    assert proxied == "http://api.example.test/v1?q=1"  # absolute-form, to the proxy
    assert direct == 200  # loopback is never proxied
    assert err.startswith('Get "http://intranet.corp.test/": dial tcp')  # NoProxy: direct
    assert proxy.auth == ["Basic dXNlcjpwYSBzcw=="]  # user:pa ss
    assert [line for line, _ in proxy.plain] == ["GET http://api.example.test/v1?q=1"]


def test_a_cancelled_execution_ends_a_request_in_progress(lua: Callable[..., LuaRun]) -> None:
    # At its timeout (1 s) the robot sends $/cancel and waits 10 s before signals: a child
    # that ended within 3 s stopped its request itself, well before the request's 60 s.
    started = time.monotonic()
    run = lua(
        """
        local http = require("http")
        http.get("BASE/slow?s=20", { timeout = "60s" })
        report("not reached")
        """,
        timeout=1.0,
        cancel_grace=10.0,
    )
    assert time.monotonic() - started < 3
    assert run.result.error is not None and run.result.error.code == "timeout"
    assert run.result.exit_status == 0  # it answered and exited; nothing killed it
    assert run.reports == []


def test_chuck_against_a_local_api(lua: Callable[..., LuaRun], server: WebServer) -> None:
    # Modelled on upstream's plugins/chuck.lua: GET a joke as JSON, decode it, say its value.
    run = lua(
        """
        local http, json = require("http"), require("json")
        local response, err = http.get("BASE/jokes/random", {
          headers = { Accept = "application/json" },
          timeout = "10s",
        })
        if err or response.status_code >= 400 then
          bot:Say("I tried to fetch a Chuck Norris joke but something broke.")
          return task.Normal
        end
        local data, decodeErr = json.decode(response.body)
        bot:Say(decodeErr and "broken" or data.value)
        return task.Normal
        """
    )
    assert [(c.method, c.args) for c in run.calls] == [("Say", [JOKE])]
    assert server.requests[-1].headers["Accept"] == "application/json"


def test_the_client_is_imported_only_by_a_request() -> None:
    # A child pays for what it imports: the runtime alone loads neither the client nor
    # http.client, ssl and email (about 30 ms); require("http") does not either.
    probe = (
        "import sys, burrow.child.main, burrow_lua.runtime;"
        "print(sorted({'burrow.child.http_client', 'burrow_lua.http', 'http.client', 'ssl',"
        " 'email'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_requiring_the_module_makes_no_request(
    lua: Callable[..., LuaRun], server: WebServer
) -> None:
    before = len(server.requests)
    run = lua(
        """
        local http = require("http")
        report(type(http.get), type(http.request_batch), require("http") == http)
        """
    )
    assert run.report == ["function", "function", True]
    assert len(server.requests) == before


# --- through a real robot: robot.yaml's HTTPClient reaches the child --------------------------

UPSTREAM = Path(os.environ.get("BURROW_GOPHERBOT_MIRROR", "/work/.mirror/lnxjedi+gopherbot/repo"))

NORRIS_LUA = r"""
-- Modelled on upstream's chuck plugin, with its API URL: only robot.yaml's HTTPClient
-- (a proxy, and a CA that signed the loopback server's certificate) makes it answer here.
local gopherbot = require "gopherbot_v1"
if arg[1] == "_configure" then
  return "Commands: [{Command: joke, Regex: '(?i:^joke$)'}]\nConfig: {Opening: 'Did you know?'}"
end
if arg[1] == "_init" then return gopherbot.task.Normal end
local bot = gopherbot.Robot:new()
local http, json = require("http"), require("json")
local cfg = bot:GetTaskConfig()
local response, err = http.get("https://api.chucknorris.io/jokes/random", {
  headers = { Accept = "application/json" },
})
if err then
  bot:Say("broke: " .. err)
  return gopherbot.task.Normal
end
local data = json.decode(response.body)
bot:Say(cfg.Opening .. " " .. data.value)
return gopherbot.task.Normal
"""


def _robot_yaml(proxy: str, ca_file: Path, with_upstream: bool) -> str:
    plugins = "  norris: {Path: plugins/norris.lua}\n"
    if with_upstream:
        plugins += "  chuck: {Path: plugins/chuck.lua}\n"
    return (
        "Alias: ';'\nDefaultChannels: [general]\nUserRoster: [{UserName: alice}]\n"
        f"HTTPClient: {{Proxy: '{proxy}', CAFile: '{ca_file}', Timeout: 10s}}\n"
        f"ExternalPlugins:\n{plugins}"
    )


def _upstream_chuck() -> bytes | None:
    """plugins/chuck.lua of a Gopherbot mirror, read at test time (never kept here)."""
    if not UPSTREAM.exists():
        return None
    shown = subprocess.run(
        ["git", "-C", str(UPSTREAM), "show", "HEAD:plugins/chuck.lua"], capture_output=True
    )
    return shown.stdout if shown.returncode == 0 else None


def test_a_robot_gives_its_http_client_settings_to_lua_children(tmp_path: Path) -> None:
    from burrow.connectors.testing import TestConnector
    from burrow.engine.robot import Robot
    from support import run

    certs = certificates(tmp_path / "pki")
    upstream = _upstream_chuck()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "norris.lua").write_text(NORRIS_LUA)
    if upstream is not None:
        (tmp_path / "plugins" / "chuck.lua").write_bytes(upstream)  # unmodified
    with (
        web_server(tls=certs.server_context("api.chucknorris.io")) as api,
        connect_proxy(("127.0.0.1", api.port)) as proxy,
    ):
        (tmp_path / "conf").mkdir()
        (tmp_path / "conf" / "robot.yaml").write_text(
            _robot_yaml(proxy.url, certs.ca_file, upstream is not None)
        )

        async def main() -> list[str]:
            robot = Robot(tmp_path, state_dir=tmp_path / "state", environ=dict(os.environ))
            await robot.load()
            connector = TestConnector({})
            await robot.start({"test": connector}, primary="test")
            said: list[str] = []
            try:
                await connector.inject("alice", ";joke", "general")
                said.append(getattr(await connector.next_sent(30.0), "text", "nothing"))
                if upstream is not None:
                    await connector.inject("alice", "I hear Chuck Norris is here", "general")
                    for _ in range(2):  # an opening, a 2 s pause, then the joke
                        said.append(getattr(await connector.next_sent(30.0), "text", "nothing"))
            finally:
                await robot.stop(grace=2.0)
            return said

        said = run(main())

    assert said[0] == f"Did you know? {JOKE}"
    if upstream is None:
        pytest.skip("no Gopherbot mirror: upstream's chuck.lua was not run")
    assert said[1].endswith(" Did you know ...?")
    assert said[2] == JOKE
    assert proxy.connects == ["api.chucknorris.io:443"] * 2
    assert [seen.path for seen in api.requests] == ["/jokes/random"] * 2
