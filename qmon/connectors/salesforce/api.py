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
from qmon.connectors.salesforce.login import request_token, secret
from qmon.connectors.salesforce.spec import SalesforceSourceSpec
from qmon.connectors.salesforce.wire import (
    Rejected,
    error_code,
    error_message,
    next_records_url,
)

log = logging.getLogger(__name__)

BULK_MAX_WAIT_SECONDS = 3 * 3600
"""How long a sync waits for one Bulk 2.0 query job before giving up."""
BULK_MAX_POLL_SECONDS = 30.0
_LIMIT_INFO = re.compile(r"api-usage=([0-9]+)/([0-9]+)")


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
            instance_url, token = self._spec.instance_url, secret(self._spec, "session_id")
        else:
            instance_url, token = request_token(self._spec, self._session, self._sleep,
                                                self.redact, self._tls_error)  # fmt: skip
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
        for hidden in secrets:
            if hidden and len(hidden) >= 4:
                text = text.replace(hidden, "***")
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
        """Run `soql` as a Bulk 2.0 queryAll job (`qmon.connectors.salesforce.bulk`): its
        rows page by page, with "last page?".

        Raises:
            BulkJobFailed: the job ended Failed or Aborted (before any row was returned).
        """
        from qmon.connectors.salesforce.bulk import bulk_rows

        return bulk_rows(self, soql, poll_check, stream)

    def bulk_request(
        self, sf: Any, method: str, path: str, *, json: Any = None,
        params: dict[str, Any] | None = None, accept: str = "application/json",
    ) -> requests.Response:  # fmt: skip
        """One Bulk 2.0 request on qmon's session (simple-salesforce has no Bulk 2.0 query
        API of its own that pages by locator); an error status raises as simple-salesforce's
        own calls do."""
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

    @property
    def spec(self) -> SalesforceSourceSpec:
        return self._spec

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)

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
                code = error_code(exc.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise SourceLimitReached(
                        "Salesforce's daily API request limit is used up "
                        "(REQUEST_LIMIT_EXCEEDED); the sync stopped and resumes from here "
                        "when the limit allows"
                    ) from None
                raise SourceAuthError(
                    self.redact(
                        f"Salesforce refused {what} ({code}): {error_message(exc.content)}; "
                        "check the integration user's permissions (API Enabled, object access)"
                    )
                ) from None
            except (SalesforceMalformedRequest, SalesforceResourceNotFound) as exc:
                raise Rejected(
                    self.redact(
                        f"Salesforce rejected {what} ({error_code(exc.content)}): "
                        f"{error_message(exc.content)}; `qmon sources check` lists the "
                        "objects and fields the integration user cannot read"
                    ),
                    error_code(exc.content),
                    self.redact(error_message(exc.content)),
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
                            f"({error_code(exc.content)}): {error_message(exc.content)}"
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
