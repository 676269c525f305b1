"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives.

It speaks STARTTLS (port 587 style) or implicit TLS (465 style) with a throwaway `trustme`
CA, or plain SMTP, and optionally requires AUTH LOGIN/PLAIN with one user and password. Tests
point `SSL_CERT_FILE` at `ca_file` so that qmon's ordinary certificate checks pass.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: str | None = None  # an SMTP reply to answer every DATA with

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return self.refuse
        login = session.auth_data.login.decode() if session.auth_data else None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, login)
        )
        return "250 OK"


class SmtpServer:
    """`with SmtpServer(tmp_path, security="starttls", user="qmon", password="pw") as smtp:`

    `go_down()` and `come_back()` simulate an outage (connections refused) on the same port."""

    def __init__(
        self,
        folder: Path,
        *,
        security: Literal["starttls", "ssl", "none"] = "starttls",
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.security = security
        self.port = _free_port()
        self.handler = _Handler()
        ca = trustme.CA()
        self.ca_file = folder / "smtp-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_tls)
        kwargs: dict[str, Any] = {}
        if security == "starttls":
            kwargs.update(tls_context=server_tls, require_starttls=True)
        if user is not None:

            def check(_server: Any, _session: Any, _envelope: Any, _mechanism: str,
                      data: Any) -> AuthResult:  # fmt: skip
                ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                    user.encode(), (password or "").encode())  # fmt: skip
                return AuthResult(success=ok, handled=False, auth_data=data)

            # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS from the first byte.
            kwargs.update(authenticator=check, auth_required=True,
                          auth_require_tls=security == "starttls")  # fmt: skip
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        kwargs.update(ssl_context=server_tls if security == "ssl" else None)
        self._kwargs = kwargs
        self._controller: Controller | None = self._new_controller()

    def _new_controller(self) -> Controller:
        return Controller(self.handler, hostname="127.0.0.1", port=self.port, **self._kwargs)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def __enter__(self) -> SmtpServer:
        if self._controller is None:
            self._controller = self._new_controller()
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()

    def go_down(self) -> None:
        """Stop listening (a client's connect is refused) until `come_back`; what was
        received is kept."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def come_back(self) -> None:
        """Listen again on the same port, with the same handler (an aiosmtpd `Controller`
        cannot be started twice, so it is a new one)."""
        if self._controller is None:
            self._controller = self._new_controller()
            self._controller.start()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
