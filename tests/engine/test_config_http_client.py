"""`HTTPClient` in robot.yaml: the limits and routes of the extensions' `http` module.

The robot validates it at load (each mistake located, with how to fix it) and sends it to
every child in the execution request's `http_client`; the child reads it with
burrow.child.http_client.Limits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from burrow.child.http_client import Limits
from burrow.engine.config import ConfigError, load_robot
from burrow.engine.config.schema import HTTPClientConfig
from burrow.rpc.errors import RpcError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def load(tmp_path: Path, http_client: str) -> HTTPClientConfig:
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "robot.yaml").write_text(f"Alias: ';'\nHTTPClient: {http_client}\n")
    return load_robot(tmp_path, {}).config.http_client


def test_the_robots_defaults_are_the_childs() -> None:
    # A child run without http_client (a _configure run, a request from another parent) must
    # behave as one given the robot's defaults.
    defaults = HTTPClientConfig.model_validate({}).params()
    child = Limits()
    assert defaults == {
        "timeout": child.timeout,
        "max_body_size": child.max_body_size,
        "max_redirects": child.max_redirects,
        "proxy": child.proxy,
        "no_proxy": list(child.no_proxy),
        "ca_file": child.ca_file,
    }
    assert (defaults["timeout"], defaults["max_body_size"], defaults["max_redirects"]) == (
        30.0,
        8 * 1024 * 1024,
        5,
    )


def test_a_full_http_client_section_reaches_the_child_as_it_reads_it(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    config = load(
        tmp_path,
        f"{{Timeout: 1m30s, MaxBodySize: 512KiB, MaxRedirects: 0, "
        f"Proxy: 'http://u:p@proxy.corp:3128', NoProxy: [.corp, 10.0.0.0/8], CAFile: '{ca}'}}",
    )
    params = config.params()
    assert params == {
        "timeout": 90.0,
        "max_body_size": 512 * 1024,
        "max_redirects": 0,
        "proxy": "http://u:p@proxy.corp:3128",
        "no_proxy": [".corp", "10.0.0.0/8"],
        "ca_file": str(ca),
    }
    limits = Limits.from_params(params)
    assert (limits.timeout, limits.max_body_size, limits.no_proxy) == (
        90.0,
        524288,
        (".corp", "10.0.0.0/8"),
    )
    # 0 turns the timeout and the body limit off.
    assert load(tmp_path, "{Timeout: 0, MaxBodySize: 0}").params()["timeout"] == 0.0


@pytest.mark.parametrize(
    ("section", "key", "message", "hint"),
    [
        ("{Timeout: soon}", "HTTPClient.Timeout", "invalid duration 'soon'", "Go duration"),
        ("{MaxBodySize: 8 parsecs}", "HTTPClient.MaxBodySize", "unknown size unit", "'8MiB'"),
        ("{MaxBodySize: -1}", "HTTPClient.MaxBodySize", "expected a size", "'8MiB'"),
        ("{MaxRedirects: 1000}", "HTTPClient.MaxRedirects", "from 0 to 100", "redirects"),
        ("{Proxy: 'socks5://x:1080'}", "HTTPClient.Proxy", "not an http:// proxy", "host:port"),
        ("{Proxy: 'http://x:99999'}", "HTTPClient.Proxy", "invalid port", "host:port"),
        ("{CAFile: certs/ca.pem}", "HTTPClient.CAFile", "absolute path", "PEM file"),
        ("{Retries: 3}", "HTTPClient.Retries", "unknown key", "spelling"),
    ],
)
def test_mistakes_are_located_with_how_to_fix_them(
    tmp_path: Path, section: str, key: str, message: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, section)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.key) == ("conf/robot.yaml", 2, key)
    assert message in problem.message
    assert hint in problem.hint


def test_a_malformed_request_param_is_refused_by_the_child() -> None:
    for bad in ("30s", {"timeout": -1}, {"max_redirects": True}, {"no_proxy": "a"}):
        with pytest.raises(RpcError) as caught:
            Limits.from_params(bad)
        assert caught.value.code == "invalid_params"
        assert caught.value.message.startswith("http_client: ")


def test_every_key_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    keys = ["HTTPClient"] + [f.alias for f in HTTPClientConfig.model_fields.values()]
    assert [key for key in keys if f"`{key}`" not in text] == []
