"""A local, in-memory HubSpot portal that speaks the CRM v3 wire format over a real socket.

Why a server and not mocks: the HubSpot connector is built on ``hubspot-api-client``, and what
can break is the contract between that library and HubSpot -- the URLs and query strings it
builds, how it follows ``paging.next.after``, what it does with a 429 and its ``Retry-After``,
which exception it raises for which status, and HubSpot's own traps (search stops at 10,000
results, search has its own per-second limit). Patching the library away would test none of
that. So this fake is an HTTP server on 127.0.0.1 and the real client talks to it::

    with FakeHubSpot() as fake:
        deal_id = fake.add("deals", {"dealname": "Big deal", "dealstage": "qualifiedtobuy"},
                           created_at=t0, updated_at=t0)
        client = HubSpot(access_token=fake.access_token, host=fake.base_url)
        client.crm.objects.basic_api.get_by_id("deals", deal_id,
                                               properties_with_history=["dealstage"])

Where the wire format comes from (read, not copied):

* ``HubSpot/HubSpot-public-api-spec-collection``,
  ``PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json``: the paths
  ``GET /crm/v3/objects/{objectType}`` (``limit`` default 10, ``after``, ``properties``,
  ``propertiesWithHistory``, ``archived``), ``GET /crm/v3/objects/{objectType}/{objectId}``,
  ``POST /crm/v3/objects/{objectType}/search`` (marked exempt from the "ten-secondly" limit);
  the schemas ``SimplePublicObject(WithAssociations)``, ``ValueWithTimestamp``,
  ``CollectionResponse(WithTotal)…``, ``NextPage``, ``PublicObjectSearchRequest`` (``limit``
  "up to 200", ``after``, ``sorts``, ``properties``, ``filterGroups``), ``Filter`` (operators
  ``EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN
  NOT_CONTAINS_TOKEN``) and ``Error`` (``message``, ``correlationId``, ``category`` required);
  the default properties of deals and tickets (the table in the spec's description).
* HubSpot's search guide, as quoted by integrators (activepieces PR 10160, AWS Glue's
  connector notes): "limited to 10,000 total results for any given query. Attempting to page
  beyond 10,000 will result in a 400 error"; search is limited to five requests per second.
* HubSpot's usage guidelines, as quoted on community.hubspot.com: the 429 body
  ``{"status", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
  "correlationId", "policyName"}``.
* ``hubspot-api-client`` 12 itself (installed, and ``HubSpot/hubspot-api-python``):
  ``HubSpot(host=...)`` is copied onto every generated ``Configuration``; ``retry=`` becomes
  ``Configuration.retries`` and is handed to urllib3's ``PoolManager``.

Where the fake had to guess, the docstring or constant says so, so that a test that depends on
it knows it leans on an assumption. The biggest ones: the 400 text for paging past 10,000
(:data:`SEARCH_CAP_MESSAGE`), the bodies of 404/5xx answers, and that objects without a sort
property sort last.

Also modelled, for the connector: batch read (``POST .../batch/read`` with
``propertiesWithHistory``), the v4 associations batch read, ``GET /account-info/v3/details``,
the private app's scopes (``granted_scopes``: a call whose object needs a scope the app lacks
gets 403 ``MISSING_SCOPES``, the body integrators log, with ``requiredGranularScopes``; the
scopes per object are the ``private_apps`` security requirements of the objects' specs in
``HubSpot-public-api-spec-collection``) and the daily limit (``daily_limit``: the
``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining`` headers on every answer except search's,
which integrators report without them, and a 429 with ``policyName: DAILY`` once used up).

Writes through the API live in :mod:`tests.fakes.hubspot_writes` (the mixin
:class:`~tests.fakes.hubspot_writes.HubSpotWrites`): property groups and properties (read and
create), batch update, task create and PATCH, with their validation, scopes and errors, and
the test-side :meth:`~FakeHubSpot.refuse_writes`; its docstring lists its sources and what it
does not model.

What is deliberately *not* modelled here: other writes (archiving, batch create and upsert;
otherwise data changes only through the test-side :meth:`FakeHubSpot.add`,
:meth:`~FakeHubSpot.update` and :meth:`~FakeHubSpot.archive`), ``idProperty``, other batch
endpoints, the free-text ``query`` of search, property schemas in reads (a filter on a
property no object has matches nothing, where HubSpot may answer 400), search indexing lag
(HubSpot documents that changes take a few moments to become searchable; here they are
searchable at once).

Nothing here reaches the network: the server binds 127.0.0.1 on a free port and the client is
pointed at it with ``host=``; nothing in this module opens an outgoing connection.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.hubspot_writes import HubSpotWrites
from tests.fakes.server import FakeHandler, PagingFault, Reply

if TYPE_CHECKING:
    from hubspot import HubSpot
    from urllib3.util.retry import Retry

OBJECT_TYPES: tuple[str, ...] = (
    "deals", "tickets", "quotes", "calls", "emails", "meetings", "notes", "tasks",
    "feedback_submissions", "companies",
)
"""The object types the connector syncs; the fake serves exactly these under ``/crm/v3``."""

DEFAULT_ACCESS_TOKEN = "pat-na1-00000000-0000-4000-8000-000000000000"
"""Private-app tokens look like ``pat-<region>-<uuid>``; the fake only compares strings."""

SEARCH_MAX_LIMIT = 200
"""``PublicObjectSearchRequest.limit``: "The maximum results to return, up to 200 objects"."""

SEARCH_DEFAULT_LIMIT = 10
"""Search page size when the body has no ``limit`` (assumed equal to the list default)."""

SEARCH_RESULT_CAP = 10_000
"""Search "is limited to 10,000 total results for any given query" (HubSpot search guide)."""

SEARCH_CAP_MESSAGE = (
    "Search results are limited to 10000 total results. Narrow the search with filters "
    "(for example on hs_lastmodifieddate or hs_object_id) to page through more."
)
"""UNVERIFIED wording. HubSpot documents the *status* (400) for paging beyond 10,000 results
but no source found gives the body text; this message and the ``VALIDATION_ERROR`` category
are plausible stand-ins. Tests should assert on the status, not on this text."""

LIST_DEFAULT_LIMIT = 10
"""``GET /crm/v3/objects/{objectType}``: ``limit`` has ``"default": 10`` in the spec."""

LIST_MAX_LIMIT = 100
"""Largest list page; HubSpot's guides say 100 (not in the spec). Larger values are clamped."""

LIST_MAX_LIMIT_WITH_HISTORY = 50
"""The spec says ``propertiesWithHistory`` "will reduce the maximum number of objects that
can be read by a single request" without a number; 50 is HubSpot's guide figure (assumed)."""

FILTER_GROUP_LIMIT = 5
FILTERS_PER_GROUP_LIMIT = 6
FILTER_TOTAL_LIMIT = 18
"""Search filter limits. Sources disagree (changelog 2024: 5 groups / 10 per group / 25 in
all; guide as quoted elsewhere: 5 / 6 / 18); the fake enforces the stricter set, so a request
it accepts is accepted under either reading."""

DEFAULT_SEARCH_RATE_LIMIT = 5
"""Search requests per window (one second by default) and per token before a 429."""

JSON_CONTENT_TYPE = "application/json;charset=utf-8"

AUTH_FAILURE_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
"""The 401 text integrators log for a missing or invalid token (observed, not documented)."""

DEFAULT_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
    "tickets": ("content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_category",
                "hs_ticket_priority", "subject"),
}
"""Properties returned when a request names none: the table in the objects spec. The spec
lists nothing for quotes, engagements and feedback submissions; those return only the
always-present properties (:meth:`FakeHubSpot.system_properties`)."""

_CREATEDATE_TYPES = frozenset({"deals", "tickets", "companies"})
"""Types that carry ``createdate`` next to ``hs_createdate`` (as deal and ticket records do);
engagements, quotes and feedback submissions carry only ``hs_createdate`` (assumption)."""

_COMPARISON_OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE"})
_SUPPORTED_OPERATORS = _COMPARISON_OPERATORS | {
    "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
}
_KNOWN_OPERATORS = _SUPPORTED_OPERATORS | {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_PATH_RE = re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)(?:/(?P<rest>[^/]+(?:/read)?))?/?$")
_ASSOCIATIONS_RE = re.compile(r"^/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/read/?$")
ACCOUNT_INFO_PATH = "/account-info/v3/details"
NOT_FOUND = "OBJECT_NOT_FOUND"
"""The ``category`` of the fake's 404s (assumed: the ``Error`` schema requires a category and
batch reads report missing objects with this one)."""
REPEATED_AFTER = "1"
"""The ``paging.next.after`` a :meth:`FakeHubSpot.loop_paging` ``"repeat"`` answer offers."""
DEFAULT_PORTAL_ID = 62515
"""The portal id of the ``account-info`` example in HubSpot's docs."""

BATCH_READ_LIMIT = 100
"""Inputs per batch read: the objects spec's ``BatchReadInputSimplePublicObjectId`` guide
figure (assumed to hold with ``propertiesWithHistory`` too)."""

READ_SCOPES: Mapping[str, tuple[str, ...]] = {
    "deals": ("crm.objects.deals.read",),
    "tickets": ("tickets",),
    "quotes": ("crm.objects.quotes.read",),
    **{engagement: ("crm.objects.contacts.read",)
       for engagement in ("calls", "emails", "meetings", "notes", "tasks")},
    "feedback_submissions": ("crm.objects.contacts.read",
                             "crm.objects.feedback_submissions.read"),
    "companies": ("crm.objects.companies.read",),  # PublicApiSpecs/CRM/Companies .../v3
}
"""The private-app scopes reading an object type needs: the ``private_apps`` security
requirement of its read, list, search and batch-read operations in the objects' specs. The v4
associations batch read is assumed to need the read scopes of both object types."""

MISSING_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
"""The 403 text integrators log (hubspot-api-nodejs issue 268, PostHog issue 53339)."""

ASSOCIATION_TYPE_IDS: Mapping[tuple[str, str], int] = {
    ("quotes", "deals"): 64, ("calls", "deals"): 206, ("calls", "tickets"): 220,
    ("emails", "deals"): 210, ("emails", "tickets"): 224, ("meetings", "deals"): 212,
    ("meetings", "tickets"): 226, ("notes", "deals"): 214, ("notes", "tickets"): 228,
    ("tasks", "deals"): 216, ("tasks", "tickets"): 230,
    ("feedback_submissions", "tickets"): 0, ("feedback_submissions", "deals"): 0,
}
"""HUBSPOT_DEFINED association type ids as HubSpot's association-type table lists them for
the default direction; 0 where the fake knows no id (qmon does not read them)."""


# --- values as HubSpot writes them ------------------------------------------------------------


def hubspot_datetime(value: datetime) -> str:
    """Format like HubSpot's v3 JSON: UTC, milliseconds, ``Z`` (``2019-10-30T03:30:17.883Z``).

    The spec's ``SimplePublicObject`` example uses this form. HubSpot may drop a zero
    fraction; the fake always writes three digits, which every ISO parser reads alike.
    """
    value = _aware(value).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def property_value(value: object) -> str | None:
    """Turn a Python value into a HubSpot property value: every value is a string, or null.

    HubSpot returns numbers, booleans and datetimes as strings (the spec's example has
    ``"property_number": "17"`` and ``"property_checkbox": "false"``), so tests may pass
    Python values and read back what a client would see.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return hubspot_datetime(value)
    return str(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give HubSpot times a timezone (UTC)")
    # HubSpot stores milliseconds; truncating here keeps filters and sorts exact.
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _as_number(text: str) -> int | float | None:
    """Read a property or filter value as a number, or a datetime as epoch milliseconds.

    HubSpot compares datetime properties whether the filter gives epoch milliseconds or an
    ISO 8601 string, so both sides go through the same conversion.
    """
    if _NUMBER_RE.match(text):
        return float(text) if "." in text else int(text)
    if _DATE_RE.match(text):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return round(parsed.timestamp() * 1000)
    return None


# --- the store --------------------------------------------------------------------------------


@dataclass
class StoredObject:
    """One CRM object as the fake keeps it (tests may read it through :meth:`FakeHubSpot.get`).

    Attributes:
        id: Numeric string, as HubSpot ids are; also in ``properties["hs_object_id"]``.
        properties: Current values, all strings or None.
        created_at: ``createdAt`` and the create-date properties.
        updated_at: ``updatedAt`` and ``hs_lastmodifieddate``.
        history: Per property, the ``propertiesWithHistory`` entries, newest first.
        archived_at: Set once archived; archived objects only show with ``archived=true``.
    """

    object_type: str
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    archived_at: datetime | None = None
    _numbers: dict[str, int | float | None] = field(default_factory=dict, repr=False)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def number(self, name: str) -> int | float | None:
        """The property as a number (cached: searches over 10,000 objects stay fast)."""
        if name not in self._numbers:
            value = self.properties.get(name)
            self._numbers[name] = None if value is None else _as_number(value)
        return self._numbers[name]

    def set(self, name: str, value: str | None) -> None:
        self.properties[name] = value
        self._numbers.pop(name, None)


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake answered, so tests can assert what the client actually sent.

    ``body`` is the parsed JSON body (None for GET); ``token`` is the bearer token, if any.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    token: str | None


@dataclass
class _Response:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None
    path: str | None = None  # only requests whose path and query contain this


class _RequestError(Exception):
    """A request HubSpot would refuse; carries the error response to send."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra


def _validation_error(message: str) -> _RequestError:
    return _RequestError(400, message, "VALIDATION_ERROR")


# --- the fake portal --------------------------------------------------------------------------


class FakeHubSpot(HubSpotWrites):
    """An in-memory HubSpot portal behind a local HTTP server; see the module docstring.

    Args:
        access_token: The token the fake accepts; more can be added with :meth:`add_token`.
        search_rate_limit: Search requests allowed per ``search_rate_window`` and per token
            (HubSpot: five per second). None switches the limit off, e.g. for tests that page
            through 10,000 results. HubSpot counts per account; with one token that is the same.
        search_rate_window: Length of the sliding window in seconds. Tests use short windows
            (or long ones with a tiny limit) so that they stay fast and deterministic.
        general_rate_limit: Non-search requests allowed per ``general_rate_window`` per token
            (HubSpot private apps: 100 per 10 s, "ten-secondly"). Off (None) by default.
        general_rate_window: Window for ``general_rate_limit`` in seconds.
        retry_after: Fixed ``Retry-After`` seconds on every 429. None (the default) sends the
            seconds until the window frees a slot, rounded up, at least 1. Tests set 0 so that
            a client which honours the header retries without sleeping.
        search_result_cap: The 10,000 cap; settable only to explore, keep the real value.
        granted_scopes: The private app's scopes; None (the default) grants every scope.
        daily_limit: Requests allowed per token in this fake's "day" (its lifetime, or until
            :meth:`reset_daily_usage`); None (the default) means no daily limit and no daily
            headers.
        clock: Monotonic seconds for the rate limiter (defaults to :func:`time.monotonic`).

    Attributes:
        access_token: The token to give the client.
        search_rate_limit, search_rate_window, general_rate_limit, general_rate_window,
        retry_after, granted_scopes, daily_limit: As the arguments; tests may change them
            while the server runs.
    """

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        search_rate_limit: int | None = DEFAULT_SEARCH_RATE_LIMIT,
        search_rate_window: float = 1.0,
        general_rate_limit: int | None = None,
        general_rate_window: float = 10.0,
        retry_after: int | None = None,
        search_result_cap: int = SEARCH_RESULT_CAP,
        granted_scopes: Iterable[str] | None = None,
        daily_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.access_token = access_token
        self.search_rate_limit = search_rate_limit
        self.search_rate_window = search_rate_window
        self.general_rate_limit = general_rate_limit
        self.general_rate_window = general_rate_window
        self.retry_after = retry_after
        self.search_result_cap = search_result_cap
        self.granted_scopes = None if granted_scopes is None else set(granted_scopes)
        self.daily_limit = daily_limit
        self._daily_used: dict[str, int] = {}
        self._clock = clock
        self._tokens = {access_token}
        self._objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
        self._next_id = 1001
        self._search_cache: dict[tuple[str, str], list[StoredObject]] = {}
        self._associations: dict[tuple[str, str, str], list[str]] = {}
        self.portal_id = DEFAULT_PORTAL_ID
        self._lock = threading.RLock()
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._faults: deque[_Fault] = deque()
        self._paging_fault = PagingFault(("repeat", "empty", "stall"))
        self._log: list[LoggedRequest] = []
        self._rate_limited = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._init_writes()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeHubSpot:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", 0), _Handler, self)
            # A short poll interval keeps stop() fast; shutdown() waits for one poll tick.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                            name="fake-hubspot", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeHubSpot:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: what ``HubSpot(host=...)`` needs instead of api.hubapi.com."""
        if self._server is None:
            raise RuntimeError("FakeHubSpot is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def client(self, *, access_token: str | None = None, retry: Retry | None = None) -> HubSpot:
        """A real ``hubspot.HubSpot`` pointed at this fake (imported lazily).

        This is only ``HubSpot(access_token=..., host=self.base_url, retry=retry)``; the
        ``host`` keyword is what keeps the client off ``https://api.hubapi.com``.
        """
        from hubspot import HubSpot

        return HubSpot(access_token=access_token or self.access_token, host=self.base_url,
                       retry=retry)

    # -- tokens, faults, the request log -----------------------------------------------------

    def add_token(self, token: str) -> None:
        """Accept another token (rate limits are kept per token)."""
        with self._lock:
            self._tokens.add(token)

    def revoke_token(self, token: str) -> None:
        """Stop accepting ``token``; later requests with it get 401."""
        with self._lock:
            self._tokens.discard(token)

    def fail_next(self, count: int = 1, status: int = 503, *,
                  retry_after: int | None = None, path: str | None = None) -> None:
        """Answer the next ``count`` requests, of any kind, with ``status``.

        Faults come before authentication and rate limiting: they stand for HubSpot (or its
        edge) being unavailable, not for the portal refusing the call. A 429 gets the rate
        limit body and a ``Retry-After`` (``retry_after``, else the fake's setting, else 1);
        other statuses get ``Retry-After`` only when ``retry_after`` is given. Calls queue up:
        ``fail_next(1, 502); fail_next(1, 429)`` fails the next two requests in that order.
        With ``path``, only requests whose path and query contain it are failed (e.g.
        ``"/crm/v4/associations/"``, ``"/search"``, ``"archived=True"``); others pass.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        with self._lock:
            self._faults.extend([_Fault(status, retry_after, path)] * count)

    def clear_faults(self) -> None:
        """Forget injected faults (and a paging fault) that no request has used up yet."""
        with self._lock:
            self._faults.clear()
            self._paging_fault.set(None)

    def loop_paging(self, mode: str, times: int = 50) -> None:
        """Page as a broken server or an API mock would, which would keep a client paging forever.

        ``"repeat"``: every list page and every association result offers the same
        ``paging.next.after`` (:data:`REPEATED_AFTER`, as a mock serving the spec's examples
        does), whatever ``after`` was asked: the first page again and again.
        ``"empty"``: list pages are empty but each offers a new ``paging.next.after``.
        ``"stall"``: search ignores its filters, so a keyset search gets the first page of its
        sort again and again.

        After ``times`` such answers the fake pages correctly again, so a client without a loop
        check ends (and its test fails on what it did) instead of hanging the test run.
        """
        with self._lock:
            self._paging_fault.set(mode, times)

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Every request answered so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    @property
    def request_count(self) -> int:
        """How many requests the fake has answered, whatever the status."""
        with self._lock:
            return len(self._log)

    @property
    def rate_limited_count(self) -> int:
        """How many 429s the fake has sent, injected ones included."""
        with self._lock:
            return self._rate_limited

    def clear_request_log(self) -> None:
        """Forget the log and the counters (not the rate-limit windows)."""
        with self._lock:
            self._log.clear()
            self._rate_limited = 0

    def reset_daily_usage(self) -> None:
        """Start a new "day" for ``daily_limit`` (HubSpot resets at midnight, portal time)."""
        with self._lock:
            self._daily_used.clear()

    # -- test-side data ----------------------------------------------------------------------

    def add(
        self,
        object_type: str,
        properties: Mapping[str, object] | None = None,
        *,
        created_at: datetime,
        updated_at: datetime,
        history: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        source_type: str = "CRM_UI",
        source_id: str | None = None,
    ) -> str:
        """Create an object and return its id (numeric string, increasing across types).

        Every property gets one history entry at ``created_at`` (with ``source_type`` and
        ``source_id``), like a record created with those values. ``history`` replaces that for
        the properties it names: entries in the API's own shape, **newest first**
        (``{"value", "timestamp", "sourceType", "sourceId"?}``; ``timestamp`` may be a
        datetime). The newest entry's value becomes the current value unless ``properties``
        gives one, in which case the two must agree -- a mismatch is a bug in the test.

        Args:
            object_type: One of :data:`OBJECT_TYPES`.
            properties: Property values; non-strings are converted by :func:`property_value`.
            created_at: ``createdAt`` (aware datetime).
            updated_at: ``updatedAt`` and ``hs_lastmodifieddate`` (aware, not before
                ``created_at``).
            history: Explicit ``propertiesWithHistory`` entries per property.
            source_type: ``sourceType`` of the generated history entries.
            source_id: ``sourceId`` of the generated history entries.

        Raises:
            ValueError: On an unknown type, naive datetimes, or inconsistent history.
        """
        store = self._store(object_type)
        created, updated = _aware(created_at), _aware(updated_at)
        if updated < created:
            raise ValueError("updated_at is before created_at")
        values = {name: property_value(value) for name, value in (properties or {}).items()}
        explicit = {name: _history_entries(name, entries)
                    for name, entries in (history or {}).items()}
        for name, entries in explicit.items():
            if not entries:
                continue
            if name in values and values[name] != entries[0]["value"]:
                raise ValueError(f"{name}: properties say {values[name]!r} but the newest "
                                 f"history entry says {entries[0]['value']!r}")
            values.setdefault(name, entries[0]["value"])
        with self._lock:
            object_id = str(self._next_id)
            self._next_id += 1
            record = StoredObject(object_type, object_id, {}, created, updated)
            for name, value in values.items():
                record.set(name, value)
            generated = _entry(created, source_type, source_id)
            for name, value in values.items():
                if name in explicit:
                    record.history[name] = explicit[name]
                elif value is not None:
                    record.history[name] = [{"value": value, **generated}]
            self._stamp(record)
            store[object_id] = record
            self._changed()
        return object_id

    def update(
        self,
        object_type: str,
        object_id: str,
        properties: Mapping[str, object],
        *,
        updated_at: datetime,
        source_type: str = "CRM_UI",
        source_id: str | None = None,
    ) -> None:
        """Change properties as a user or integration would: new values, new history, new stamp.

        Each changed property gets a history entry at ``updated_at`` in front of its list (a
        cleared property's entry has value ``""``); ``updatedAt`` and ``hs_lastmodifieddate``
        move to ``updated_at``, which must not go backwards.
        """
        when = _aware(updated_at)
        with self._lock:
            record = self._record(object_type, object_id)
            if when < record.updated_at:
                raise ValueError("updated_at goes backwards")
            for name, raw in properties.items():
                value = property_value(raw)
                if record.properties.get(name) == value and name in record.properties:
                    continue
                record.set(name, value)
                entry = {"value": "" if value is None else value,
                         **_entry(when, source_type, source_id)}
                record.history.setdefault(name, []).insert(0, entry)
            record.updated_at = when
            self._stamp(record)
            self._changed()

    def forget_history(self, object_type: str, object_id: str, name: str, index: int, *,
                       updated_at: datetime) -> None:
        """Remove one ``propertiesWithHistory`` entry (``index`` counts newest first) and move
        the stamp, as when history is deleted (a GDPR deletion, a property deleted and made
        again): the record is read again and must lose what the entry said."""
        with self._lock:
            record = self._record(object_type, object_id)
            del record.history[name][index]
            record.updated_at = _aware(updated_at)
            self._stamp(record)
            self._changed()

    def archive(self, object_type: str, object_id: str, *, archived_at: datetime) -> None:
        """Move an object to the recycling bin (what ``DELETE`` does in HubSpot).

        Archived objects vanish from search and from default list/get calls and show up only
        with ``archived=true``, with ``archived: true`` and ``archivedAt``. ``updatedAt`` is
        left alone (whether HubSpot moves it is not documented).
        """
        with self._lock:
            record = self._record(object_type, object_id)
            record.archived_at = _aware(archived_at)
            self._changed()

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Associate two objects (both directions), as the CRM UI or an integration would."""
        with self._lock:
            self._record(from_type, from_id)
            self._record(to_type, to_id)
            for a, a_id, b, b_id in ((from_type, from_id, to_type, to_id),
                                     (to_type, to_id, from_type, from_id)):
                linked = self._associations.setdefault((a, str(a_id), b), [])
                if str(b_id) not in linked:
                    linked.append(str(b_id))

    def get(self, object_type: str, object_id: str) -> StoredObject:
        """The stored object itself (live, not a copy), for assertions in tests.

        Read it, do not change it: changes must go through :meth:`update` or :meth:`archive`,
        which keep the history, the system properties and the search cache in step.
        """
        with self._lock:
            return self._record(object_type, object_id)

    def objects(self, object_type: str) -> list[StoredObject]:
        """Every stored object of a type, archived ones included, in id order."""
        with self._lock:
            return sorted(self._store(object_type).values(), key=lambda r: int(r.id))

    @staticmethod
    def system_properties(object_type: str) -> tuple[str, ...]:
        """Properties every response carries whatever was asked: id, create and modify dates.

        HubSpot's guides show ``hs_object_id``, the create date and the last-modified date in
        every search result even when ``properties`` names others; the fake does the same for
        list and get (assumed to match).
        """
        created = "createdate" if object_type in _CREATEDATE_TYPES else "hs_createdate"
        return ("hs_object_id", created, "hs_lastmodifieddate")

    def _changed(self) -> None:
        """Data moved: cached search results are stale."""
        self._search_cache.clear()

    def _store(self, object_type: str) -> dict[str, StoredObject]:
        try:
            return self._objects[object_type]
        except KeyError:
            raise ValueError(f"unknown object type {object_type!r}; "
                             f"the fake serves {', '.join(OBJECT_TYPES)}") from None

    def _record(self, object_type: str, object_id: str) -> StoredObject:
        record = self._store(object_type).get(str(object_id))
        if record is None:
            raise KeyError(f"no {object_type} with id {object_id}")
        return record

    @staticmethod
    def _stamp(record: StoredObject) -> None:
        """Keep the system properties in step with the object's own fields."""
        record.set("hs_object_id", record.id)
        record.set("hs_createdate", hubspot_datetime(record.created_at))
        if record.object_type in _CREATEDATE_TYPES:
            record.set("createdate", hubspot_datetime(record.created_at))
        record.set("hs_lastmodifieddate", hubspot_datetime(record.updated_at))

    # -- the HTTP side -----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> _Response:
        """Answer one request; the HTTP handler is a thin shell around this.

        The whole exchange runs under the lock, so concurrent clients see a consistent portal,
        rate-limit windows are exact, and the log is in the order requests were answered.
        """
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        token = _bearer(headers)
        parsed_body, body_error = _parse_body(body)
        with self._lock:
            try:
                response = self._route(method, parts.path, query, token, parsed_body,
                                       body_error)
            except _RequestError as error:
                response = _error(error.status, error.message, error.category, **error.extra)
            if response.status == 429:
                self._rate_limited += 1
            correlation_id = str(uuid.uuid4())
            if isinstance(response.payload, dict) and response.payload.get("status") == "error":
                response.payload["correlationId"] = correlation_id
            response.headers["x-hubspot-correlation-id"] = correlation_id
            self._log.append(LoggedRequest(method, parts.path, query, parsed_body,
                                           response.status, token))
            return response

    def _route(self, method: str, path: str, query: dict[str, list[str]], token: str | None,
               body: Any, body_error: str | None) -> _Response:
        target = f"{path}?{urlencode(query, doseq=True)}" if query else path
        fault = next((f for f in self._faults if f.path is None or f.path in target), None)
        if fault is not None:
            self._faults.remove(fault)
            return self._injected(fault)
        if token is None or token not in self._tokens:
            return _error(401, AUTH_FAILURE_MESSAGE, "INVALID_AUTHENTICATION")
        response = self._route_authenticated(method, path, query, token, body, body_error)
        if self.daily_limit is not None and response.status != 429:
            self._daily_used[token] = self._daily_used.get(token, 0) + 1
            if not path.endswith("/search"):
                remaining = max(0, self.daily_limit - self._daily_used[token])
                response.headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
                response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(remaining)
        return response

    def _route_authenticated(self, method: str, path: str, query: dict[str, list[str]],
                             token: str, body: Any, body_error: str | None) -> _Response:
        if self.daily_limit is not None and self._daily_used.get(token, 0) >= self.daily_limit:
            # The rate-limit body of the secondly 429 with the daily policy (assumed: the
            # guidelines show the body for other policies); no Retry-After, as the limit
            # resets at midnight in the portal's time zone.
            return _error(429, "You have reached your daily limit.", "RATE_LIMITS",
                          errorType="RATE_LIMIT", policyName="DAILY")
        if path.rstrip("/") == ACCOUNT_INFO_PATH and method == "GET":
            return self._admit(token, False) or self._account_info()
        written = self._route_writes(method, path, query, token, body, body_error)
        if written is not None:
            return written
        associations = _ASSOCIATIONS_RE.match(path)
        if associations is not None and method == "POST":
            if body_error is not None:
                raise _validation_error(body_error)
            from_type, to_type = associations.group("from"), associations.group("to")
            return (self._missing_scopes(from_type, to_type) or self._admit(token, False)
                    or self._association_batch(from_type, to_type, body))
        match = _PATH_RE.match(path)
        if match is None:
            return _error(404, "resource not found", NOT_FOUND)  # fake text
        object_type, rest = match.group("type"), match.group("rest")
        if object_type not in self._objects:
            # HubSpot's wording as remembered from its answers, not from a checked source;
            # the category is assumed too.
            raise _validation_error(f"Unable to infer object type from: {object_type}")
        refused = self._missing_scopes(object_type)
        if refused is not None:
            return refused
        is_search = rest == "search"
        if rest == "batch/read":
            if method != "POST":
                return _error(405, f"{method} is not supported by FakeHubSpot on {path}",
                          "VALIDATION_ERROR")
            if body_error is not None:
                raise _validation_error(body_error)
            return self._admit(token, False) or self._batch_read(object_type, body, query)
        if method != ("POST" if is_search else "GET"):
            return _error(405, f"{method} is not supported by FakeHubSpot on {path}",
                          "VALIDATION_ERROR")
        refused = self._admit(token, is_search)
        if refused is not None:
            return refused
        if is_search:
            if body_error is not None:
                raise _validation_error(body_error)
            return self._search(object_type, body)
        if rest is None:
            return self._list(object_type, query)
        return self._get(object_type, rest, query)

    # -- scopes, rate limits and faults ------------------------------------------------------

    def _missing_scopes(self, *object_types: str) -> _Response | None:
        """403 ``MISSING_SCOPES`` naming the scopes the app lacks for these object types."""
        if self.granted_scopes is None:
            return None
        needed = [scope for t in object_types for scope in READ_SCOPES.get(t, ())]
        missing = [s for s in dict.fromkeys(needed) if s not in self.granted_scopes]
        if not missing:
            return None
        return _error(403, MISSING_SCOPES_MESSAGE, "MISSING_SCOPES", errors=[{
            "message": "One or more of the following scopes are required.",
            "context": {"requiredGranularScopes": missing}}],
            links={"scopes": "https://developers.hubspot.com/scopes"})

    def _admit(self, token: str, is_search: bool) -> _Response | None:
        """Sliding-window limiter per token; returns the 429 when the window is full.

        Search is counted apart from everything else: the spec marks the search operation
        exempt from the "ten-secondly" limit, and the guide gives search its own per-second one.
        """
        if is_search:
            limit, window, policy = self.search_rate_limit, self.search_rate_window, "SECONDLY"
        else:
            limit, window = self.general_rate_limit, self.general_rate_window
            policy = "TEN_SECONDLY_ROLLING"
        if limit is None:
            return None
        now = self._clock()
        hits = self._windows.setdefault((token, "search" if is_search else "general"), deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) < limit:
            hits.append(now)
            return None
        wait = hits[0] + window - now
        return self._rate_limit_response(policy, max(1, math.ceil(wait)))

    def _rate_limit_response(self, policy: str, computed_retry_after: int, *,
                             retry_after: int | None = None) -> _Response:
        """429 with HubSpot's documented rate-limit body plus the ``category`` of ``Error``.

        The usage guidelines show ``status``, ``message``, ``errorType: RATE_LIMIT``,
        ``correlationId`` and ``policyName``; integrators' captures show
        ``category: RATE_LIMITS`` too, and the spec's ``Error`` schema requires ``category``.
        ``Retry-After`` is this fake's: HubSpot's docs do not promise the header.
        """
        if retry_after is None:
            retry_after = computed_retry_after if self.retry_after is None else self.retry_after
        label = "secondly" if policy == "SECONDLY" else policy.lower()
        response = _error(429, f"You have reached your {label} limit.", "RATE_LIMITS",
                          errorType="RATE_LIMIT", policyName=policy)
        response.headers["Retry-After"] = str(retry_after)
        return response

    def _injected(self, fault: _Fault) -> _Response:
        if fault.status == 429:
            return self._rate_limit_response("SECONDLY", 1, retry_after=fault.retry_after)
        # Fake text and category: HubSpot's 5xx bodies are not documented (some come from
        # its CDN as HTML); a client should go by the status alone.
        response = _error(fault.status, f"FakeHubSpot injected HTTP {fault.status}",
                          "INTERNAL_ERROR")
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response

    # -- endpoints ---------------------------------------------------------------------------

    def _list(self, object_type: str, query: dict[str, list[str]]) -> _Response:
        """``GET /crm/v3/objects/{objectType}``: id order, ``after`` is an opaque id cursor."""
        archived = _query_bool(query, "archived")
        with_history = _query_list(query, "propertiesWithHistory")
        ceiling = LIST_MAX_LIMIT_WITH_HISTORY if with_history else LIST_MAX_LIMIT
        limit = min(_query_int(query, "limit", LIST_DEFAULT_LIMIT), ceiling)
        repeat = self._paging_fault.hits("repeat")
        after = 0 if repeat else _query_int(query, "after", 0)
        candidates = sorted((r for r in self._objects[object_type].values()
                             if r.archived == archived and int(r.id) >= after),
                            key=lambda r: int(r.id))
        page = candidates[:limit]
        properties = _query_list(query, "properties")
        payload: dict[str, Any] = {
            "results": [self._render(r, properties, with_history) for r in page],
        }
        if len(candidates) > limit:
            cursor = str(int(candidates[limit].id))
            params = {k: v for k, v in query.items() if k != "after"}
            params["after"] = [cursor]
            payload["paging"] = {"next": {
                "after": cursor,
                "link": f"{self.base_url}/crm/v3/objects/{object_type}?"
                        f"{urlencode(params, doseq=True)}",
            }}
        if repeat:
            payload["paging"] = {"next": {"after": REPEATED_AFTER}}
        elif self._paging_fault.hits("empty"):
            payload["results"] = []
            payload["paging"] = {"next": {"after": str(after + limit)}}
        return _Response(200, payload)

    def _get(self, object_type: str, object_id: str, query: dict[str, list[str]]) -> _Response:
        """``GET /crm/v3/objects/{objectType}/{objectId}``.

        ``archived`` means "only archived": an archived object is 404 without it, a live one
        is 404 with it. The 404 body is assumed (``"resource not found"``, no category).
        """
        if "idProperty" in query:
            raise _validation_error("FakeHubSpot does not support idProperty")
        record = self._objects[object_type].get(object_id)
        if record is None or record.archived != _query_bool(query, "archived"):
            return _error(404, "resource not found", NOT_FOUND)
        return _Response(200, self._render(record, _query_list(query, "properties"),
                                           _query_list(query, "propertiesWithHistory")))

    def _account_info(self) -> _Response:
        """``GET /account-info/v3/details``: ``PortalInformationResponse``, its required fields
        (``accountType`` is one of ``APP_DEVELOPER DEVELOPER_TEST SANDBOX STANDARD``)."""
        return _Response(200, {
            "portalId": self.portal_id, "accountType": "STANDARD",
            "timeZone": "Europe/Amsterdam", "companyCurrency": "EUR",
            "additionalCurrencies": [], "utcOffset": "+01:00", "utcOffsetMilliseconds": 3600000,
            "uiDomain": "app-eu1.hubspot.com", "dataHostingLocation": "eu1",
        })

    def _batch_read(self, object_type: str, body: Any, query: dict[str, list[str]]) -> _Response:
        """``POST /crm/v3/objects/{objectType}/batch/read``.

        The body is ``BatchReadInputSimplePublicObjectId``.

        Answers ``BatchResponseSimplePublicObject``: ``status: COMPLETE``, ``results``,
        ``startedAt``, ``completedAt``. Ids that do not exist (or are archived, unless
        ``archived=true``) are left out and reported in ``errors`` with HTTP 207, the spec's
        ``BatchResponseSimplePublicObjectWithErrors`` (the error's wording is assumed).
        """
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise _validation_error("Invalid input JSON: inputs must be a list")
        ids = [str(item.get("id")) for item in body["inputs"] if isinstance(item, dict)]
        if len(ids) > BATCH_READ_LIMIT:
            raise _validation_error(f"Too many inputs ({len(ids)}); the limit is "
                                    f"{BATCH_READ_LIMIT}")
        archived = _query_bool(query, "archived")
        store = self._objects[object_type]
        found = [store[i] for i in ids if i in store and store[i].archived == archived]
        missing = [i for i in ids if i not in store or store[i].archived != archived]
        now = hubspot_datetime(datetime.now(UTC))
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": [self._render(r, _body_properties(body),
                                     [str(p) for p in body.get("propertiesWithHistory") or []])
                        for r in found],
            "startedAt": now, "completedAt": now,
        }
        if missing:
            payload["numErrors"] = 1
            payload["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                                  "message": "Could not get some objects, they may be "
                                             "deleted or not exist.",
                                  "context": {"ids": missing}, "errors": [], "links": {}}]
            return _Response(207, payload)
        return _Response(200, payload)

    def _association_batch(self, from_type: str, to_type: str, body: Any) -> _Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``.

        One result per input id that has associations: ``{"from": {"id"}, "to":
        [{"toObjectId", "associationTypes": [{"category", "typeId", "label"}]}]}``. Ids
        without associations are left out (assumption: HubSpot reports them as errors).
        """
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise _validation_error("Invalid input JSON: inputs must be a list")
        for name in (from_type, to_type):
            if name not in self._objects:
                raise _validation_error(f"Unable to infer object type from: {name}")
        type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type), 0)
        results = []
        for item in body["inputs"]:
            from_id = str(item.get("id")) if isinstance(item, dict) else ""
            linked = self._associations.get((from_type, from_id, to_type), [])
            if linked:
                results.append({"from": {"id": from_id}, "to": [
                    {"toObjectId": int(to_id), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]}
                    for to_id in linked]})
                if self._paging_fault.hits("repeat"):
                    results[-1]["paging"] = {"next": {"after": REPEATED_AFTER}}
        now = hubspot_datetime(datetime.now(UTC))
        return _Response(200, {"status": "COMPLETE", "results": results,
                               "startedAt": now, "completedAt": now})

    def _search(self, object_type: str, body: Any) -> _Response:
        """``POST /crm/v3/objects/{objectType}/search``: filters, one sort, offset paging.

        ``after`` is the offset into the sorted result (a numeric string, as HubSpot's is).
        A page that would reach past ``search_result_cap`` is refused with 400, even though
        the previous page still offered ``paging.next.after`` -- that is the trap the
        connector must avoid by slicing on ``hs_lastmodifieddate`` or ``hs_object_id``.

        The fake refuses any page with ``after + limit`` above the cap. The evidence only says
        that paging *beyond* 10,000 fails; whether HubSpot answers a page straddling the
        boundary (``after=9900, limit=200``) with a short page is not known, so the fake takes
        the stricter reading: a client that passes here passes under either.
        """
        if not isinstance(body, dict):
            raise _validation_error("Invalid input JSON: expected a search request object")
        if body.get("query"):
            raise _validation_error("FakeHubSpot does not support the free-text query")
        limit = _body_int(body, "limit", SEARCH_DEFAULT_LIMIT)
        if limit < 1:
            raise _validation_error("limit must be positive")
        limit = min(limit, SEARCH_MAX_LIMIT)  # "up to 200": larger values are clamped
        after = _body_int(body, "after", 0)
        if after < 0:
            raise _validation_error("after must not be negative")
        if after + limit > self.search_result_cap:
            raise _validation_error(SEARCH_CAP_MESSAGE)
        if self._paging_fault.hits("stall"):
            body = {**body, "filterGroups": []}
        matches = self._matches(object_type, body)
        page = matches[after:after + limit]
        properties = _body_properties(body)
        payload: dict[str, Any] = {
            "total": len(matches),
            "results": [self._render(r, properties, (), search=True) for r in page],
        }
        if after + limit < len(matches):
            payload["paging"] = {"next": {"after": str(after + limit)}}
        return _Response(200, payload)

    def _matches(self, object_type: str, body: Mapping[str, Any]) -> list[StoredObject]:
        """Filtered, sorted search results, cached until the data changes.

        A client pages through one query with the same filters and sorts many times; with
        10,000 objects evaluating it once keeps the fake fast. Results are the same either
        way, because any change to the data empties the cache.
        """
        groups = _filter_groups(body)
        sorts = body.get("sorts")
        key = (object_type, json.dumps([groups, sorts], sort_keys=True, default=str))
        cached = self._search_cache.get(key)
        if cached is not None:
            return cached
        tests = [[_compile_filter(f) for f in group] for group in groups]
        matches = [r for r in self._objects[object_type].values()
                   if not r.archived and (not tests or any(
                       all(test(r) for test in group) for group in tests))]
        result = _sorted(matches, sorts)
        self._search_cache[key] = result
        return result

    def _render(self, record: StoredObject, properties: list[str],
                with_history: Iterable[str], *, search: bool = False) -> dict[str, Any]:
        """One object in the response shape of ``SimplePublicObject``.

        Named properties the object does not have are left out, as the spec says for list
        and get ("they will be ignored"). Search results carry no ``archivedAt`` because
        search never returns archived objects.
        """
        names = properties or list(DEFAULT_PROPERTIES.get(record.object_type, ()))
        wanted = [*names, *self.system_properties(record.object_type)]
        rendered: dict[str, Any] = {
            "id": record.id,
            "properties": {name: record.properties[name] for name in dict.fromkeys(wanted)
                           if name in record.properties},
            "createdAt": hubspot_datetime(record.created_at),
            "updatedAt": hubspot_datetime(record.updated_at),
            "archived": record.archived,
        }
        if record.archived_at is not None and not search:
            rendered["archivedAt"] = hubspot_datetime(record.archived_at)
        history = {name: [dict(entry) for entry in record.history[name]]
                   for name in with_history if name in record.history}
        if history:
            rendered["propertiesWithHistory"] = history
        return rendered


# --- search semantics -------------------------------------------------------------------------


def _filter_groups(body: Mapping[str, Any]) -> list[list[Mapping[str, Any]]]:
    """Validate ``filterGroups``; groups are OR-ed, filters inside a group AND-ed."""
    raw = body.get("filterGroups") or []
    if not isinstance(raw, list) or not all(isinstance(g, dict) for g in raw):
        raise _validation_error("Invalid input JSON: filterGroups must be a list of objects")
    groups = [g.get("filters") or [] for g in raw]
    if len(groups) > FILTER_GROUP_LIMIT:
        raise _validation_error(f"Too many filter groups ({len(groups)}); "
                                f"the maximum is {FILTER_GROUP_LIMIT}")
    if any(len(g) > FILTERS_PER_GROUP_LIMIT for g in groups) \
            or sum(len(g) for g in groups) > FILTER_TOTAL_LIMIT:
        raise _validation_error(f"Too many filters: at most {FILTERS_PER_GROUP_LIMIT} per "
                                f"group and {FILTER_TOTAL_LIMIT} in all")
    for group in groups:
        for item in group:
            _check_filter(item)
    return groups


def _check_filter(item: Any) -> None:
    if not isinstance(item, dict) or not item.get("propertyName"):
        raise _validation_error("Invalid input JSON: a filter needs propertyName and operator")
    operator = item.get("operator")
    if operator not in _KNOWN_OPERATORS:
        raise _validation_error(f"Invalid input JSON: unknown operator {operator!r}")
    if operator not in _SUPPORTED_OPERATORS:
        raise _validation_error(f"FakeHubSpot does not support operator {operator}")
    if operator in _COMPARISON_OPERATORS and item.get("value") is None:
        raise _validation_error(f"Invalid input JSON: {operator} needs a value")
    if operator == "BETWEEN" and (item.get("value") is None or item.get("highValue") is None):
        raise _validation_error("Invalid input JSON: BETWEEN needs value and highValue")
    if operator in ("IN", "NOT_IN") and not isinstance(item.get("values"), list):
        raise _validation_error(f"Invalid input JSON: {operator} needs values")


class _Operand:
    """A filter value, parsed once per request rather than once per object."""

    def __init__(self, raw: Any) -> None:
        self.text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        self.number = _as_number(self.text)
        self.folded = self.text.casefold()
        self.is_date = bool(_DATE_RE.match(self.text))


def _compare(record: StoredObject, name: str, operand: _Operand) -> int | None:
    """Three-way compare a property with a filter value; None when they cannot be compared.

    Numbers and datetimes compare as numbers (datetimes as epoch milliseconds, whichever
    form the filter uses); anything else compares as text, case-insensitively.
    """
    stored = record.properties.get(name)
    if stored is None:
        return None
    left, right = record.number(name), operand.number
    if left is not None and right is not None:
        return (left > right) - (left < right)
    if (left is None) != (right is None) and (operand.is_date or _DATE_RE.match(stored)):
        return None  # a date against a non-date never matches
    a, b = stored.casefold(), operand.folded
    return (a > b) - (a < b)


_OUTCOMES: Mapping[str, Callable[[int], bool]] = {
    "EQ": lambda c: c == 0, "NEQ": lambda c: c != 0, "LT": lambda c: c < 0,
    "LTE": lambda c: c <= 0, "GT": lambda c: c > 0, "GTE": lambda c: c >= 0,
}


def _compile_filter(item: Mapping[str, Any]) -> Callable[[StoredObject], bool]:
    """Turn one validated filter into a predicate over stored objects."""
    name, operator = item["propertyName"], item["operator"]
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        wanted = operator == "HAS_PROPERTY"
        return lambda r: (r.properties.get(name) not in (None, "")) == wanted
    if operator in ("IN", "NOT_IN"):
        operands = [_Operand(v) for v in item["values"]]
        if operator == "IN":
            return lambda r: any(_compare(r, name, o) == 0 for o in operands)
        return lambda r: name in r.properties and all(
            _compare(r, name, o) != 0 for o in operands)
    if operator == "BETWEEN":
        low, high = _Operand(item["value"]), _Operand(item["highValue"])

        def between(r: StoredObject) -> bool:
            above, below = _compare(r, name, low), _compare(r, name, high)
            return above is not None and below is not None and above >= 0 and below <= 0

        return between
    operand, outcome = _Operand(item["value"]), _OUTCOMES[operator]

    def compare(r: StoredObject) -> bool:
        result = _compare(r, name, operand)
        if result is None:
            return operator == "NEQ" and r.properties.get(name) is None
        return outcome(result)

    return compare


def _sorted(records: list[StoredObject], sorts: Any) -> list[StoredObject]:
    """Order search results by the first sort, ties and the no-sort case by id ascending.

    ``sorts`` items may be ``{"propertyName", "direction"}`` (the guide's form) or a plain
    property name (the spec types items as strings; read as ascending, ``-name`` as
    descending -- an assumption). Only the first sort is applied. Objects without the
    property come last in both directions (assumption).
    """
    by_id = sorted(records, key=lambda r: int(r.id))
    if not sorts:
        return by_id
    if not isinstance(sorts, list):
        raise _validation_error("Invalid input JSON: sorts must be a list")
    first = sorts[0]
    if isinstance(first, str):
        name, descending = first.lstrip("-"), first.startswith("-")
    elif isinstance(first, dict) and first.get("propertyName"):
        name = first["propertyName"]
        direction = first.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise _validation_error(f"Invalid input JSON: unknown sort direction {direction!r}")
        descending = direction == "DESCENDING"
    else:
        raise _validation_error("Invalid input JSON: a sort needs propertyName")
    present = [r for r in by_id if r.properties.get(name) is not None]
    missing = [r for r in by_id if r.properties.get(name) is None]

    def key(record: StoredObject) -> tuple[int, Any]:
        number = record.number(name)
        if number is not None:
            return (0, number)
        return (1, str(record.properties[name]).casefold())

    # Python's sort is stable also with reverse=True, so equal keys stay in id order.
    return sorted(present, key=key, reverse=descending) + missing


# --- small helpers ----------------------------------------------------------------------------


def _entry(when: datetime, source_type: str, source_id: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"timestamp": hubspot_datetime(when), "sourceType": source_type}
    if source_id is not None:
        entry["sourceId"] = source_id
    return entry


def _history_entries(name: str, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Normalise test-given history to the wire shape and insist on newest-first order."""
    result: list[dict[str, Any]] = []
    for entry in entries:
        if "value" not in entry or "timestamp" not in entry:
            raise ValueError(f"{name}: history entries need value and timestamp")
        stamp = entry["timestamp"]
        when = _aware(stamp) if isinstance(stamp, datetime) else datetime.fromisoformat(
            str(stamp).replace("Z", "+00:00"))
        normalised = {**entry, "value": property_value(entry["value"]) or "",
                      "timestamp": hubspot_datetime(when)}
        normalised.setdefault("sourceType", "CRM_UI")
        result.append(normalised)
    stamps = [datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) for e in result]
    if stamps != sorted(stamps, reverse=True):
        raise ValueError(f"{name}: history must be newest first, as the API returns it")
    return result


def _error(status: int, message: str, category: str, **extra: Any) -> _Response:
    """HubSpot's error envelope: ``status``, ``message``, ``correlationId``, ``category``
    (the last three required by the specs' ``Error`` schema)."""
    payload: dict[str, Any] = {"status": "error", "message": message, "correlationId": "",
                               "category": category}
    payload.update(extra)
    return _Response(status, payload)


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _parse_body(body: bytes) -> tuple[Any, str | None]:
    """The JSON body and, if it does not parse, why (kept for the log and for search)."""
    if not body:
        return None, None
    try:
        return json.loads(body), None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return body.decode(errors="replace"), f"Invalid input JSON: {error}"


def _query_list(query: Mapping[str, list[str]], name: str) -> list[str]:
    """A multi-valued parameter: repeated (as the client sends it) or comma separated."""
    return [item for value in query.get(name, []) for item in value.split(",") if item]


def _query_bool(query: Mapping[str, list[str]], name: str) -> bool:
    """Booleans case-insensitively: hubspot-api-client sends Python's ``True``/``False``."""
    values = query.get(name)
    return bool(values) and values[-1].strip().lower() == "true"


def _query_int(query: Mapping[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values or values[-1] == "":
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise _validation_error(f"{name} must be an integer, got {values[-1]!r}") from None


def _body_int(body: Mapping[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _validation_error(f"Invalid input JSON: {name} must be an integer") from None


def _body_properties(body: Mapping[str, Any]) -> list[str]:
    properties = body.get("properties") or []
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        raise _validation_error("Invalid input JSON: properties must be a list of names")
    return properties


# --- transport --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that does not wait for idle keep-alive connections on close."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 fake: FakeHubSpot) -> None:
        super().__init__(address, handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops its keep-alive socket; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(FakeHandler):
    server_version = "FakeHubSpot/1.0"
    server: _Server

    def reply(self, response: _Response) -> Reply:
        data = b"" if response.payload is None else json.dumps(response.payload).encode()
        return response.status, {"Content-Type": JSON_CONTENT_TYPE, **response.headers}, data
