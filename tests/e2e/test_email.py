"""Email, EmailUser and EmailAddress, sent by a real robot to a real SMTP server on loopback.

The server is aiosmtpd's; each test reads the messages it received and checks their envelope
and headers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

import pytest

from burrow.brain import SecretBox, generate_key
from mail_support import Inbox, free_port, outside_address, smtp_server
from support import run

PLUGIN = r"""
config: |
  Commands:
    - {Command: mail, Regex: 'mail (\w+) ?(.*)'}
commands:
  mail:
    - {call: "=[args[1]] + eval(args[2] or '[]')", as: r}
    - [Say, "{r}"]
"""


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as inbox:
        yield inbox, inbox.port


def _robot(harness, mail: str) -> None:
    if mail:
        harness.robot_yaml += f"MailConfig: {mail}\n"
    harness.extension("plugin", "mailer", PLUGIN, conf="AllowedPrivateCommands: [mail]\n")


def _ask(harness, *commands: tuple[str, str]) -> list[dict[str, Any]]:
    async def main():
        await harness.start()
        try:
            return [
                ast.literal_eval((await harness.texts(user, text))[0]) for user, text in commands
            ]
        finally:
            await harness.stop()

    return run(main())


def _log(harness) -> str:
    return "\n".join(p.read_text() for p in (harness.root / "state" / "logs").glob("*.log"))


def test_email_reaches_the_sender_a_user_and_an_address_with_the_right_headers(
    harness, smtp
) -> None:
    inbox, port = smtp
    _robot(harness, f"{{Mailhost: '127.0.0.1:{port}'}}")

    answers = _ask(
        harness,
        ("bob", ";mail Email ['Status', 'All systems go.']"),
        ("bob", ";mail EmailUser ['alice', 'Report', '<p>Done</p>', True]"),
        ("bob", ";mail EmailAddress ['carol@example.org', 'Héllo', 'Grüße\\nzwei Zeilen']"),
        ("bob", ";mail EmailAddress ['alice', 'By name', 'x']"),
    )

    assert answers == [{"ret_val": 0}] * 4
    [(env1, to1, m1), (_, to2, m2), (_, to3, m3), (_, to4, _)] = inbox.received
    assert env1 == "burrow@example.com"
    assert (to1, to2, to3, to4) == (
        ["bob@example.com"],
        ["alice@example.com"],
        ["carol@example.org"],
        ["alice@example.com"],  # an address without @ is a user name
    )
    assert m1["From"] == "Burrow Robot <burrow@example.com>"
    assert m1["To"] == "bob@example.com"
    assert m1["Subject"] == "Status"
    assert m1["Date"] and m1["Message-ID"].endswith("@example.com>")
    assert m1.get_content_type() == "text/plain"
    assert m1.get_content().strip() == "All systems go."
    assert m2.get_content_type() == "text/html" and m2.get_content().strip() == "<p>Done</p>"
    assert m3["Subject"] == "Héllo"
    assert m3.get_content().splitlines() == ["Grüße", "zwei Zeilen"]


def test_missing_addresses_are_the_upstream_retvals(harness, smtp) -> None:
    inbox, port = smtp
    harness.robot_yaml = harness.robot_yaml.replace(
        "DefaultChannels:", "  - {UserName: dave, UserID: U004}\nDefaultChannels:"
    )
    _robot(harness, f"{{Mailhost: '127.0.0.1:{port}'}}")

    answers = _ask(
        harness,
        ("dave", ";mail Email ['s', 'b']"),  # dave has no address
        ("bob", ";mail EmailUser ['zed', 's', 'b']"),
        ("bob", ";mail EmailAddress ['zed', 's', 'b']"),
        ("bob", ";mail EmailAddress ['bob@example.com', 'two\\nlines', 'b']"),
    )

    assert answers == [
        {"ret_val": 20},  # NoUserEmail
        {"ret_val": 20},
        {"ret_val": 3},  # AttributeNotFound
        {"ret_val": 22},  # MailError: a header cannot hold a line break
    ]
    assert inbox.received == []


def test_a_robot_without_an_address_cannot_send(harness, smtp) -> None:
    inbox, port = smtp
    harness.robot_yaml = harness.robot_yaml.replace(", Email: burrow@example.com", "")
    _robot(harness, f"{{Mailhost: '127.0.0.1:{port}'}}")

    assert _ask(harness, ("bob", ";mail Email ['s', 'b']")) == [{"ret_val": 21}]  # NoBotEmail
    assert inbox.received == []
    assert "the robot has no email address (BotInfo.Email in robot.yaml)" in _log(harness)


def test_without_a_mail_transport_email_is_a_mail_error_with_a_log_line(harness) -> None:
    _robot(harness, "")

    assert _ask(harness, ("bob", ";mail Email ['s', 'b']")) == [{"ret_val": 22}]
    assert "Email: no mail transport: set MailConfig.Mailhost in robot.yaml" in _log(harness)


def test_a_server_that_is_not_there_is_a_mail_error(harness) -> None:
    _robot(harness, f"{{Mailhost: '127.0.0.1:{free_port()}'}}")

    assert _ask(harness, ("bob", ";mail EmailUser ['alice', 's', 'b']")) == [{"ret_val": 22}]
    assert "EmailUser: sending through 127.0.0.1:" in _log(harness)


def test_plain_authentication_with_an_encrypted_password(harness, smtp, monkeypatch) -> None:
    inbox, port = smtp
    key = generate_key()
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", key)
    secret = SecretBox([key]).encrypt_secret("s3cret")
    _robot(
        harness,
        f"{{Mailhost: '127.0.0.1:{port}', Authtype: plain, User: robot, Password: 'encrypted:{secret}'}}",
    )

    assert _ask(harness, ("bob", ";mail Email ['s', 'b']")) == [{"ret_val": 0}]
    assert inbox.logins == ["robot"] and len(inbox.received) == 1


def test_a_wrong_password_is_a_mail_error(harness, smtp) -> None:
    inbox, port = smtp
    _robot(
        harness, f"{{Mailhost: '127.0.0.1:{port}', Authtype: plain, User: robot, Password: nope}}"
    )

    assert _ask(harness, ("bob", ";mail Email ['s', 'b']")) == [{"ret_val": 22}]
    assert inbox.received == [] and "535" in _log(harness)


def test_a_password_never_goes_unencrypted_to_a_server_off_this_machine(harness) -> None:
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    with smtp_server(address) as inbox:  # offers no STARTTLS
        _robot(
            harness,
            f"{{Mailhost: '{address}:{inbox.port}', Authtype: plain, User: robot, Password: s3cret}}",
        )

        assert _ask(harness, ("bob", ";mail Email ['s', 'b']")) == [{"ret_val": 22}]
    assert inbox.logins == [] and inbox.received == []
    assert "offers no STARTTLS: refusing to send the password unencrypted" in _log(harness)


@pytest.mark.parametrize(
    ("mail", "problem"),
    [
        (
            "{Mailhost: 'smtp.example.com:99999'}",
            "MailConfig.Mailhost: '99999' is not a port number",
        ),
        (
            "{Mailhost: smtp.example.com, Authtype: login}",
            "MailConfig.Authtype: unknown Authtype 'login'",
        ),
        (
            "{Mailhost: smtp.example.com, Authtype: plain}",
            "MailConfig: Authtype plain needs a User",
        ),
        ("{User: robot}", "MailConfig: MailConfig has no Mailhost"),
        ("{Mailhost: smtp.example.com, Port: 25}", "MailConfig.Port: unknown key"),
    ],
)
def test_broken_mail_config_is_a_configuration_error(harness, mail, problem) -> None:
    harness.robot_yaml += f"MailConfig: {mail}\n"
    error = harness.load_error()
    assert f"conf/robot.yaml:{harness.last_line}" in error
    assert problem in error
