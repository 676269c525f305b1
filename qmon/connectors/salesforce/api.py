"""Salesforce's API as qmon uses it: OAuth login, SOQL pages, describe; retried and counted.

Logging in is done here, not by simple-salesforce: its login helpers build their URLs from a
fixed `*.salesforce.com` domain, while orgs log in at My Domain URLs, sandboxes at
test.salesforce.com, and tests at a local server. qmon asks the configured `login_url` for a
token (JWT bearer, client credentials or username-password flow, or uses a given session id)
and hands `instance_url` and the token to simple-salesforce, which then does the REST calls.

Every call reads `Sforce-Limit-Info`; the sync stops between pages once it used its
`api_quota_share` of the org's daily requests. An expired session logs in once more and the
call is repeated; `REQUEST_LIMIT_EXCEEDED` ends the sync; 5xx and connection errors are
retried with backoff. Messages never contain tokens, keys or passwords.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from qmon.connectors.base import SourceAuthError, SourceLimitReached, SourceUnreachable, SyncError
from qmon.connectors.salesforce.spec import SalesforceSourceSpec

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def soql_string(value: str) -> str:
    """A SOQL string literal: quoted, with every character SOQL treats specially escaped.

    User text (stage names, statuses) goes into queries only through this, so it can never
    end the literal and change the query.
    """
    escaped = (
        value.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
        .replace("\b", "\\b")
        .replace("\f", "\\f")
    )
    return f"'{escaped}'"


class SalesforceApi:
    """A logged-in org: SOQL pages and describes, with usage accounting."""

    def __init__(
        self, spec: SalesforceSourceSpec, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._spec = spec
        self._sleep = sleep
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy variables reroute a CRM's data
        if spec.ca_bundle is not None:
            self._session.verify = str(spec.ca_bundle)
        self.calls = 0
        self.used_at_start: int | None = None
        self.used: int | None = None
        self.limit: int | None = None
        self._sf: Any = None
        self._connect(relogin=False)

    # -- login -------------------------------------------------------------------------------

    def _connect(self, *, relogin: bool) -> None:
        from simple_salesforce import Salesforce

        auth = self._spec.auth
        if auth.method == "session":
            if relogin:
                raise SourceAuthError(
                    "the Salesforce session expired; a session id cannot be renewed by qmon: "
                    "use auth method jwt, client_credentials or password for unattended syncs"
                )
            instance_url, token = self._spec.instance_url, self._secret("session_id")
        else:
            instance_url, token = self._token()
        self._sf = Salesforce(
            instance_url=instance_url,
            session_id=token,
            session=self._session,
            version=self._spec.api_version,
        )

    def _token(self) -> tuple[str, str]:
        auth = self._spec.auth
        login_url = self._spec.login_url.rstrip("/")
        data: dict[str, str] = {}
        if auth.method == "jwt":
            import jwt

            try:
                key = auth.private_key_file.read_bytes()  # type: ignore[union-attr]
            except OSError as exc:
                raise SourceAuthError(
                    f"cannot read private_key_file {auth.private_key_file}: {exc.strerror}"
                ) from None
            claims = {
                "iss": self._secret("consumer_key"),
                "sub": auth.username,
                "aud": login_url,
                "exp": int(time.time()) + 180,
            }
            try:
                assertion = jwt.encode(claims, key, algorithm="RS256")
            except (ValueError, TypeError, jwt.exceptions.PyJWTError):
                raise SourceAuthError(
                    f"private_key_file {auth.private_key_file} is not an RSA private key (PEM)"
                ) from None
            data = {"grant_type": JWT_GRANT, "assertion": assertion}
        elif auth.method == "client_credentials":
            data = {
                "grant_type": "client_credentials",
                "client_id": self._secret("consumer_key"),
                "client_secret": self._secret("consumer_secret"),
            }
        else:  # password
            data = {
                "grant_type": "password",
                "client_id": self._secret("consumer_key"),
                "client_secret": self._secret("consumer_secret"),
                "username": auth.username or "",
                "password": self._secret("password") + (self._secret("security_token", "")),
            }
        url = f"{login_url}/services/oauth2/token"
        delay, failures = self._spec.backoff_seconds, 0
        while True:
            self.calls += 1
            try:
                answer = self._session.post(url, data=data, timeout=60)
                if answer.status_code < 500:
                    break
                reason = f"HTTP {answer.status_code}"
            except requests.RequestException as exc:
                reason = type(exc).__name__
            failures += 1
            if failures > self._spec.retries:
                raise SourceUnreachable(
                    f"cannot log in at {login_url} ({reason}), also after "
                    f"{self._spec.retries} retries; try again later"
                )
            self._sleep(delay)
            delay *= 2
        if answer.status_code != 200:
            try:
                error = answer.json()
                reason = f"{error['error']}: {error['error_description']}"
            except (ValueError, TypeError, KeyError):
                reason = f"HTTP {answer.status_code}"
            raise SourceAuthError(
                f"Salesforce refused the {auth.method} login at {login_url} ({reason}); "
                "check the connected app, the user and its permissions"
            )
        body = answer.json()
        return body["instance_url"], body["access_token"]

    def _secret(self, name: str, default: str | None = None) -> str:
        try:
            value = self._spec.auth.secret(name)
        except OSError as exc:
            raise SourceAuthError(f"cannot read the file for {name}: {exc.strerror}") from None
        if value is None:
            if default is not None:
                return default
            raise SourceAuthError(f"auth needs {name}")
        return value

    # -- calls -------------------------------------------------------------------------------

    def query_page(self, soql: str | None = None, next_url: str | None = None) -> dict[str, Any]:
        """One page of a queryAll (deleted rows included): the first, or the next by URL."""
        headers = {"Sforce-Query-Options": f"batchSize={self._spec.page_size}"}
        if next_url is not None:
            return self._call(
                "query more",
                lambda sf: sf.query_more(
                    next_url, identifier_is_url=True, include_deleted=True, headers=headers
                ),
            )
        return self._call("query", lambda sf: sf.query(soql, include_deleted=True, headers=headers))

    def query_live(self, soql: str) -> list[dict[str, Any]]:
        """Every row of a query (deleted rows left out), following `nextRecordsUrl`."""
        answer = self._call("query", lambda sf: sf.query(soql))
        rows = list(answer["records"])
        while not answer.get("done", True):
            url = answer["nextRecordsUrl"]
            answer = self._call(
                "query more", lambda sf, url=url: sf.query_more(url, identifier_is_url=True)
            )
            rows.extend(answer["records"])
        return rows

    def describe(self, sobject: str) -> dict[str, Any]:
        return self._call(f"describe {sobject}", lambda sf: getattr(sf, sobject).describe())

    def over_quota(self) -> bool:
        """This sync used its share of the org's daily API requests."""
        share = self._spec.api_quota_share
        if share is None or self.limit is None or self.used is None:
            return False
        start = self.used_at_start if self.used_at_start is not None else self.used
        return self.used - start >= share * self.limit

    def _call(self, what: str, send: Callable[[Any], Any]) -> Any:
        from simple_salesforce.exceptions import (
            SalesforceExpiredSession,
            SalesforceGeneralError,
            SalesforceMalformedRequest,
            SalesforceRefusedRequest,
            SalesforceResourceNotFound,
        )

        delay = self._spec.backoff_seconds
        failures = 0
        relogged = False
        while True:
            self.calls += 1
            try:
                answer = send(self._sf)
                self._note_usage()
                log.info("Salesforce %s ok", what)
                return answer
            except SalesforceExpiredSession:
                if relogged:
                    raise SourceAuthError(
                        f"Salesforce refused the new session too ({what}): check the "
                        "integration user's access"
                    ) from None
                log.info("Salesforce session expired; logging in again")
                relogged = True
                self._connect(relogin=True)
            except SalesforceRefusedRequest as exc:
                code = _error_code(exc.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise SourceLimitReached(
                        "Salesforce's daily API request limit is used up "
                        "(REQUEST_LIMIT_EXCEEDED); the sync stopped and resumes from here "
                        "when the limit allows"
                    ) from None
                raise SourceAuthError(
                    f"Salesforce refused {what} ({code}): {_error_message(exc.content)}"
                ) from None
            except (SalesforceMalformedRequest, SalesforceResourceNotFound) as exc:
                raise SyncError(
                    f"Salesforce rejected {what} ({_error_code(exc.content)}): "
                    f"{_error_message(exc.content)}"
                ) from None
            except (SalesforceGeneralError, requests.RequestException) as exc:
                failures += 1
                status = getattr(exc, "status", None) or type(exc).__name__
                if failures > self._spec.retries:
                    raise SourceUnreachable(
                        f"Salesforce did not answer {what} ({status}), also after "
                        f"{self._spec.retries} retries; try again later"
                    ) from None
                log.info("Salesforce %s failed (%s); retrying in %.1f s", what, status, delay)
                self._sleep(delay)
                delay *= 2

    def _note_usage(self) -> None:
        usage = self._sf.api_usage.get("api-usage")
        if usage is None:
            return
        self.used, self.limit = usage.used, usage.total
        if self.used_at_start is None:
            self.used_at_start = usage.used - 1  # the call that reported it counts too


def _error_code(content: Any) -> str:
    try:
        return str(content[0]["errorCode"])
    except (TypeError, KeyError, IndexError):
        return "UNKNOWN"


def _error_message(content: Any) -> str:
    try:
        return str(content[0]["message"])[:300]
    except (TypeError, KeyError, IndexError):
        return "no details"
