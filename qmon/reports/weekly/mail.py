"""Sending the weekly report by e-mail over SMTP.

The message is what Outlook and Gmail both show well:

    multipart/alternative
    ├── text/plain                      the report in words
    └── multipart/related
        ├── text/html                   references its charts as cid:<name>
        └── image/png (inline) × n      one per chart, Content-ID <name>

Security is the config's `starttls` (port 587), `ssl` (465) or `none` (a relay on the
local network). A failure raises `MailError` with what the server said, never the password.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from qmon.config.spec import EmailSpec
from qmon.errors import QmonError
from qmon.exit_codes import ExitCode
from qmon.reports.weekly.render import RenderedReport
from qmon.safeio import read_secret_file


class MailError(QmonError):
    """The report could not be handed to the SMTP server; nothing was sent."""

    exit_code = ExitCode.SOURCE_FAILED


def build_message(report: RenderedReport, spec: EmailSpec) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = report.subject
    message["From"] = spec.sender
    message["To"] = ", ".join(spec.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=spec.sender.rpartition("@")[2])
    message.set_content(report.text)
    message.add_alternative(report.html("cid"), subtype="html")
    html_part = message.get_payload()[1]
    for chart in report.charts:
        html_part.add_related(chart.png, maintype="image", subtype="png", cid=f"<{chart.name}>",
                              disposition="inline", filename=f"{chart.name}.png")  # fmt: skip
    return message


def send(message: EmailMessage, spec: EmailSpec) -> None:
    """Hand the message to the configured SMTP server, or raise `MailError`.

    TLS verifies the server against the system's CAs and its host name; a private CA is
    added with the usual `SSL_CERT_FILE` environment variable.
    """
    smtp = spec.smtp
    timeout = smtp.timeout / 1e6
    context = ssl.create_default_context()
    where = f"{smtp.host}:{smtp.port}"
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout,
                                                    context=context)  # fmt: skip
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username is not None:
                client.login(smtp.username, _password(spec))
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"SMTP {where} refused the login of {smtp.username}: {exc.smtp_code}"
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(
            f"SMTP {where} does not offer STARTTLS; set security: ssl or none"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(
            f"SMTP {where} refused every recipient: {', '.join(exc.recipients)}"
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"SMTP {where} answered {exc.smtp_code}: {_said(exc.smtp_error)}") from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, TLS, DNS
        reason = "timed out" if isinstance(exc, socket.timeout) else type(exc).__name__
        raise MailError(f"SMTP {where} could not be reached: {reason} {exc}".strip()) from None
    if refused:
        raise MailError(f"SMTP {where} refused some recipients: {', '.join(refused)}")


def _password(spec: EmailSpec) -> str:
    smtp = spec.smtp
    if smtp.password is not None:
        return smtp.password.get_secret_value()
    if smtp.password_file is None:
        raise MailError("smtp has a username but neither 'password' nor 'password_file'")
    try:
        return read_secret_file(smtp.password_file)
    except OSError as exc:
        raise MailError(f"cannot read smtp password_file: {exc.strerror}") from None


def _said(error: bytes | str) -> str:
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
