"""HubSpot's API as qmon uses it: a few calls, paced, retried, and failing in words.

Every call goes through the official `hubspot-api-client` (pointed at `base_url`), asking for
the raw JSON (`_preload_content=False`): the generated model classes cost more to build than
the rest of a sync, and qmon only needs the JSON. What this module adds:

- **Pacing.** Search has its own limit (about five requests per second); other calls share the
  app's burst limit (100 per 10 seconds for private apps on most plans). A sliding-window
  limiter per kind waits before a call rather than collect 429s.
- **Retries.** urllib3 does not retry POST (and search is a POST), so retries are done here:
  429 waits for `Retry-After`, 5xx and connection errors back off exponentially (or wait for
  `Retry-After` when given), then the sync stops with `SourceUnreachable`. 401 and 403 are
  not retried; a 429 of the *daily* limit stops the sync with `SourceLimitReached`.
- **Errors without secrets.** The client's exceptions print HTTP headers and bodies; they are
  never shown or chained. Messages say what failed and what to do.
- **Usage.** Calls are counted; the daily limit and what is left of it are read from HubSpot's
  `X-HubSpot-RateLimit-Daily(-Remaining)` headers (sent on every answer but search's).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from qmon.connectors.base import (
    PageTrail,
    SourceAuthError,
    SourceLimitReached,
    SourceUnreachable,
    SyncError,
)
from qmon.connectors.hubspot.failures import (
    MissingScopes,
    Rejected,
    error_body,
    error_field,
    refused,
    retry_after,
)
from qmon.connectors.hubspot.spec import HubSpotSourceSpec
from qmon.textsafe import ascii_digits

log = logging.getLogger(__name__)

BATCH_READ_MAX = 100
"""Inputs per batch read (HubSpot's limit for `/crm/v3/objects/{type}/batch/read`)."""

ASSOCIATIONS_BATCH_MAX = 1000
"""Inputs per v4 associations batch read."""

LIST_MAX = 100
"""Records per list page (`GET /crm/v3/objects/{type}`), HubSpot's maximum."""

BURST_WINDOW = 10.0
"""HubSpot's burst limit counts non-search calls per 10 seconds (`burst_limit`: 100 for
private apps on most plans, 190 on Professional and Enterprise)."""


class SlidingWindow:
    """At most `limit` calls in any `window` seconds, counted from when each call *ended*.

    Counting from the end of a call (not its start) keeps the client behind the server's own
    window whatever the network delay, so the limiter never causes a 429 itself.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        self._ends: deque[float] = deque()

    def wait(self) -> None:
        while len(self._ends) >= self.limit:
            delay = self._ends[0] + self.window - self._clock()
            if delay <= 0:
                self._ends.popleft()
            else:
                self._sleep(delay)

    def done(self) -> None:
        self._ends.append(self._clock())


class HubSpotApi:
    """The calls the HubSpot connector makes, with pacing, retries and call counting."""

    def __init__(
        self,
        spec: HubSpotSourceSpec,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from hubspot import HubSpot  # imported here: only configs with HubSpot pay for it
        from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsError
        from hubspot.crm.objects.exceptions import ApiException as ObjectsError
        from hubspot.crm.properties.exceptions import ApiException as PropertiesError

        try:
            token = spec.token()
        except OSError as exc:
            raise SourceAuthError(
                f"cannot read access_token_file {spec.access_token_file}: {exc.strerror}"
            ) from None
        # retry=False: urllib3 would silently retry GETs (not POSTs) on its own; every retry
        # is made here instead, with one policy and one count.
        self._client = HubSpot(access_token=token, host=spec.base_url.rstrip("/"), retry=False)
        self._token = token
        self._api_errors: tuple[type[Exception], ...] = (
            ObjectsError, AssociationsError, PropertiesError
        )
        self._spec = spec
        self._sleep = sleep
        self._timeout = spec.timeout_seconds
        per_window = max(1, int(spec.search_rate))
        self._search = SlidingWindow(per_window, per_window / spec.search_rate, clock, sleep)
        self._general = SlidingWindow(spec.burst_limit, BURST_WINDOW, clock, sleep)
        self.calls = 0
        self.daily_limit: int | None = None
        self.daily_remaining: int | None = None

    # -- the calls -------------------------------------------------------------------------

    def search(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        api = self._client.crm.objects.search_api
        return self._call(
            f"search {object_type}",
            lambda: api.do_search(
                object_type, body, _preload_content=False, _request_timeout=self._timeout
            ),
            self._search,
        )

    def batch_read(
        self, object_type: str, ids: list[str], properties: Iterable[str], history: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The records with these ids (archived ones left out), with property histories."""
        api = self._client.crm.objects.batch_api
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), BATCH_READ_MAX):
            body = {
                "inputs": [{"id": i} for i in ids[start : start + BATCH_READ_MAX]],
                "properties": list(properties),
                "propertiesWithHistory": list(history),
            }
            answer = self._call(
                f"batch read {object_type}",
                lambda body=body: api.read(
                    object_type, body, _preload_content=False, _request_timeout=self._timeout
                ),
                self._general,
            )
            found.extend(answer.get("results", []))
        return found

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """For each id, the ids of its associated `to_type` records (v4 batch read).

        An id with more associations than one answer holds comes back with `paging.next.after`;
        it is asked for again with that `after` until its associations are complete.
        """
        api = self._client.crm.associations.v4.batch_api
        what = f"read {from_type} to {to_type} associations"
        linked: dict[str, list[str]] = {}
        trails: dict[str, PageTrail] = {}
        for start in range(0, len(ids), ASSOCIATIONS_BATCH_MAX):
            inputs: list[dict[str, str]] = [
                {"id": i} for i in ids[start : start + ASSOCIATIONS_BATCH_MAX]
            ]
            while inputs:
                answer = self._call(
                    what,
                    lambda body={"inputs": inputs}: api.get_page(
                        from_type, to_type, body, _preload_content=False,
                        _request_timeout=self._timeout,
                    ),
                    self._general,
                )  # fmt: skip
                inputs = []
                for result in answer.get("results", []):
                    from_id = str(result["from"]["id"])
                    to_ids = [str(t["toObjectId"]) for t in result.get("to") or []]
                    linked.setdefault(from_id, []).extend(to_ids)
                    if from_id not in trails:
                        call = f"the {to_type} associations of {from_type}/{from_id}"
                        trails[from_id] = self.trail(from_type, call)
                    after = trails[from_id].follow(next_after(result), records=len(to_ids))
                    if after is not None:
                        inputs.append({"id": from_id, "after": after})
        return linked

    def trail(self, stream: str, call: str) -> PageTrail:
        """The loop check for one paged read of `stream` (messages never show the token)."""
        return PageTrail("HubSpot", stream, call, self.redact)

    def redact(self, text: str) -> str:
        """`text` without the access token (for messages built from what the server sent)."""
        return text.replace(self._token, "***") if len(self._token) >= 4 else text

    def archived_page(self, object_type: str, after: str | None, limit: int) -> dict[str, Any]:
        """One page of the archived records of a type (`GET ...?archived=true`)."""
        api = self._client.crm.objects.basic_api
        kwargs: dict[str, Any] = {"limit": min(limit, LIST_MAX), "archived": True}
        if after is not None:
            kwargs["after"] = after
        return self._call(
            f"list archived {object_type}",
            lambda: api.get_page(
                object_type, _preload_content=False, _request_timeout=self._timeout, **kwargs
            ),
            self._general,
        )

    def portal_id(self) -> int:
        """The portal's id (for record links), from `GET /account-info/v3/details`.

        Any valid token may read it (no scope), so it is also the check that a token works.
        """
        api_client = self._client.crm.objects.basic_api.api_client
        answer = self._call(
            "read account info",
            lambda: api_client.call_api(
                "/account-info/v3/details",
                "GET",
                header_params={"Accept": "application/json"},
                auth_settings=["oauth2"],
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
            self._general,
        )
        return int(answer["portalId"])

    @property
    def client(self) -> Any:
        """The `hubspot-api-client` client (for the writer's calls through `call`)."""
        return self._client

    def call(self, what: str, send: Callable[[], Any], *, search: bool = False) -> dict[str, Any]:
        """One call of the client (made with `_preload_content=False`), paced by the search
        or the general limiter, retried as every call is; its JSON answer."""
        return self._call(what, send, self._search if search else self._general)

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def token(self) -> str:
        """The access token (for the one call that sends it in a body: its scopes)."""
        return self._token

    # -- retries ---------------------------------------------------------------------------

    def _call(self, what: str, send: Callable[[], Any], window: SlidingWindow) -> dict[str, Any]:
        from urllib3.exceptions import HTTPError

        spec = self._spec
        delay = spec.backoff_seconds
        failures = rate_limited = 0
        while True:
            window.wait()
            self.calls += 1
            try:
                response = send()
            except self._api_errors as exc:
                window.done()
                status = getattr(exc, "status", None) or 0
                body, headers = getattr(exc, "body", None), getattr(exc, "headers", None)
                self._read_usage(headers)
                if status in (401, 403):
                    raise refused(status, body, what) from None
                if status == 429:
                    if error_field(body, "policyName") == "DAILY":
                        raise SourceLimitReached(
                            f"HubSpot's daily API limit is used up ({what} was refused); the "
                            "next sync resumes where this one stopped"
                        ) from None
                    rate_limited += 1
                    if rate_limited > spec.retries + 5:
                        raise SourceUnreachable(
                            f"HubSpot kept answering 429 (rate limit) to {what}; "
                            "is another integration using this app's limits?"
                        ) from None
                    asked = retry_after(headers)
                    wait = 1.0 if asked is None else asked
                    self._wait(wait, f"HubSpot rate limit on {what}", SourceLimitReached)
                    continue
                if status >= 500 or status == 0:
                    failures += 1
                    if failures > spec.retries:
                        raise SourceUnreachable(
                            f"HubSpot answered HTTP {status} to {what}, also after "
                            f"{spec.retries} retries; try again later"
                        ) from None
                    asked = retry_after(headers)
                    why = f"HubSpot HTTP {status} on {what}"
                    if asked is None:
                        self._wait(min(delay, spec.max_wait_seconds), why)
                    else:
                        self._wait(asked, why, SourceUnreachable)
                    delay *= 2
                    continue
                raise Rejected(
                    f"HubSpot rejected {what} (HTTP {status}): {error_field(body, 'message')}",
                    status, error_field(body, "category"), error_body(body),
                ) from None
            except HTTPError as exc:  # connection refused or reset, timeouts
                window.done()
                failures += 1
                problem = type(getattr(exc, "reason", None) or exc).__name__
                if failures > spec.retries:
                    raise SourceUnreachable(
                        f"cannot reach HubSpot at {spec.base_url} for {what}: {problem}, also "
                        f"after {spec.retries} retries"
                    ) from None
                self._wait(
                    min(delay, spec.max_wait_seconds), f"HubSpot unreachable ({problem}) for {what}"
                )
                delay *= 2
                continue
            window.done()
            self._read_usage(getattr(response, "headers", None))
            log.info("HubSpot %s: HTTP %s", what, response.status)
            try:
                answer = json.loads(response.data)
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                raise SourceUnreachable(
                    f"HubSpot's answer to {what} (HTTP {response.status}) is not the JSON "
                    f"expected; is base_url ({spec.base_url}) HubSpot's API?"
                )
            return answer

    def _wait(self, seconds: float, why: str, too_long: type[SyncError] | None = None) -> None:
        """Sleep `seconds`; a wait HubSpot asked for (`too_long` given) that exceeds
        `max_wait_seconds` ends the sync with that error instead."""
        limit = self._spec.max_wait_seconds
        if too_long is not None and seconds > limit:
            raise too_long(
                f"{why}: HubSpot asks to wait {seconds:.0f} s, longer than max_wait_seconds "
                f"({limit:.0f} s); the next sync resumes here"
            ) from None  # called while handling the client's exception: never chain it
        log.info("%s; waiting %.1f s", why, seconds)
        self._sleep(seconds)

    def _read_usage(self, headers: Any) -> None:
        """Note the daily limit and what is left of it, when HubSpot says."""
        if not headers:
            return
        for name, attribute in (
            ("X-HubSpot-RateLimit-Daily", "daily_limit"),
            ("X-HubSpot-RateLimit-Daily-Remaining", "daily_remaining"),
        ):
            value = headers.get(name)
            if value is not None and ascii_digits(str(value).strip()):
                setattr(self, attribute, int(value))


def next_after(answer: dict[str, Any]) -> str | None:
    """`paging.next.after` of an answer (a list page, an association result), or None."""
    after = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return None if after is None else str(after)


__all__ = ["HubSpotApi", "MissingScopes", "Rejected", "SlidingWindow", "next_after"]
