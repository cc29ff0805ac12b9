"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the Email tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "robot", "s3cret"  # the one login the server accepts


class Inbox:
    """Handler of the aiosmtpd server: keeps every message and every successful login."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.logins: list[str] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        ):
            self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def outside_address() -> str | None:
    """This machine's IPv4 address on its default route (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("203.0.113.1", 9))  # TEST-NET-3; nothing is sent, a route is picked
            address = str(sock.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@contextmanager
def smtp_server(host: str = "127.0.0.1") -> Iterator[Inbox]:
    """Run an SMTP server on `host`, without TLS, accepting plain authentication."""
    inbox = Inbox()
    inbox.port = free_port(host)
    controller = Controller(
        inbox,
        hostname=host,
        port=inbox.port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,  # the robot itself decides when a password may go unencrypted
    )
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
