"""Salesforce's API as qmon uses it: OAuth login, SOQL pages, Bulk 2.0 query jobs, describe;
retried and counted.

Logging in is done here, not by simple-salesforce: its login helpers build their URLs from a
fixed `*.salesforce.com` domain, while orgs log in at My Domain URLs, sandboxes at
test.salesforce.com, and tests at a local server. qmon asks the configured `login_url` for a
token (JWT bearer, client credentials or username-password flow, or uses a given session id)
and hands `instance_url` and the token to simple-salesforce, which then does the REST calls.
The login happens at the first call, so `sources check` can report a refused login as a
finding.

Bulk API 2.0 query jobs are three documented calls (create, job info, results by locator)
made here on the same session: simple-salesforce's bulk2 handler cannot re-authenticate, does
not read `Sforce-Limit-Info` and retries nothing, and each of those matters for a sync.

Every answer's `Sforce-Limit-Info` is read by a hook on the HTTP session (REST, describe and
Bulk alike); the sync stops between pages once it made its `api_quota_share` of the org's
daily requests. An expired session logs in once more and the call is repeated;
`REQUEST_LIMIT_EXCEEDED` ends the sync; 5xx and connection errors are retried with backoff; a
TLS certificate that does not verify is reported at once (retrying cannot fix it). Messages
never contain tokens, keys or passwords.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from qmon.connectors.base import (
    PageTrail,
    SourceAuthError,
    SourceLimitReached,
    SourceUnreachable,
    SyncError,
)
from qmon.connectors.salesforce.spec import SalesforceSourceSpec

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180
"""Salesforce accepts assertions that expire within three minutes."""
BULK_MAX_WAIT_SECONDS = 3 * 3600
"""How long a sync waits for one Bulk 2.0 query job before giving up."""
BULK_MAX_POLL_SECONDS = 30.0
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


def soql_string(value: str) -> str:
    """A SOQL string literal: quoted, with every character SOQL treats specially escaped.

    Values go into queries only through this (record ids in `IN` lists), so none can end the
    literal and change the query.
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


class Rejected(SyncError):
    """Salesforce refused a call for what it asked (HTTP 400 or 404).

    Attributes:
        code: Salesforce's `errorCode` (`INVALID_FIELD`, `NOT_FOUND`...).
        detail: its message, without secrets.
        status: the HTTP status.
    """

    def __init__(self, message: str, code: str, detail: str, status: int) -> None:
        super().__init__(message)
        self.code, self.detail, self.status = code, detail, status


class BulkJobFailed(Exception):
    """A Bulk 2.0 query job ended Failed or Aborted (the caller reads with REST instead)."""


class SalesforceApi:
    """An org: SOQL pages, Bulk 2.0 jobs and describes, with usage accounting."""

    def __init__(
        self, spec: SalesforceSourceSpec, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._spec = spec
        self._sleep = sleep
        self._session = requests.Session()
        # No proxy or CA variables from the environment: they would silently override
        # `ca_bundle` (requests prefers REQUESTS_CA_BUNDLE) or reroute a CRM's data.
        self._session.trust_env = False
        if spec.ca_bundle is not None:
            self._session.verify = str(spec.ca_bundle)
        if spec.proxy is not None:
            proxy = spec.proxy.get_secret_value()
            self._session.proxies = {"https": proxy, "http": proxy}
        self._session.hooks["response"].append(self._on_response)
        self.calls = 0
        self.used: int | None = None
        self.limit: int | None = None
        self.logins = 0
        self._sf: Any = None
        self._token: str | None = None

    # -- login -------------------------------------------------------------------------------

    def login(self) -> None:
        """Log in (again): ask for a token, or take the configured session id."""
        from simple_salesforce import Salesforce

        auth = self._spec.auth
        if auth.method == "session":
            if self._sf is not None:
                raise SourceAuthError(
                    "Salesforce refused the session id (expired or revoked); a session id "
                    "cannot be renewed by qmon: give a fresh one, or use auth method jwt, "
                    "client_credentials or password for unattended syncs"
                )
            instance_url, token = self._spec.instance_url, self._secret("session_id")
        else:
            instance_url, token = self._request_token()
        self._token = token
        self.logins += 1
        self._sf = Salesforce(
            instance_url=instance_url,
            session_id=token,
            session=self._session,
            version=self._spec.api_version,
        )

    @property
    def sf(self) -> Any:
        """The simple-salesforce client, logged in at first use."""
        if self._sf is None:
            self.login()
        return self._sf

    def _request_token(self) -> tuple[str, str]:
        auth = self._spec.auth
        login_url = self._spec.login_url
        if auth.method == "jwt":
            data = {"grant_type": JWT_GRANT, "assertion": self._assertion()}
        elif auth.method == "client_credentials":
            data = {
                "grant_type": "client_credentials",
                "client_id": self._secret("consumer_key"),
                "client_secret": self._secret("consumer_secret"),
            }
        else:  # password: the OAuth username-password flow
            data = {
                "grant_type": "password",
                "client_id": self._secret("consumer_key"),
                "client_secret": self._secret("consumer_secret"),
                "username": auth.username or "",
                "password": self._secret("password") + self._secret("security_token", ""),
            }
        url = f"{login_url}/services/oauth2/token"
        delay, failures = self._spec.backoff_seconds, 0
        while True:
            try:
                answer = self._session.post(url, data=data, timeout=self._spec.timeout_seconds)
                if answer.status_code < 500:
                    break
                reason = f"HTTP {answer.status_code}"
            except requests.exceptions.SSLError:
                raise self._tls_error(login_url) from None
            except requests.RequestException as exc:
                reason = type(exc).__name__
            failures += 1
            if failures > self._spec.retries:
                raise SourceUnreachable(
                    f"cannot log in at {login_url} ({reason}), also after "
                    f"{self._spec.retries} retries; try again later"
                )
            log.info("Salesforce login failed (%s); retrying in %.2f s", reason, delay)
            self._sleep(delay)
            delay *= 2
        if answer.status_code != 200:
            try:
                error = answer.json()
                reason = f"{error['error']}: {error['error_description']}"
            except (ValueError, TypeError, KeyError):
                reason = f"HTTP {answer.status_code}"
            raise SourceAuthError(
                self.redact(
                    f"Salesforce refused the {auth.method} login at {login_url} ({reason}); "
                    f"{_LOGIN_ADVICE[auth.method]}"
                )
            )
        body = answer.json()
        log.info("Salesforce login (%s) at %s ok", auth.method, login_url)
        return body["instance_url"], body["access_token"]

    def _assertion(self) -> str:
        import jwt

        auth = self._spec.auth
        where = "private_key_file" if auth.private_key_file is not None else "private_key"
        key = self._secret("private_key")
        claims = {
            "iss": self._secret("consumer_key"),
            "sub": auth.username,
            "aud": auth.audience or jwt_audience(self._spec.login_url),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.exceptions.PyJWTError):
            raise SourceAuthError(
                f"{where} is not an RSA private key in PEM format (-----BEGIN PRIVATE KEY-----)"
            ) from None

    def _secret(self, name: str, default: str | None = None) -> str:
        try:
            value = self._spec.auth.secret(name)
        except OSError as exc:
            path = getattr(self._spec.auth, f"{name}_file", None)
            raise SourceAuthError(f"cannot read {name}_file {path}: {exc.strerror}") from None
        if value is None:
            if default is not None:
                return default
            raise SourceAuthError(f"auth needs {name}")
        return value

    def redact(self, text: str) -> str:
        """`text` without any secret of this source (for messages built from server text)."""
        auth = self._spec.auth
        secrets = [self._token]
        for name in ("consumer_secret", "password", "security_token", "session_id"):
            try:
                secrets.append(auth.secret(name))
            except OSError:
                pass
        if self._spec.proxy is not None:
            secrets.append(self._spec.proxy.get_secret_value())
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _tls_error(self, url: str) -> SourceUnreachable:
        bundle = self._spec.ca_bundle
        advice = (
            f"is ca_bundle {bundle} the right CA bundle?"
            if bundle
            else "behind a TLS-inspecting proxy, set ca_bundle to its CA bundle (PEM)"
        )
        return SourceUnreachable(f"the TLS certificate of {url} could not be verified; {advice}")

    # -- usage -------------------------------------------------------------------------------

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count API requests and read what `Sforce-Limit-Info` says is used of the limit."""
        if urlsplit(response.url).path.startswith("/services/data/"):
            self.calls += 1
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            match = _LIMIT_INFO.search(info)
            if match:
                self.used, self.limit = int(match.group(1)), int(match.group(2))

    @property
    def budget(self) -> int | None:
        """API requests this sync may make (its `api_quota_share`), once the limit is known."""
        share = self._spec.api_quota_share
        if share is None or self.limit is None:
            return None
        return int(share * self.limit)

    def stop_at_quota(self) -> None:
        """Raise SourceLimitReached when this sync made its share of the daily requests."""
        budget = self.budget
        if budget is None or self.calls < budget:
            return
        share = self._spec.api_quota_share or 0
        left = "" if self.used is None else f"; {self.limit - self.used:,} are left today"
        raise SourceLimitReached(
            f"this sync made {self.calls:,} API requests, its api_quota_share of {share:.0%} of "
            f"the org's daily limit of {self.limit:,}{left}; it stopped between pages and the "
            "next sync resumes from here (raise api_quota_share to read more per sync)"
        )

    # -- REST --------------------------------------------------------------------------------

    def query_page(self, soql: str | None = None, next_url: str | None = None) -> dict[str, Any]:
        """One page of a queryAll (deleted rows included): the first, or the next by URL."""
        headers = {"Sforce-Query-Options": f"batchSize={self._spec.page_size}"}
        timeout = self._spec.timeout_seconds
        if next_url is not None:
            return self._call(
                "query more",
                lambda sf: sf.query_more(
                    next_url,
                    identifier_is_url=True,
                    include_deleted=True,
                    headers=headers,
                    timeout=timeout,
                ),
            )
        return self._call(
            "query",
            lambda sf: sf.query(soql, include_deleted=True, headers=headers, timeout=timeout),
        )

    def query_live(self, soql: str, stream: str) -> list[dict[str, Any]]:
        """Every row of a query (deleted rows left out) that `stream` needs, following
        `nextRecordsUrl`."""
        timeout = self._spec.timeout_seconds
        answer = self._call("query", lambda sf: sf.query(soql, timeout=timeout))
        rows: list[dict[str, Any]] = []
        trail = self.trail(stream, "the nextRecordsUrl of a query for related rows")
        while True:
            page = list(answer.get("records") or [])
            rows.extend(page)
            url = trail.follow(next_records_url(answer), records=len(page))
            if url is None:
                return rows
            answer = self._call(
                "query more",
                lambda sf, url=url: sf.query_more(url, identifier_is_url=True, timeout=timeout),
            )

    def trail(self, stream: str, call: str) -> PageTrail:
        """The loop check for one paged read of `stream` (messages never show a secret)."""
        return PageTrail("Salesforce", stream, call, self.redact)

    def describe(self, sobject: str) -> dict[str, Any]:
        return self._call(
            f"describe {sobject}",
            lambda sf: sf.restful(
                f"sobjects/{sobject}/describe", timeout=self._spec.timeout_seconds
            ),
        )

    def limits(self) -> dict[str, Any]:
        return self._call("limits", lambda sf: sf.limits(timeout=self._spec.timeout_seconds))

    # -- Bulk API 2.0 ------------------------------------------------------------------------

    def bulk_rows(
        self, soql: str, poll_check: Callable[[], None], stream: str
    ) -> Iterator[tuple[list[dict[str, str]], bool]]:
        """Run `soql` as a Bulk 2.0 queryAll job; its rows page by page, with "last page?".

        Raises:
            BulkJobFailed: the job ended Failed or Aborted (before any row was returned).
        """
        job = self._call(
            "Bulk 2.0 job create",
            lambda sf: self._bulk(
                sf,
                "POST",
                "jobs/query",
                json={
                    "operation": "queryAll",
                    "query": soql,
                    "contentType": "CSV",
                    "columnDelimiter": "COMMA",
                    "lineEnding": "LF",
                },
            ).json(),
        )
        job_id = job["id"]
        log.info("Salesforce Bulk 2.0 job %s created", job_id)
        self._wait_for(job_id, poll_check)
        trail = self.trail(stream, f"the Sforce-Locator of Bulk 2.0 job {job_id}'s results")
        locator: str | None = ""
        while locator is not None:
            params: dict[str, Any] = {"maxRecords": self._spec.bulk_page_size}
            if locator:
                params["locator"] = locator
            answer = self._call(
                "Bulk 2.0 results",
                lambda sf, params=params: self._bulk(
                    sf, "GET", f"jobs/query/{job_id}/results", params=params, accept="text/csv"
                ),
            )
            following = answer.headers.get("Sforce-Locator")
            rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))
            locator = trail.follow(None if following == "null" else following, records=len(rows))
            yield rows, locator is None

    def _wait_for(self, job_id: str, poll_check: Callable[[], None]) -> None:
        delay = self._spec.bulk_poll_seconds
        waited = 0.0
        while True:
            info = self._call(
                "Bulk 2.0 job info",
                lambda sf: self._bulk(sf, "GET", f"jobs/query/{job_id}").json(),
            )
            state = info.get("state")
            if state == "JobComplete":
                return
            if state in ("Failed", "Aborted"):
                raise BulkJobFailed(self.redact(str(info.get("errorMessage") or state)))
            if waited >= BULK_MAX_WAIT_SECONDS:
                raise SourceUnreachable(
                    f"Bulk 2.0 job {job_id} was still {state} after "
                    f"{BULK_MAX_WAIT_SECONDS // 3600} hours; set bulk_threshold: null to read "
                    "with REST only"
                )
            poll_check()
            self._sleep(delay)
            waited += delay
            delay = min(max(delay * 1.5, 0.001), BULK_MAX_POLL_SECONDS)

    def _bulk(
        self,
        sf: Any,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        from simple_salesforce.util import exception_handler

        answer = self._session.request(
            method,
            f"{sf.base_url}{path}",
            headers={
                "Authorization": f"Bearer {sf.session_id}",
                "Content-Type": "application/json",
                "Accept": accept,
            },
            json=json,
            params=params,
            timeout=self._spec.timeout_seconds,
        )
        if answer.status_code >= 300:
            exception_handler(answer, name=path)
        return answer

    # -- every call --------------------------------------------------------------------------

    def call(self, what: str, send: Callable[[Any], Any]) -> Any:
        """`send(sf)` with the logged-in client, retried and failing in words as every call
        (for the writer's calls)."""
        return self._call(what, send)

    @property
    def timeout(self) -> float:
        return self._spec.timeout_seconds

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
            try:
                answer = send(self.sf)
                log.info("Salesforce %s ok (%d API requests so far)", what, self.calls)
                return answer
            except SalesforceExpiredSession:
                if relogged:
                    raise SourceAuthError(
                        f"Salesforce refused the new session too ({what}): check the "
                        "integration user's access (is it frozen, or its API access revoked?)"
                    ) from None
                log.info("Salesforce session expired; logging in again")
                relogged = True
                self.login()
            except SalesforceRefusedRequest as exc:
                code = _error_code(exc.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise SourceLimitReached(
                        "Salesforce's daily API request limit is used up "
                        "(REQUEST_LIMIT_EXCEEDED); the sync stopped and resumes from here "
                        "when the limit allows"
                    ) from None
                raise SourceAuthError(
                    self.redact(
                        f"Salesforce refused {what} ({code}): {_error_message(exc.content)}; "
                        "check the integration user's permissions (API Enabled, object access)"
                    )
                ) from None
            except (SalesforceMalformedRequest, SalesforceResourceNotFound) as exc:
                raise Rejected(
                    self.redact(
                        f"Salesforce rejected {what} ({_error_code(exc.content)}): "
                        f"{_error_message(exc.content)}; `qmon sources check` lists the "
                        "objects and fields the integration user cannot read"
                    ),
                    _error_code(exc.content),
                    self.redact(_error_message(exc.content)),
                    getattr(exc, "status", 400),
                ) from None
            except requests.exceptions.SSLError:
                raise self._tls_error(self._spec.instance_url) from None
            except (SalesforceGeneralError, requests.RequestException) as exc:
                status = getattr(exc, "status", None)
                if isinstance(status, int) and status < 500:
                    raise SyncError(
                        self.redact(
                            f"Salesforce answered {what} with HTTP {status} "
                            f"({_error_code(exc.content)}): {_error_message(exc.content)}"
                        )
                    ) from None
                failures += 1
                reason = f"HTTP {status}" if status else type(exc).__name__
                if failures > self._spec.retries:
                    raise SourceUnreachable(
                        f"Salesforce did not answer {what} ({reason}), also after "
                        f"{self._spec.retries} retries; try again later"
                    ) from None
                log.info("Salesforce %s failed (%s); retrying in %.2f s", what, reason, delay)
                self._sleep(delay)
                delay *= 2

    def close(self) -> None:
        self._session.close()


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


def next_records_url(answer: dict[str, Any]) -> str | None:
    """The `nextRecordsUrl` of a query page, or None when it was the last (`done`).

    Raises:
        SourceUnreachable: the page says it is not the last but gives no `nextRecordsUrl`.
    """
    if answer.get("done", True):
        return None
    url = answer.get("nextRecordsUrl")
    if not url:
        raise SourceUnreachable(
            "Salesforce answered a query page with done: false but no nextRecordsUrl; is "
            "instance_url Salesforce's?"
        )
    return str(url)


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
