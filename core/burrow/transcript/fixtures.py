"""What a suite needs around the robot: environment variables, Gopherbot's test HTTP server.

Gopherbot's `before_start: test_http_server` serves a few JSON endpoints on loopback and puts
their address in `GBOT_TEST_HTTP_BASEURL`, which its test robots read into a plugin's
configuration. `http_server` serves the same endpoints, answering as Gopherbot's does
(https://github.com/lnxjedi/gopherbot/blob/main/integration/suites/http_server.go):

    GET  /json/get    {"method": "GET"}
    POST /json/post   {"method": "POST", "value": <the request's JSON "value" if a string>}
    PUT  /json/put    {"method": "PUT", "value": ...}
    GET  /json/error  status 500, {"error": "boom"}
    GET  /json/slow   after 200 ms, {"method": "GET", "value": "slow"}

Any other method on these paths is answered 405 with an empty body; other paths 404.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["environment", "http_server"]


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration, then restore what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_ROUTES = {
    "/json/get": "GET",
    "/json/post": "POST",
    "/json/put": "PUT",
    "/json/error": "GET",
    "/json/slow": "GET",
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "burrow-transcript"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test fixture's requests are not the transcript's output

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        wanted = _ROUTES.get(self.path)
        if wanted is None:
            self._answer(404, None)
        elif method != wanted:
            self._answer(405, None)
        elif self.path == "/json/error":
            self._answer(500, {"error": "boom"})
        elif self.path == "/json/slow":
            time.sleep(0.2)
            self._answer(200, {"method": method, "value": "slow"})
        elif method == "GET":
            self._answer(200, {"method": method})
        else:
            self._answer(200, {"method": method, "value": self._value()})

    def _value(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length)) if length else None
        except ValueError:
            return ""
        value = payload.get("value") if isinstance(payload, dict) else None
        return value if isinstance(value, str) else ""

    def _answer(self, status: int, payload: dict[str, str] | None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def http_server() -> Iterator[str]:
    """Serve Gopherbot's test endpoints on loopback; yield the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="transcript-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
