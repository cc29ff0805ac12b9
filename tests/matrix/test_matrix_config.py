"""`ProtocolConfig.matrix`: every mistake named by its key, secrets never in clear."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from burrow_matrix.settings import MatrixConfigError, parse_settings
from matrix_client import Homeserver, Seen
from matrix_robot import Robot

from burrow.brain.secrets import SecretBox, generate_key

BASE = {"Homeserver": "https://matrix.example.org", "UserID": "@robot:example.org"}


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MATRIX_ACCESS_TOKEN", "MATRIX_PASSWORD", "BURROW_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("config", "key", "says"),
    [
        ({"UserID": "@robot:example.org"}, "ProtocolConfig.matrix.Homeserver", "required"),
        ({**BASE, "Homeserver": "matrix.example.org"}, "matrix.Homeserver", "not an http(s) URL"),
        ({**BASE, "UserID": "robot"}, "ProtocolConfig.matrix.UserID", "@robot:example.org"),
        ({**BASE, "AccessToken": "syt_abc"}, "ProtocolConfig.matrix.AccessToken", "in clear"),
        ({**BASE, "Password": "hunter2"}, "ProtocolConfig.matrix.Password", "in clear"),
        ({**BASE, "AccessTokenEnv": "NOT_SET_HERE"}, "matrix.AccessTokenEnv", "NOT_SET_HERE"),
        (BASE, "ProtocolConfig.matrix: no credentials", "MATRIX_ACCESS_TOKEN"),
        ({**BASE, "Rooms": "#general:example.org"}, "ProtocolConfig.matrix.Rooms", "a list"),
        ({**BASE, "Rooms": ["general"]}, "ProtocolConfig.matrix.Rooms[0]", "neither"),
        (
            {**BASE, "Rooms": ["#a:x", {"Room": "#b:x", "Name": "a"}]},
            "ProtocolConfig.matrix.Rooms[1]",
            "used by another room",
        ),
        ({**BASE, "CatchUp": "soon"}, "ProtocolConfig.matrix.CatchUp", "duration"),
        ({**BASE, "SendRetries": -1}, "ProtocolConfig.matrix.SendRetries", "0 to 100"),
        ({**BASE, "AcceptAnyRoom": "yes"}, "ProtocolConfig.matrix.AcceptAnyRoom", "true or false"),
        ({**BASE, "Romos": []}, "unknown key(s) Romos", "known: "),
    ],
)
def test_a_wrong_setting_is_named(
    config: dict[str, Any], key: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if (
        "AccessToken" not in config
        and "Password" not in config
        and key != ("ProtocolConfig.matrix: no credentials")
    ):
        monkeypatch.setenv("MATRIX_ACCESS_TOKEN", "syt_token")
    with pytest.raises(MatrixConfigError) as raised:
        parse_settings(config)
    assert key in str(raised.value)
    assert says in str(raised.value)


def test_secrets_come_from_the_environment_or_encrypted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATRIX_ACCESS_TOKEN", " syt_from_env \n")
    assert parse_settings(BASE).access_token == "syt_from_env"
    monkeypatch.setenv("ROBOT_PASS", "pw")
    monkeypatch.delenv("MATRIX_ACCESS_TOKEN")
    assert parse_settings({**BASE, "PasswordEnv": "ROBOT_PASS"}).password == "pw"
    key = generate_key()
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", key)
    sealed = SecretBox([key]).encrypt_secret("syt_sealed")
    assert parse_settings({**BASE, "AccessToken": f"encrypted:{sealed}"}).access_token == (
        "syt_sealed"
    )
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", generate_key())
    with pytest.raises(MatrixConfigError, match=r"matrix\.AccessToken: cannot be decrypted"):
        parse_settings({**BASE, "AccessToken": f"encrypted:{sealed}"})


def test_the_robot_refuses_to_start_on_a_wrong_setting_and_says_which(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    robot = make_robot(start=False, token_in_env=False, AccessToken="syt_in_clear")
    result = subprocess.run(
        [sys.executable, "-m", "burrow", "run", str(robot.folder), "--state", str(robot.state)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "BURROW_BINDINGS": ""},
    )
    assert result.returncode == 2
    assert "the robot cannot start" in result.stderr
    assert "ProtocolConfig.matrix.AccessToken" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_encrypted_password_logs_the_robot_in(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    account = homeserver.synapse.register("passbot")
    key = generate_key()
    sealed = SecretBox([key]).encrypt_secret(account.password)
    robot = make_robot(
        account,
        token_in_env=False,
        environ={"BURROW_ENCRYPTION_KEY": key},
        Password=f"encrypted:{sealed}",
    )
    alice, general = homeserver.alice, homeserver.general
    alice.sync()
    alice.send(general, ";ping")

    def mine(seen: Seen) -> bool:
        return seen.sender == account.user_id and seen.room_id == general

    assert [s.body for s in alice.wait_for(mine)] == ["alice: PONG"]
    robot.stop()


def test_refused_credentials_stop_the_robot_with_a_clear_error(
    homeserver: Homeserver, make_robot: Callable[..., Robot]
) -> None:
    other = homeserver.synapse.register("notthebot")
    for token, says in (
        ("syt_not_a_token", "M_UNKNOWN_TOKEN"),
        (other.access_token, "the access token belongs to @notthebot:localhost"),
    ):
        robot = make_robot(start=False, token_in_env=False, environ={"MATRIX_ACCESS_TOKEN": token})
        result = subprocess.run(
            [sys.executable, "-m", "burrow", "run", str(robot.folder), "--state", str(robot.state)],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "BURROW_BINDINGS": "", "MATRIX_ACCESS_TOKEN": token},
        )
        assert "cannot log in to" in result.stderr, result.stderr
        assert says in result.stderr
        assert "Traceback" not in result.stderr
        assert result.returncode == 1  # a robot that could not connect did not run
