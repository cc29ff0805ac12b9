"""Email: Email (to the sender), EmailUser, EmailAddress, sent by the parent over SMTP.

As upstream (https://github.com/lnxjedi/gopherbot/blob/main/bot/email.go): the sender's or the
user's address comes from their `email` attribute (`NoUserEmail` without one), the robot's from
`BotInfo.Email` (`NoBotEmail` without one), and an address without `@` is taken as a user name
(`AttributeNotFound` when that user has no address). The message goes through robot.yaml's
`MailConfig` server with Python's smtplib, on a worker thread so the event loop never waits on
the network: STARTTLS when the server offers it (as Go's smtp.SendMail does), and `plain`
authentication only over TLS or to a loopback server (as Go's PlainAuth). Without a
`Mailhost`, or when sending fails, the answer is `MailError` and the task log says why.
"""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from burrow.constants import LogLevel, RetVal
from burrow.engine.config.schema import MailConfig
from burrow.robot_api.api import Result, TaskApi, robot_method

SMTP_TIMEOUT = 30.0  # seconds for each step of the conversation with the server


class MailFailure(Exception):
    """The message could not be sent; the text says why."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send_mail(config: MailConfig, password: str, message: EmailMessage) -> None:
    """Send `message` through the configured server (blocking); MailFailure when it fails."""
    host, port = config.server
    try:
        with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.ehlo()
            secure = False
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
                secure = True
            if config.authtype == "plain":
                if not secure and not _loopback(host):
                    raise MailFailure(
                        f"{config.mailhost} offers no STARTTLS: refusing to send the password "
                        "unencrypted (plain authentication needs TLS, or a loopback server)"
                    )
                smtp.login(config.user, password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise MailFailure(f"sending through {config.mailhost}: {error}") from None


def _message(sender: str, name: str, to: str, subject: str, body: str, html: bool) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(display_name=name, addr_spec=sender)
    message["To"] = Address(addr_spec=to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body, subtype="html" if html else "plain")
    return message


async def _email(api: TaskApi, method: str, to: str, subject: str, body: str, html: bool) -> Result:
    robot = api.robot
    sender = robot.bot_attribute("email") or ""
    if not sender:
        api.pipeline.log(
            LogLevel.Error,
            f"{method}: the robot has no email address (BotInfo.Email in robot.yaml)",
        )
        return {"ret_val": RetVal.NoBotEmail}
    if "@" not in to:
        address, ret = robot.user_attribute(api.pipeline.message.protocol, to, "email")
        if ret is not RetVal.Ok:
            api.pipeline.log(LogLevel.Error, f"{method}: no email address for user {to!r}")
            return {"ret_val": RetVal.AttributeNotFound}
        to = address
    config = robot.config.mail_config
    if not config.mailhost:
        api.pipeline.log(
            LogLevel.Error,
            f"{method}: no mail transport: set MailConfig.Mailhost in robot.yaml to send email",
        )
        return {"ret_val": RetVal.MailError}
    try:
        name = robot.bot_attribute("fullname") or robot.name
        message = _message(sender, name, to, subject, body, html)
    except (ValueError, IndexError) as error:  # a line break in the subject, a bad address
        api.pipeline.log(LogLevel.Error, f"{method}: cannot build the message to {to!r}: {error}")
        return {"ret_val": RetVal.MailError}
    password = robot.reveal(config.password, "MailConfig.Password") if config.password else ""
    try:
        await asyncio.to_thread(send_mail, config, password, message)
    except MailFailure as failure:
        api.pipeline.log(LogLevel.Error, f"{method}: {failure}")
        return {"ret_val": RetVal.MailError}
    api.pipeline.log(LogLevel.Info, f"{method}: sent {subject!r} to {to}")
    return {"ret_val": RetVal.Ok}


@robot_method("Email", str, str, bool, optional=1)
async def _to_sender(
    api: TaskApi, options: dict[str, Any], subject: str, body: str, html: bool = False
) -> Result:
    m = api.pipeline.message
    if not m.user:  # a pipeline that acts for nobody has no sender to write to
        return {"ret_val": RetVal.NoUserEmail}
    address, ret = api.robot.user_attribute(m.protocol, m.user, "email")
    if ret is not RetVal.Ok:
        return {"ret_val": RetVal.NoUserEmail}
    return await _email(api, "Email", address, subject, body, html)


@robot_method("EmailUser", str, str, str, bool, optional=1)
async def _to_user(
    api: TaskApi, options: dict[str, Any], user: str, subject: str, body: str, html: bool = False
) -> Result:
    address, ret = api.robot.user_attribute(api.pipeline.message.protocol, user, "email")
    if ret is not RetVal.Ok:
        return {"ret_val": RetVal.NoUserEmail}
    return await _email(api, "EmailUser", address, subject, body, html)


@robot_method("EmailAddress", str, str, str, bool, optional=1)
async def _to_address(
    api: TaskApi, options: dict[str, Any], address: str, subject: str, body: str, html: bool = False
) -> Result:
    return await _email(api, "EmailAddress", address, subject, body, html)
