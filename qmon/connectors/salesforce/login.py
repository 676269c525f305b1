"""Logging in to Salesforce: the OAuth token request of each auth method, and its secrets.

The methods are those of `SalesforceAuthSpec`: `jwt` (the JWT bearer flow, for unattended
syncs), `client_credentials`, `password` (the username-password flow) and `session` (a given
session id, which cannot be renewed); `SalesforceApi.login` calls `request_token` for all
but the last.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from qmon.connectors.base import SourceAuthError, SourceUnreachable
from qmon.connectors.salesforce.spec import SalesforceSourceSpec

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180
"""Salesforce accepts assertions that expire within three minutes."""


def jwt_audience(login_url: str) -> str:
    """The JWT `aud` Salesforce expects for a login at `login_url`.

    Salesforce names its login servers as audiences (https://login.salesforce.com, or
    https://test.salesforce.com for sandboxes), also when the token is asked for at a My Domain
    URL; any other login URL (an Experience Cloud site, a test server) is its own audience.
    """
    host = urlsplit(login_url).hostname or ""
    if host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith(".my.salesforce.com"):
        return "https://login.salesforce.com"
    return login_url.rstrip("/")


def request_token(
    spec: SalesforceSourceSpec, session: requests.Session, sleep: Callable[[float], None],
    redact: Callable[[str], str], tls_error: Callable[[str], Exception],
) -> tuple[str, str]:  # fmt: skip
    """Ask the login server for a token by the source's auth method (JWT bearer, client
    credentials, or the username-password flow): its instance URL and access token. 5xx and
    network failures are retried with backoff; a refusal says why and what to check."""
    auth = spec.auth
    login_url = spec.login_url
    if auth.method == "jwt":
        data = {"grant_type": JWT_GRANT, "assertion": assertion(spec)}
    elif auth.method == "client_credentials":
        data = {
            "grant_type": "client_credentials",
            "client_id": secret(spec, "consumer_key"),
            "client_secret": secret(spec, "consumer_secret"),
        }
    else:  # password: the OAuth username-password flow
        data = {
            "grant_type": "password",
            "client_id": secret(spec, "consumer_key"),
            "client_secret": secret(spec, "consumer_secret"),
            "username": auth.username or "",
            "password": secret(spec, "password") + secret(spec, "security_token", ""),
        }
    url = f"{login_url}/services/oauth2/token"
    delay, failures = spec.backoff_seconds, 0
    while True:
        try:
            answer = session.post(url, data=data, timeout=spec.timeout_seconds)
            if answer.status_code < 500:
                break
            reason = f"HTTP {answer.status_code}"
        except requests.exceptions.SSLError:
            raise tls_error(login_url) from None
        except requests.RequestException as exc:
            reason = type(exc).__name__
        failures += 1
        if failures > spec.retries:
            raise SourceUnreachable(
                f"cannot log in at {login_url} ({reason}), also after "
                f"{spec.retries} retries; try again later"
            )
        log.info("Salesforce login failed (%s); retrying in %.2f s", reason, delay)
        sleep(delay)
        delay *= 2
    if answer.status_code != 200:
        try:
            error = answer.json()
            reason = f"{error['error']}: {error['error_description']}"
        except (ValueError, TypeError, KeyError):
            reason = f"HTTP {answer.status_code}"
        raise SourceAuthError(
            redact(
                f"Salesforce refused the {auth.method} login at {login_url} ({reason}); "
                f"{_LOGIN_ADVICE[auth.method]}"
            )
        )
    body = answer.json()
    log.info("Salesforce login (%s) at %s ok", auth.method, login_url)
    return body["instance_url"], body["access_token"]

def assertion(spec: SalesforceSourceSpec) -> str:
    """The signed JWT of the JWT bearer flow (RS256, three minutes)."""
    import jwt

    auth = spec.auth
    where = "private_key_file" if auth.private_key_file is not None else "private_key"
    key = secret(spec, "private_key")
    claims = {
        "iss": secret(spec, "consumer_key"),
        "sub": auth.username,
        "aud": auth.audience or jwt_audience(spec.login_url),
        "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
    }
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.exceptions.PyJWTError):
        raise SourceAuthError(
            f"{where} is not an RSA private key in PEM format (-----BEGIN PRIVATE KEY-----)"
        ) from None

def secret(spec: SalesforceSourceSpec, name: str, default: str | None = None) -> str:
    """An auth secret, read from its value or its file; a missing one says which."""
    try:
        value = spec.auth.secret(name)
    except OSError as exc:
        path = getattr(spec.auth, f"{name}_file", None)
        raise SourceAuthError(f"cannot read {name}_file {path}: {exc.strerror}") from None
    if value is None:
        if default is not None:
            return default
        raise SourceAuthError(f"auth needs {name}")
    return value


_LOGIN_ADVICE = {
    "jwt": "check consumer_key and username, that the connected app has the certificate of "
    "this private key, and that the user is pre-authorized for the app (profile or "
    "permission set)",
    "client_credentials": "check consumer_key and consumer_secret, that the connected app "
    "enables the client credentials flow with a run-as user, and that login_url is your My "
    "Domain",
    "password": "check username, password and security_token, consumer_key and "
    "consumer_secret, and that the org allows the OAuth username-password flow",
    "session": "",
}
