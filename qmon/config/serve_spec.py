"""`serve:`: the dashboard and the CRM cards (`qmon serve`, docs/serve.md).

`public_url` is where the dashboard is reached from outside, for the links qmon puts in
Slack alerts, the weekly report and the CRM's `qmon_link` field. The rest is read only by
`qmon serve`::

    serve:
      host: 127.0.0.1
      port: 8400
      workers: 2                                         # processes (default 1)
      public_url: https://qmon.example.com
      session_secret_file: /run/secrets/qmon-session     # or QMON_SESSION_SECRET
      users:
        - {name: anna, password_hash: "$argon2id$v=19$m=65536,t=3,p=4$..."}
      oidc:
        issuer: https://login.example.com
        client_id: qmon
        client_secret_file: /run/secrets/qmon-oidc       # or QMON_OIDC_CLIENT_SECRET
        allowed_domains: [example.com]
      hubspot_card: {client_secret_file: /run/secrets/hubspot-app}
      salesforce_card: {secret_file: /run/secrets/qmon-card}

Secrets never stand in this file: each comes from a file named here or from the
environment. A password hash is not a secret in that sense, but it is kept out of every
page, message and log line all the same (`SecretStr`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, SecretStr, model_validator

from qmon.config.fields import Duration, Strict, _non_blank
from qmon.urls import outbound_url


def _public_url(value: str) -> str:
    """An http(s) URL without spaces, query or fragment; no secret goes there, so plain http
    on an intranet host is allowed."""
    text = value.strip()
    parts = urlsplit(text) if text.isprintable() and " " not in text else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{text}' is not a URL like https://qmon.example.com")
    if parts.query or parts.fragment:
        raise ValueError(f"'{text}' must not have a query or fragment")
    return text.rstrip("/")


#: argon2-cffi's encoded hash (PHC string format), as `qmon serve hash-password` prints it.
_ARGON2 = re.compile(
    r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}"
)
_USER_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,80}")
_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})+")
#: 1 minute to 30 days: shorter ends a session while it is used, longer is no session.
_MINUTE_US, _MONTH_US = 60_000_000, 30 * 86_400_000_000


def _password_hash(value: SecretStr) -> SecretStr:
    """An argon2 hash; the message never quotes it."""
    if not _ARGON2.fullmatch(value.get_secret_value().strip()):
        raise ValueError(
            "'password_hash' is not an argon2 hash; make one with `qmon serve hash-password`"
        )
    return SecretStr(value.get_secret_value().strip())


def _user_name(value: str) -> str:
    if not _USER_NAME.fullmatch(value):
        raise ValueError(f"user name {value.strip()!r} must be 1 to 80 characters without spaces")
    return value


def _issuer(value: str) -> str:
    outbound_url(value, "issuer", "https://login.example.com")
    return value.strip().rstrip("/")


def _domain(value: str) -> str:
    text = value.strip().lower().removeprefix("@")
    if not _DOMAIN.fullmatch(text):
        raise ValueError(f"{value!r} is not an e-mail domain like example.com")
    return text


def _network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or network like 10.0.0.5 or 10.0.0.0/24"
        ) from None


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"port {value} is not between 1 and 65535")
    return value


def _session_time(value: int) -> int:
    if not _MINUTE_US <= value <= _MONTH_US:
        raise ValueError("a session time must be between 1 minute and 30 days")
    return value


SessionTime = Annotated[Duration, AfterValidator(_session_time)]


class ServeUser(Strict):
    """`serve.users[]`: a local user, with the hash `qmon serve hash-password` prints."""

    name: Annotated[str, AfterValidator(_user_name)]
    password_hash: Annotated[SecretStr, AfterValidator(_password_hash)]


class OidcSpec(Strict):
    """`serve.oidc`: single sign-on with an OpenID Connect provider (authorization code flow
    with PKCE). Who may sign in is said by e-mail domain, by group, or both (either admits)."""

    issuer: Annotated[str, AfterValidator(_issuer)]
    client_id: Annotated[str, _non_blank("'client_id'")]
    client_secret_file: str | None = None  # else QMON_OIDC_CLIENT_SECRET
    allowed_domains: list[Annotated[str, AfterValidator(_domain)]] = []
    allowed_groups: list[Annotated[str, _non_blank("a group")]] = []
    group_claim: Annotated[str, _non_blank("'group_claim'")] = "groups"
    scopes: list[Annotated[str, _non_blank("a scope")]] = ["openid", "email", "profile"]
    #: an e-mail admits by its domain only if the provider says it is verified
    require_verified_email: bool = True
    #: the sign-in button's words, e.g. "Microsoft" (default: "single sign-on")
    label: str | None = None

    @model_validator(mode="after")
    def _admits_someone(self) -> OidcSpec:
        if not self.allowed_domains and not self.allowed_groups:
            raise ValueError(
                "oidc needs 'allowed_domains' or 'allowed_groups' (or both): without them "
                "anyone with an account at the issuer could sign in"
            )
        if "openid" not in self.scopes:
            raise ValueError("oidc 'scopes' must include 'openid'")
        return self


class LoginLimitSpec(Strict):
    """`serve.login_limit`: failed sign-ins allowed per user and per client address."""

    failures: Annotated[int, Field(ge=1, le=1000)] = 5
    within: SessionTime = 15 * _MINUTE_US


class HubSpotCardSpec(Strict):
    """`serve.hubspot_card`: the HubSpot app's client secret, which signs its requests."""

    client_secret_file: str | None = None  # else QMON_HUBSPOT_CLIENT_SECRET


class SalesforceCardSpec(Strict):
    """`serve.salesforce_card`: the secret the Salesforce card's Apex signs requests with."""

    secret_file: str | None = None  # else QMON_SALESFORCE_CARD_SECRET


class ServeSpec(Strict):
    """`serve`: how the dashboard is served and reached."""

    public_url: Annotated[str, AfterValidator(_public_url)] | None = None
    host: Annotated[str, _non_blank("'host'")] = "127.0.0.1"
    port: Annotated[int, AfterValidator(_port)] = 8400
    #: server processes on the one socket (`qmon serve --workers`); about one per core
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    users: list[ServeUser] = []
    session_secret_file: str | None = None  # else QMON_SESSION_SECRET, else one per process
    session_lifetime: SessionTime = 12 * 60 * _MINUTE_US
    session_idle: SessionTime = 2 * 60 * _MINUTE_US
    #: proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (none by default)
    trusted_proxies: list[Annotated[str, AfterValidator(_network)]] = []
    login_limit: LoginLimitSpec = LoginLimitSpec()
    language: Literal["nl", "en"] | None = None  # default: qmon's `language`
    oidc: OidcSpec | None = None
    hubspot_card: HubSpotCardSpec | None = None
    salesforce_card: SalesforceCardSpec | None = None

    @model_validator(mode="after")
    def _distinct_users(self) -> ServeSpec:
        seen: set[str] = set()
        for user in self.users:
            if user.name.casefold() in seen:
                raise ValueError(f"user {user.name!r} is named twice in 'users'")
            seen.add(user.name.casefold())
        return self
