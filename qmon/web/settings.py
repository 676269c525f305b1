"""What `qmon serve` runs with: the `serve:` section resolved, its secrets read.

The spec (`qmon.config.serve_spec`) says where each secret is; this module reads it, once,
at start-up: from the file the section names, else from the environment. A secret is held
as `SecretStr` until the one place it is used (signing cookies, the token request, checking
a card's signature), so no `repr`, error or log line shows it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from qmon.config import QmonConfig
from qmon.config.serve_spec import ServeSpec
from qmon.errors import InputError, Problem
from qmon.safeio import read_secret_file

log = logging.getLogger("qmon.web")

SESSION_SECRET_ENV = "QMON_SESSION_SECRET"
OIDC_SECRET_ENV = "QMON_OIDC_CLIENT_SECRET"
HUBSPOT_SECRET_ENV = "QMON_HUBSPOT_CLIENT_SECRET"
SALESFORCE_SECRET_ENV = "QMON_SALESFORCE_CARD_SECRET"
#: A session secret shorter than this can be guessed offline from one signed cookie.
MIN_SESSION_SECRET = 32


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    client_secret: SecretStr
    allowed_domains: tuple[str, ...]
    allowed_groups: tuple[str, ...]
    group_claim: str
    scopes: tuple[str, ...]
    require_verified_email: bool
    label: str | None


@dataclass(frozen=True)
class WebSettings:
    """`serve:` as the web app uses it; durations in seconds."""

    host: str
    port: int
    workers: int
    public_url: str | None
    language: str
    users: Mapping[str, SecretStr]  # name -> argon2 hash
    session_secret: SecretStr
    session_secret_generated: bool
    session_lifetime_s: int
    session_idle_s: int
    trusted_proxies: tuple[str, ...]
    login_failures: int
    login_window_s: int
    oidc: OidcSettings | None = None
    hubspot_secret: SecretStr | None = None
    salesforce_secret: SecretStr | None = None
    #: the values that must never be shown (for the tests and the log guard)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def https(self) -> bool:
        """Whether the dashboard is reached over https from outside (Secure cookies always)."""
        return bool(self.public_url and self.public_url.startswith("https://"))


class _Reader:
    """Reads each secret of the section, collecting every problem at once."""

    def __init__(self, config: QmonConfig, environ: Mapping[str, str]) -> None:
        self.folder = config.path.parent
        self.where = str(config.path)
        self.environ = environ
        self.problems: list[Problem] = []

    def secret(self, key: str, path: str | None, env: str) -> SecretStr | None:
        """The secret in the file `path` (relative to the config's folder), else in `env`;
        None when neither is given. The message never quotes a secret."""
        if path is not None:
            full = Path(path).expanduser()
            full = full if full.is_absolute() else self.folder / full
            try:
                value = read_secret_file(full)
            except OSError as exc:
                self.problem(f"{key}: cannot read {full}: {exc.strerror}")
                return None
            if not value:
                self.problem(f"{key}: {full} is empty")
                return None
            return SecretStr(value)
        value = self.environ.get(env, "").strip()
        return SecretStr(value) if value else None

    def problem(self, message: str) -> None:
        self.problems.append(Problem(self.where, None, f"serve.{message}"))


def load_settings(config: QmonConfig, environ: Mapping[str, str] | None = None) -> WebSettings:
    """The settings of `qmon serve`, with every secret read.

    Raises:
        InputError: a secret file cannot be read or is empty, the session secret is too
            short, or no one could sign in (no `users` and no `oidc`); every problem at once.
    """
    environ = os.environ if environ is None else environ
    spec: ServeSpec = config.extra.get("serve") or ServeSpec()
    read = _Reader(config, environ)
    session = read.secret("session_secret_file", spec.session_secret_file, SESSION_SECRET_ENV)
    generated = session is None
    if session is not None and len(session.get_secret_value()) < MIN_SESSION_SECRET:
        source = "session_secret_file" if spec.session_secret_file else SESSION_SECRET_ENV
        read.problem(
            f"{source}: the session secret is shorter than {MIN_SESSION_SECRET} characters; "
            "make one with `openssl rand -base64 48`"
        )
    if session is None:
        session = SecretStr(secrets.token_urlsafe(48))
    oidc = None
    if spec.oidc is not None:
        client_secret = read.secret(
            "oidc.client_secret_file", spec.oidc.client_secret_file, OIDC_SECRET_ENV
        )
        if client_secret is None and not read.problems:
            read.problem(
                f"oidc needs the client secret: name 'client_secret_file' or set {OIDC_SECRET_ENV}"
            )
        o = spec.oidc
        oidc = OidcSettings(
            o.issuer, o.client_id, client_secret or SecretStr(""), tuple(o.allowed_domains),
            tuple(o.allowed_groups), o.group_claim, tuple(o.scopes), o.require_verified_email,
            o.label,
        )  # fmt: skip
    hubspot = read.secret(
        "hubspot_card.client_secret_file",
        spec.hubspot_card.client_secret_file if spec.hubspot_card else None,
        HUBSPOT_SECRET_ENV,
    )
    salesforce = read.secret(
        "salesforce_card.secret_file",
        spec.salesforce_card.secret_file if spec.salesforce_card else None,
        SALESFORCE_SECRET_ENV,
    )
    if not spec.users and spec.oidc is None:
        read.problem(
            "users: no one can sign in: add a user (`qmon serve hash-password` makes the "
            "hash) or single sign-on (`oidc:`); see docs/serve.md"
        )
    if read.problems:
        raise InputError(read.problems, summary="qmon serve cannot start:")
    users = {u.name: u.password_hash for u in spec.users}
    shown = [session, *(users.values()), hubspot, salesforce]
    if oidc is not None:
        shown.append(oidc.client_secret)
    return WebSettings(
        host=spec.host,
        port=spec.port,
        workers=spec.workers,
        public_url=spec.public_url,
        language=spec.language or config.language,
        users=users,
        session_secret=session,
        session_secret_generated=generated,
        session_lifetime_s=spec.session_lifetime // 1_000_000,
        session_idle_s=spec.session_idle // 1_000_000,
        trusted_proxies=tuple(spec.trusted_proxies),
        login_failures=spec.login_limit.failures,
        login_window_s=spec.login_limit.within // 1_000_000,
        oidc=oidc,
        hubspot_secret=hubspot,
        salesforce_secret=salesforce,
        secrets=tuple(s.get_secret_value() for s in shown if s is not None),
    )
