"""HubSpot's API as qmon uses it: a few calls, paced, retried, and failing in words.

Every call goes through the official `hubspot-api-client` (pointed at `base_url`), asking for
the raw JSON (`_preload_content=False`): the generated model classes cost more to build than
the rest of a sync, and qmon only needs the JSON. What this module adds:

- **Pacing.** Search has its own limit (about five requests per second); other calls share the
  app's burst limit (100 per 10 seconds for private apps on most plans). A sliding-window
  limiter per kind waits before a call rather than collect 429s.
- **Retries.** urllib3 does not retry POST (and search is a POST), so retries are done here:
  429 waits for `Retry-After`, 5xx and connection errors back off exponentially, then the
  sync stops with `SourceUnreachable`. 401 and 403 are not retried.
- **Errors without secrets.** The client's exceptions print HTTP headers; they are never shown.
  Messages say what failed and what to do.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from qmon.connectors.base import SourceAuthError, SourceUnreachable, SyncError
from qmon.connectors.hubspot.spec import HubSpotSourceSpec

log = logging.getLogger(__name__)

BATCH_READ_MAX = 100
"""Inputs per batch read (HubSpot's limit for `/crm/v3/objects/{type}/batch/read`)."""

ASSOCIATIONS_BATCH_MAX = 1000
"""Inputs per v4 associations batch read."""

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

        try:
            token = spec.token()
        except OSError as exc:
            raise SourceAuthError(
                f"cannot read access_token_file {spec.access_token_file}: {exc.strerror}"
            ) from None
        self._client = HubSpot(access_token=token, host=spec.base_url.rstrip("/"))
        self._spec = spec
        self._sleep = sleep
        per_window = max(1, int(spec.search_rate))
        self._search = SlidingWindow(per_window, per_window / spec.search_rate, clock, sleep)
        self._general = SlidingWindow(spec.burst_limit, BURST_WINDOW, clock, sleep)
        self.calls = 0

    # -- the calls -------------------------------------------------------------------------

    def search(self, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        api = self._client.crm.objects.search_api
        return self._call(
            f"search {object_type}",
            lambda: api.do_search(object_type, body, _preload_content=False),
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
                lambda body=body: api.read(object_type, body, _preload_content=False),
                self._general,
            )
            found.extend(answer.get("results", []))
        return found

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """For each id, the ids of its associated `to_type` records (v4 batch read)."""
        api = self._client.crm.associations.v4.batch_api
        linked: dict[str, list[str]] = {}
        for start in range(0, len(ids), ASSOCIATIONS_BATCH_MAX):
            body = {"inputs": [{"id": i} for i in ids[start : start + ASSOCIATIONS_BATCH_MAX]]}
            answer = self._call(
                f"read {from_type} to {to_type} associations",
                lambda body=body: api.get_page(from_type, to_type, body, _preload_content=False),
                self._general,
            )
            for result in answer.get("results", []):
                linked[str(result["from"]["id"])] = [str(t["toObjectId"]) for t in result["to"]]
        return linked

    def archived_page(self, object_type: str, after: str | None, limit: int) -> dict[str, Any]:
        """One page of the archived records of a type (`GET ...?archived=true`)."""
        api = self._client.crm.objects.basic_api
        kwargs: dict[str, Any] = {"limit": min(limit, 100), "archived": True}
        if after is not None:
            kwargs["after"] = after
        return self._call(
            f"list archived {object_type}",
            lambda: api.get_page(object_type, _preload_content=False, **kwargs),
            self._general,
        )

    def portal_id(self) -> int:
        """The portal's id (for record links), from `GET /account-info/v3/details`."""
        api_client = self._client.crm.objects.basic_api.api_client
        answer = self._call(
            "read account info",
            lambda: api_client.call_api(
                "/account-info/v3/details",
                "GET",
                header_params={"Accept": "application/json"},
                auth_settings=["oauth2"],
                _preload_content=False,
            ),
            self._general,
        )
        return int(answer["portalId"])

    # -- retries ---------------------------------------------------------------------------

    def _call(self, what: str, send: Callable[[], Any], window: SlidingWindow) -> dict[str, Any]:
        from hubspot.crm.objects.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        delay = self._spec.backoff_seconds
        failures = 0
        while True:
            window.wait()
            self.calls += 1
            try:
                response = send()
            except ApiException as exc:
                window.done()
                status = exc.status or 0
                if status in (401, 403):
                    raise _refused(status, exc.body, what) from None
                if status == 429:
                    wait = _retry_after(exc.headers)
                    log.info("HubSpot rate limit on %s; waiting %.1f s", what, wait)
                    failures += 1
                    if failures > self._spec.retries + 5:
                        raise SourceUnreachable(
                            f"HubSpot kept answering 429 (rate limit) to {what}; "
                            "is another integration using this app's limits?"
                        ) from None
                    self._sleep(wait)
                    continue
                if status >= 500 or status == 0:
                    failures += 1
                    if failures > self._spec.retries:
                        raise SourceUnreachable(
                            f"HubSpot answered HTTP {status} to {what}, also after "
                            f"{self._spec.retries} retries; try again later"
                        ) from None
                    log.info("HubSpot HTTP %s on %s; retrying in %.1f s", status, what, delay)
                    self._sleep(delay)
                    delay *= 2
                    continue
                raise SyncError(
                    f"HubSpot rejected {what} (HTTP {status}): {_message(exc.body)}"
                ) from None
            except HTTPError as exc:
                window.done()
                failures += 1
                if failures > self._spec.retries:
                    raise SourceUnreachable(
                        f"cannot reach HubSpot at {self._spec.base_url} for {what}: "
                        f"{type(exc).__name__}"
                    ) from None
                self._sleep(delay)
                delay *= 2
                continue
            window.done()
            log.info("HubSpot %s: HTTP %s", what, response.status)
            return json.loads(response.data)


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float((headers or {}).get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


def _message(body: Any) -> str:
    """The `message` of a HubSpot error body, or a placeholder; never headers."""
    try:
        return str(json.loads(body)["message"])[:300]
    except (TypeError, ValueError, KeyError):
        return "no details"


def _refused(status: int, body: Any, what: str) -> SyncError:
    if status == 401:
        return SourceAuthError(
            f"HubSpot refused the access token (HTTP 401) for {what}: check that the private "
            "app token is current and not revoked"
        )
    return SourceAuthError(
        f"HubSpot refused {what} (HTTP 403): {_message(body)}; add the missing scope to the "
        "private app (see docs/connectors/hubspot.md)"
    )
