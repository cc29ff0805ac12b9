"""A real Synapse homeserver for the Matrix tests: generated configuration, SQLite, loopback.

`Synapse.start()` writes a configuration (no federation, no URL previews, no statistics, rate
limits raised so tests and benchmarks measure the robot and not the limiter), generates the
signing key, starts `python -m synapse.app.homeserver` and waits until the client API answers.
If the server cannot start, `SynapseError` carries the tail of its log. Users are registered
through the shared-secret admin registration API, as an operator would do it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "localhost"
START_TIMEOUT = 90.0


class SynapseError(RuntimeError):
    """The homeserver could not be started or refused a request."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str,
    url: str,
    body: Any = None,
    token: str = "",
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body) for 2xx and 4xx/5xx alike."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}")
        except ValueError:
            return error.code, {"raw": raw.decode(errors="replace")}


@dataclass
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str


class Synapse:
    """One homeserver in `folder`; start, stop and start again on the same port and database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret = secrets.token_hex(16)
        self.log_path = folder / "homeserver.log"
        self.config_path = folder / "homeserver.yaml"
        self.process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        generous = {"per_second": 10000, "burst_count": 10000}
        config = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.folder / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.folder / "homeserver.db")},
            },
            "media_store_path": str(self.folder / "media"),
            "signing_key_path": str(self.folder / "signing.key"),
            "registration_shared_secret": self.secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "enable_metrics": False,
            "url_preview_enabled": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "enable_registration": False,
            "rc_message": generous,
            "rc_registration": generous,
            "rc_joins": {"local": generous, "remote": generous},
            "rc_joins_per_room": generous,
            "rc_invites": {"per_room": generous, "per_user": generous, "per_issuer": generous},
            "rc_login": {
                "address": generous,
                "account": generous,
                "failed_attempts": generous,
            },
            "rc_admin_redaction": generous,
            "rc_3pid_validation": generous,
        }
        # JSON is YAML: no YAML writer needed.
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")

    def _command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path), *extra]

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        if not (self.folder / "signing.key").exists():
            generated = subprocess.run(
                self._command("--generate-keys"),
                cwd=self.folder,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if generated.returncode != 0:
                raise SynapseError(
                    f"synapse --generate-keys failed ({generated.returncode}):\n"
                    f"{generated.stdout}\n{generated.stderr}"
                )
        log = self.log_path.open("ab")
        env = dict(os.environ, SYNAPSE_ASYNC_IO_REACTOR="0")
        self.process = subprocess.Popen(
            self._command(),
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SynapseError(
                    f"synapse exited with {self.process.returncode} while starting; its log:\n"
                    + self.log_tail()
                )
            try:
                status, _ = http("GET", f"{self.url}/_matrix/client/versions", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise SynapseError(
            f"synapse did not answer within {START_TIMEOUT:.0f} s; its log:\n" + self.log_tail()
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def register(self, localpart: str, *, admin: bool = False) -> Account:
        """A new user, through the shared-secret registration API."""
        url = f"{self.url}/_synapse/admin/v1/register"
        status, got = http("GET", url)
        if status != 200:
            raise SynapseError(f"registration nonce: {status} {got}")
        nonce = got["nonce"]
        password = secrets.token_hex(8)
        digest = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        digest.update(
            b"\x00".join(
                p.encode() for p in (nonce, localpart, password, "admin" if admin else "notadmin")
            )
        )
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": digest.hexdigest(),
        }
        status, got = http("POST", url, body)
        if status != 200:
            raise SynapseError(f"registering {localpart}: {status} {got}")
        return Account(got["user_id"], password, got["access_token"], got["device_id"])

    def admin(self, method: str, path: str, token: str, body: Any = None) -> Any:
        status, got = http(method, f"{self.url}{path}", body, token)
        if status != 200:
            raise SynapseError(f"{method} {path}: {status} {got}")
        return got
