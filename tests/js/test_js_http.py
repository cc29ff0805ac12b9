"""JavaScript's `require("http")`: upstream Gopherbot's synchronous module, run in real
children against real servers on loopback (tests/http_support.py).

Upstream (modules/javascript/http_object.go) answers every response, 4xx and 5xx included,
as {ok, statusCode, statusText, body, bodySize, headers, cookies, url, json}, and throws a
GoError when there is no answer. Burrow adds the deadline, the body limit, bounded redirects,
verified TLS and cancellation (docs/javascript.md, "http"); the request is served on V8's
thread, so the tests also check that a cancel and js_timeout reach it there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from http_support import JOKE, WebServer, certificates, connect_proxy, free_port, web_server

JsRun = Any  # tests/js/conftest.py's JsRun: what one run produced


@pytest.fixture(scope="module")
def server() -> Iterator[WebServer]:
    with web_server() as running:
        yield running


@pytest.fixture
def js(run_js: Callable[..., JsRun], server: WebServer) -> Callable[..., JsRun]:
    """Run `source` (BASE replaced by the server's URL); `limits` is http_client."""

    def _run(source: str, limits: dict[str, Any] | None = None, **kwargs: Any) -> JsRun:
        params = dict(kwargs.pop("params", {}))
        if limits is not None:
            params["http_client"] = limits
        return run_js(source.replace("BASE", server.base), params=params, **kwargs)

    return _run


def test_get_returns_upstreams_response_object(js: Callable[..., JsRun]) -> None:
    run = js(
        """
        const http = require("http");
        const r = http.get("BASE/echo?x=1", {
          headers: { Accept: "application/json", "X-Count": 3 },
          cookies: { session: "abc" },
          auth: { user: "ann", pass: "s3cret" },
          query: { b: ["2", 3], a: "1" },
        });
        out([r.ok, r.statusCode, r.statusText, r.bodySize === r.body.length, r.url,
             r.headers["content-type"], r.headers["x-served-by"], r.json.method, r.json.query,
             r.json.headers]);
        """
    )
    assert run.ret_val == 0, run.result
    [[ok, status, text, sized, url, content_type, served_by, method, query, headers]] = run.outputs
    assert (ok, status, text, sized, method) == (True, 200, "OK", True, "GET")
    # An object query is added to the URL's, sorted by name (Go's url.Values.Encode).
    assert query == "a=1&b=2&b=3&x=1"
    assert url.endswith("/echo?a=1&b=2&b=3&x=1")
    assert (content_type, served_by) == ("application/json", "loopback")  # lowercased names
    assert headers["Accept"] == "application/json"
    assert headers["X-Count"] == "3"
    assert headers["Cookie"] == "session=abc"
    assert headers["Authorization"] == "Basic YW5uOnMzY3JldA=="


def test_upstreams_jsfull_http_command_passes(js: Callable[..., JsRun]) -> None:
    # The logic of upstream's plugins/test/jsfull.js `http` command, against the endpoints of
    # its integration suite: JSON GET, POST, PUT, a 500 and a timeout.
    run = js(
        """
        const http = require("http");
        function requestJSON(method, path, options, body) {
          const opts = options || {};
          opts.headers = opts.headers || {};
          opts.headers.Accept = "application/json";
          if (body !== undefined) opts.body = body;
          const response = http.request(method, "BASE" + path, opts);
          if (!response.ok) {
            const err = new Error(`HTTP ${response.statusCode}`);
            err.status = response.statusCode;
            throw err;
          }
          return response.json;
        }
        const said = [];
        said.push(requestJSON("GET", "/json/get", { timeout: "5s" }).method);
        said.push(requestJSON("POST", "/json/post", { timeout: "5s" }, { value: "alpha" }).value);
        said.push(requestJSON("PUT", "/json/put", { timeout: "5s" }, { value: "bravo" }).value);
        try { requestJSON("GET", "/json/error", { timeout: "5s" }); said.push("unexpected"); }
        catch (err) { said.push(err.status); }
        try { requestJSON("GET", "/json/slow", { timeout: "50ms" }); said.push("unexpected"); }
        catch (err) { said.push(err.name); }
        out(said);
        """
    )
    assert run.outputs == [["GET", "alpha", "bravo", 500, "GoError"]]


def test_bodies_as_upstream_sends_them(js: Callable[..., JsRun]) -> None:
    run = js(
        """
        const http = require("http");
        const seen = (r) => [r.json.method, r.json.body_hex, r.json.headers["Content-Type"] || null];
        out([
          seen(http.post("BASE/echo", { body: "text" })),
          seen(http.put("BASE/echo", { body: { value: 1 } })),       // JSON, application/json
          seen(http.patch("BASE/echo", { body: [0, 255, 65] })),     // a byte array
          seen(http.post("BASE/echo", { body: new Uint8Array([1, 2]) })),
          seen(http.post("BASE/echo", { body: { a: 1 }, headers: { "Content-Type": "text/x" } })),
          seen(http.post("BASE/echo", { form: "a=1&b=2" })),
          seen(http.post("BASE/echo", { form: { q: "a b" } })),
          seen(http.delete("BASE/echo")),
          seen(http.request(" options ", "BASE/echo")),
        ]);
        """
    )
    hexed = lambda text: text.encode().hex()  # noqa: E731
    assert run.outputs == [
        [
            ["POST", hexed("text"), None],
            ["PUT", hexed('{"value":1}'), "application/json"],
            ["PATCH", "00ff41", None],
            ["POST", "0102", None],
            ["POST", hexed('{"a":1}'), "text/x"],
            ["POST", hexed("a=1&b=2"), "application/x-www-form-urlencoded"],
            ["POST", hexed("q=a%20b"), "application/x-www-form-urlencoded"],
            ["DELETE", "", None],
            ["OPTIONS", "", None],
        ]
    ]


def test_head_json_detection_cookies_and_repeated_headers(js: Callable[..., JsRun]) -> None:
    run = js(
        """
        const http = require("http");
        const head = http.head("BASE/echo");
        const vendor = http.get("BASE/vendor-json");
        const broken = http.get("BASE/not-json");
        const text = http.get("BASE/cookies");
        const bin = http.get("BASE/binary");
        out([head.statusCode, head.body, head.bodySize, "content-length" in head.headers,
             vendor.json, broken.json, text.json, text.cookies, text.headers["x-multi"],
             bin.bodySize]);
        """
    )
    assert run.outputs == [
        [
            200,
            "",
            0,
            True,
            {"kind": "vendor"},  # application/vnd.api+json is JSON
            None,  # a JSON content type with a body that is not: json is null
            None,  # text/plain: not parsed
            {"session": "abc123", "theme": "dark"},
            "one, two",  # repeated headers joined, as upstream
            256,
        ]
    ]


def test_error_statuses_are_responses_with_ok_false(js: Callable[..., JsRun]) -> None:
    run = js(
        """
        const http = require("http");
        out([204, 301, 404, 500].map((code) => {
          const r = http.get(`BASE/status/${code}`);
          return [r.statusCode, r.ok, r.statusText];
        }));
        """
    )
    assert run.outputs == [
        [
            [204, True, "No Content"],
            [301, True, "Moved Permanently"],  # no Location: the redirect is the response
            [404, False, "Not Found"],
            [500, False, "Internal Server Error"],
        ]
    ]


def test_failures_throw_goerrors_with_gos_text(js: Callable[..., JsRun]) -> None:
    port = free_port()
    run = js(
        f"""
        const http = require("http");
        const caught = (f) => {{
          try {{ f(); return "no error"; }}
          catch (e) {{ return [e.name, e.message, e instanceof Error]; }}
        }};
        out([
          caught(() => http.get("http://127.0.0.1:{port}/")),
          caught(() => http.get("ftp://example.com/file")),
          caught(() => http.get("BASE/echo", {{ timeout: "soon" }})),
          caught(() => http.get("BASE/echo", {{ timeoutMs: "100" }})),
          caught(() => http.get("BASE/echo", {{ timeout: true }})),
          caught(() => http.get("BASE/echo", {{ auth: {{ user: "ann" }} }})),
          caught(() => http.get("BASE/echo", {{ auth: "ann" }})),
          caught(() => http.get("BASE/echo", {{ headers: [1] }})),
          caught(() => http.get("BASE/echo", "options")),
          caught(() => http.get("BASE/echo", {{ query: 5 }})),
          caught(() => http.post("BASE/echo", {{ body: [1, "x"] }})),
          caught(() => http.get("  ")),
          caught(() => http.get()),
          caught(() => http.request("GET")),
        ]);
        """
    )
    go = lambda message: ["GoError", message, True]  # noqa: E731
    assert run.outputs == [
        [
            go(
                f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: connect: connection refused'
            ),
            go('Get "ftp://example.com/file": unsupported protocol scheme "ftp"'),
            go('time: invalid duration "soon"'),
            go("timeoutMs must be a number"),
            go("timeout must be a duration string or number of seconds"),
            go("auth must include user and pass"),
            go("auth must be an object"),
            go("headers must be an object"),
            go("request options must be an object"),
            go("query must be a string or object"),
            go("body byte array contains non-byte value at index 1"),
            go("request: url is required"),
            ["TypeError", "get: url is required", True],
            ["TypeError", "request: method and url are required", True],
        ]
    ]


def test_an_uncaught_request_error_fails_the_extension_at_its_line(
    js: Callable[..., JsRun],
) -> None:
    port = free_port()
    run = js(
        f"""
        const http = require("http");
        http.get("http://127.0.0.1:{port}/");
        """
    )
    assert run.ret_val == 2  # MechanismFail, as any uncaught error
    error = run.result.error
    assert error is not None and "connection refused" in error.message
    assert error.data["line"] == 2 and error.data["file"].endswith("ext.js")


def test_the_timeout_covers_headers_and_body_and_defaults_to_the_robots(
    js: Callable[..., JsRun], server: WebServer
) -> None:
    started = time.monotonic()
    run = js(
        """
        const http = require("http");
        const caught = (f) => { try { f(); return null; } catch (e) { return e.message; } };
        out([
          caught(() => http.get("BASE/slow?s=3", { timeout: "200ms" })),
          caught(() => http.get("BASE/slow?s=3", { timeoutMs: 200 })),
          caught(() => http.get("BASE/slow?s=3", { timeout: 0.2 })),
          caught(() => http.get("BASE/trickle?n=30&s=0.1", { timeout: "300ms" })),
          caught(() => http.get("BASE/slow?s=3")),
          caught(() => http.get("BASE/slow?s=0.05", { timeoutMs: 2000 })),
        ]);
        """,
        limits={"timeout": 0.25},
    )
    expired = "context deadline exceeded"
    slow = f'Get "{server.base}/slow?s=3": {expired}'
    assert run.outputs == [
        [
            f"{slow} (timeout 200ms)",
            f"{slow} (timeout 200ms)",
            f"{slow} (timeout 200ms)",
            f'Get "{server.base}/trickle?n=30&s=0.1": {expired} (timeout 300ms)',
            f"{slow} (timeout 250ms)",  # the robot's HTTPClient Timeout
            None,
        ]
    ]
    assert time.monotonic() - started < 6


def test_redirects_are_followed_as_go_does_and_bounded(
    js: Callable[..., JsRun], server: WebServer
) -> None:
    run = js(
        """
        const http = require("http");
        const three = http.get("BASE/redirect/3");
        let loop;
        try { http.get("BASE/loop"); } catch (e) { loop = e.message; }
        const seeOther = http.post("BASE/to?code=303&url=/echo", { body: "x" }).json;
        const temporary = http.post("BASE/to?code=307&url=/echo", { body: "kept" }).json;
        out([three.statusCode, three.url, three.json.redirected, loop,
             [seeOther.method, seeOther.body], [temporary.method, temporary.body]]);
        """
    )
    assert run.outputs == [
        [
            200,
            f"{server.base}/redirect/0",
            True,
            'Get "/loop": stopped after 5 redirects',
            ["GET", ""],
            ["POST", "kept"],
        ]
    ]


def test_bodies_over_the_limit_are_refused(js: Callable[..., JsRun]) -> None:
    run = js(
        """
        const http = require("http");
        const caught = (f) => { try { return f().bodySize; } catch (e) { return e.message; } };
        out([caught(() => http.get("BASE/big?n=65536")),
             caught(() => http.get("BASE/big?n=65537")),
             caught(() => http.get("BASE/chunked?n=1000000"))]);
        """,
        limits={"max_body_size": 65536},
    )
    [[exact, declared, streamed]] = run.outputs
    assert exact == 65536
    assert declared.endswith(
        "the response body is larger than the 64 KiB limit (HTTPClient MaxBodySize)"
    )
    assert streamed.endswith("64 KiB limit (HTTPClient MaxBodySize)")


def test_request_batch_answers_in_order(js: Callable[..., JsRun]) -> None:
    run = js(
        """
        const http = require("http");
        const codes = (list) => list.map((r) => r && r.statusCode);
        const all = http.requestBatch([["GET", "BASE/status/200"], { url: "BASE/status/201" }]);
        const [responses, errors] = http.request_batch([
          { method: "POST", url: "BASE/status/202" }, 5, ["GET", "ftp://x"], { url: "" }]);
        out([codes(all), codes(responses), errors]);
        """
    )
    assert run.outputs == [
        [
            [200, 201],
            [202, None, None, None],
            [
                None,
                "request must be an object",
                'Get "ftp://x": unsupported protocol scheme "ftp"',
                "request must be an object",
            ],
        ]
    ]


def test_tls_is_verified_and_ca_file_is_trusted(js: Callable[..., JsRun], tmp_path: Path) -> None:
    certs = certificates(tmp_path / "pki")
    script = """
        const http = require("http");
        try { out(http.get("URL").statusCode); } catch (e) { out(e.message); }
        """
    with web_server(tls=certs.server_context("127.0.0.1")) as tls:
        url = f"{tls.base}/status/200"
        untrusted = js(script.replace("URL", url))
        trusted = js(script.replace("URL", url), limits={"ca_file": str(certs.ca_file)})
    with web_server(tls=certs.self_signed_context("127.0.0.1")) as self_signed:
        other = js(
            script.replace("URL", f"{self_signed.base}/"), limits={"ca_file": str(certs.ca_file)}
        )
    assert untrusted.outputs == [
        f'Get "{url}": tls: failed to verify certificate: x509: unable to get local issuer certificate'
    ]
    assert trusted.outputs == [200]
    assert other.outputs[0].startswith(
        f'Get "{self_signed.base}/": tls: failed to verify certificate'
    )


@pytest.mark.parametrize("how", ["cancel", "js_timeout"])
def test_a_request_in_progress_stops_with_the_execution(js: Callable[..., JsRun], how: str) -> None:
    # The request runs on V8's thread, which the child's cancel signal does not reach: it
    # looks at the execution between slices of its waits. The robot waits 10 s after
    # $/cancel before signals, and a child gives a stuck V8 2 s before it answers anyway, so
    # an end within 2.5 s is the request stopping itself.
    source = """
        const http = require("http");
        http.get("BASE/slow?s=20", { timeout: "60s" });
        out("not reached");
        """
    until: dict[str, Any] = {"timeout": 1.0} if how == "cancel" else {"params": {"js_timeout": 1.0}}
    started = time.monotonic()
    run = js(source, cancel_grace=10.0, **until)
    assert time.monotonic() - started < 2.5
    assert run.result.error is not None and run.result.error.code == "timeout"
    assert run.outputs == []


def test_chuck_against_a_local_api(js: Callable[..., JsRun], server: WebServer) -> None:
    # Modelled on upstream's chuck plugin: GET a joke as JSON and say its value.
    run = js(
        """
        const { Robot, task } = require("gopherbot_v1")();
        const http = require("http");
        const bot = new Robot();
        try {
          const res = http.get("BASE/jokes/random", {
            headers: { Accept: "application/json" }, timeout: "10s" });
          bot.Say(res.ok && res.json ? res.json.value : "something broke");
        } catch (e) {
          bot.Say("I tried to fetch a Chuck Norris joke but something broke.");
        }
        task.Normal;
        """
    )
    assert [(method, args) for method, args, _ in run.calls] == [("Say", [JOKE])]


def test_a_proxy_carries_https_through_connect(js: Callable[..., JsRun], tmp_path: Path) -> None:
    certs = certificates(tmp_path / "pki")
    with web_server(tls=certs.server_context("api.example.test")) as tls:
        with connect_proxy(("127.0.0.1", tls.port)) as proxy:
            run = js(
                """
                const http = require("http");
                const r = http.get("https://api.example.test/jokes/random");
                out([r.statusCode, r.json.value, r.url]);
                """,
                limits={"proxy": proxy.url, "ca_file": str(certs.ca_file)},
            )
    assert run.outputs == [[200, JOKE, "https://api.example.test/jokes/random"]]
    assert proxy.connects == ["api.example.test:443"]
    assert tls.requests[-1].headers["Host"] == "api.example.test"


def test_the_client_is_imported_only_by_a_request() -> None:
    probe = (
        "import sys, burrow.child.main, burrow_js.runtime;"
        "print(sorted({'burrow.child.http_client', 'burrow_js.http', 'http.client', 'ssl',"
        " 'email'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr
