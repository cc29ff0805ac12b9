"""What `burrow transcript` sets up around the robot for Gopherbot's `before_start` hooks."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import pytest

from burrow.transcript.fixtures import environment, http_server


def call(url: str, method: str = "GET", body: object = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_http_server_answers_gopherbots_json_endpoints() -> None:
    with http_server() as base:
        assert base.startswith("http://127.0.0.1:")
        assert call(f"{base}/json/get") == (200, b'{"method": "GET"}\n')
        status, body = call(f"{base}/json/post", "POST", {"value": "alpha"})
        assert (status, json.loads(body)) == (200, {"method": "POST", "value": "alpha"})
        status, body = call(f"{base}/json/put", "PUT", {"value": 7})  # not a string: ""
        assert (status, json.loads(body)) == (200, {"method": "PUT", "value": ""})
        status, body = call(f"{base}/json/error")
        assert (status, json.loads(body)) == (500, {"error": "boom"})
        started = time.monotonic()
        status, body = call(f"{base}/json/slow")
        assert time.monotonic() - started >= 0.2
        assert (status, json.loads(body)) == (200, {"method": "GET", "value": "slow"})
        assert call(f"{base}/json/get", "POST", {}) == (405, b"")
        assert call(f"{base}/elsewhere")[0] == 404


def test_the_http_server_is_gone_afterwards() -> None:
    with http_server() as base:
        pass
    with pytest.raises(urllib.error.URLError):
        call(f"{base}/json/get")


def test_environment_is_set_for_the_run_and_restored() -> None:
    os.environ["BURROW_TEST_KEPT"] = "before"
    os.environ.pop("BURROW_TEST_NEW", None)
    try:
        with environment({"BURROW_TEST_KEPT": "during", "BURROW_TEST_NEW": "yes"}):
            assert os.environ["BURROW_TEST_KEPT"] == "during"
            assert os.environ["BURROW_TEST_NEW"] == "yes"
        assert os.environ["BURROW_TEST_KEPT"] == "before"
        assert "BURROW_TEST_NEW" not in os.environ
    finally:
        os.environ.pop("BURROW_TEST_KEPT", None)
