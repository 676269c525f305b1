"""The HubSpot connector: one stream per object type, read by keyset over search.

How a stream reads (and why it cannot skip or double a record):

- Search is asked for records with `hs_lastmodifieddate >= lo`, oldest first, one page of
  `page_size`. Search is never paged with `after`: offset paging over a sort key that changes
  while you page skips records, and it stops at 10,000 results. Instead each page starts a
  new query (a keyset): the records older than the page's last stamp are complete and stored
  (they are the oldest records at or after `lo`); those *at* the last stamp may continue on
  the next page, so they are read again by the next query, which starts at that stamp.
- A page whose records all share one stamp (more than `page_size` records modified in the
  same millisecond, e.g. by an import) is walked by `hs_object_id` at that stamp, also as a
  keyset, and the stream then goes on after the stamp. So any number of records at one stamp
  is read, each once.
- Archived (deleted) records come first. HubSpot offers no "archived since" filter, so every
  archived record of the type is listed (100 per call), but only those archived at or after
  the read's start (`since_us`: the cursor minus the lookback) are applied, so a quiet sync
  writes nothing. This pass runs *before* the search pages because they move the cursor: the
  next read then starts no later than this listing did, and a record archived at any moment
  is applied by one of two consecutive syncs, also when a sync fails half-way.

Records that need more than search returns get it per page: property histories (deal
stages, ticket stages, quote statuses) by batch read, associations (a quote's deal, an
engagement's ticket or deal) by the v4 associations batch read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from qmon.connectors.base import (
    ApiUsage,
    Finding,
    Page,
    RecordChange,
    SourceAuthError,
    SourceUnreachable,
    SyncError,
)
from qmon.connectors.hubspot.api import HubSpotApi, MissingScopes, next_after
from qmon.connectors.hubspot.mapping import KINDS, HubSpotMapper, parse_time
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec

log = logging.getLogger(__name__)

MODIFIED = "hs_lastmodifieddate"

_SCOPES_PAGE = "Settings > Integrations > Private apps > your app > Scopes"
_ENGAGEMENTS = ("crm.objects.contacts.read",)
#: The private-app scopes reading each object type needs (the objects' API specs), for
#: `qmon sources check` when HubSpot's 403 does not name them.
SCOPES: Mapping[str, tuple[str, ...]] = {
    "deals": ("crm.objects.deals.read",),
    "tickets": ("tickets",),
    "quotes": ("crm.objects.quotes.read",),
    "calls": _ENGAGEMENTS,
    "emails": _ENGAGEMENTS,
    "meetings": _ENGAGEMENTS,
    "notes": _ENGAGEMENTS,
    "tasks": _ENGAGEMENTS,
    "feedback_submissions": ("crm.objects.contacts.read", "crm.objects.feedback_submissions.read"),
    "companies": ("crm.objects.companies.read",),
}


class ObjectStream:
    """The records of one HubSpot object type, oldest modification first."""

    def __init__(
        self, object_type: str, api: HubSpotApi, mapper: HubSpotMapper, page_size: int
    ) -> None:
        self.name = object_type
        self._api = api
        self._mapper = mapper
        self._page_size = page_size
        self._kind = KINDS[object_type]

    def read(self, since_us: int | None) -> Iterator[Page]:
        yield from self._archived(since_us)
        lo = 0 if since_us is None else max(0, since_us // 1000)
        keyset = self._api.trail(self.name, f"search by {MODIFIED}")
        while True:
            keyset.advance(lo)
            results = self._search([_filter(MODIFIED, "GTE", lo)], MODIFIED)
            if not results:
                break
            stamps = [_stamp(r) for r in results]
            if stamps != sorted(stamps):
                raise SourceUnreachable(
                    f"HubSpot returned {self.name} out of {MODIFIED} order; cannot page safely"
                )
            last = stamps[-1]
            if len(results) < self._page_size:
                yield self._page(results, last * 1000)
                return
            if stamps[0] < last:
                done = [r for r, s in zip(results, stamps, strict=True) if s < last]
                yield self._page(done, last * 1000)
                lo = last
            else:
                yield from self._walk_stamp(last)
                lo = last + 1

    def _walk_stamp(self, stamp: int) -> Iterator[Page]:
        """All records modified at exactly `stamp`, by ascending id."""
        after_id = 0
        keyset = self._api.trail(self.name, f"search by hs_object_id at {MODIFIED} {stamp}")
        while True:
            keyset.advance(after_id)
            results = self._search(
                [_filter(MODIFIED, "EQ", stamp), _filter("hs_object_id", "GT", after_id)],
                "hs_object_id",
            )
            if results:
                yield self._page(results, stamp * 1000)
            if len(results) < self._page_size:
                return
            after_id = int(results[-1]["id"])

    def _archived(self, since_us: int | None) -> Iterator[Page]:
        """Deletions for the records archived at or after `since_us` (all when None)."""
        after = None
        trail = self._api.trail(self.name, "the list of archived records")
        while True:
            answer = self._api.archived_page(self.name, after, self._page_size)
            records = answer.get("results", [])
            after = trail.follow(next_after(answer), records=len(records))
            changes = []
            for record in records:
                archived_us = parse_time(record.get("archivedAt"))
                if since_us is None or archived_us is None or archived_us >= since_us:
                    changes.append(RecordChange(f"{self.name}/{record['id']}", deleted=True))
            if changes:
                log.info("HubSpot %s: %d archived records", self.name, len(changes))
                yield Page(changes)
            if after is None:
                return

    def _search(self, filters: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self._mapper.properties(self.name),
            "limit": self._page_size,
        }
        results = list(self._api.search(self.name, body).get("results", []))
        log.info("HubSpot %s: %d records from search", self.name, len(results))
        return results

    def _page(self, results: list[dict[str, Any]], high_water_us: int) -> Page:
        """Map a page of search results, fetching histories and associations first."""
        ids = [str(r["id"]) for r in results]
        records = {str(r["id"]): r for r in results}
        history = self._mapper.history(self.name)
        if history:
            read = self._api.batch_read(self.name, ids, self._mapper.properties(self.name), history)
            records = {str(r["id"]): r for r in read}
        linked: dict[str, dict[str, list[str]]] = {}
        for to_type in self._kind.associations:
            for from_id, to_ids in self._api.associations(self.name, to_type, ids).items():
                linked.setdefault(from_id, {})[to_type] = to_ids
        changes = []
        for rid in ids:
            key = f"{self.name}/{rid}"
            record = records.get(rid)
            if record is None:  # archived between the search and the batch read
                changes.append(RecordChange(key, deleted=True))
            else:
                changes.append(
                    RecordChange(key, self._mapper.events(self.name, record, linked.get(rid, {})))
                )
        return Page(changes, high_water_us)


class HubSpotConnector:
    """A configured HubSpot portal."""

    def __init__(
        self,
        source: str,
        spec: HubSpotSourceSpec,
        mapping: HubSpotMappingSpec,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`clock` and `sleep` pace the calls (tests pass a virtual clock)."""
        self.source = source
        self._spec = spec
        self._mapping = mapping
        self._api = HubSpotApi(spec, clock=clock, sleep=sleep)
        self._mapper: HubSpotMapper | None = None

    def streams(self) -> Sequence[ObjectStream]:
        mapper = self._get_mapper()
        return [
            ObjectStream(t, self._api, mapper, self._spec.page_size) for t in self._objects(mapper)
        ]

    def _objects(self, mapper: HubSpotMapper) -> list[str]:
        """The configured object types, and companies when an attribute is read from them."""
        return [*self._spec.objects, *(["companies"] if mapper.reads_companies() else [])]

    def usage(self) -> ApiUsage:
        api = self._api
        return ApiUsage(calls=api.calls, remaining=api.daily_remaining, limit=api.daily_limit)

    def check(self) -> list[Finding]:
        """The token (account info, which any valid token may read), then per object type one
        search and, for types that belong to a deal or ticket, one associations read.

        Raises:
            SourceUnreachable: HubSpot could not be reached at all.
        """
        try:
            portal = self._api.portal_id()
        except SourceAuthError as exc:
            return [Finding(False, "access token", str(exc))]
        findings = [Finding(True, "access token", f"valid for portal {portal}")]
        configured = self._spec.portal_id
        if configured is not None and configured != portal:
            findings.append(Finding(False, "portal_id", (
                f"the config says {configured} but the token is for portal {portal}; record "
                f"links would point at the wrong portal: set portal_id: {portal} or remove it"
            )))  # fmt: skip
        mapper = HubSpotMapper(self.source, self._mapping, None)
        for object_type in self._objects(mapper):
            body = {"limit": 1, "properties": mapper.properties(object_type)}
            what = f"{object_type} readable"
            try:
                found = self._api.search(object_type, body).get("results", [])
            except MissingScopes as exc:
                findings.append(Finding(False, what, _scope_advice(exc, SCOPES[object_type])))
                continue
            except SourceUnreachable:
                raise
            except SyncError as exc:  # e.g. a 400: the type or a property is refused
                findings.append(Finding(False, what, str(exc)))
                continue
            findings.append(Finding(True, what))
            ids = [str(r["id"]) for r in found]
            history = mapper.history(object_type)
            if ids and history:
                what = f"{object_type} property history readable"
                try:
                    self._api.batch_read(object_type, ids, ["hs_object_id"], history)
                except MissingScopes as exc:
                    findings.append(Finding(False, what, _scope_advice(exc, SCOPES[object_type])))
                except SyncError as exc:
                    if isinstance(exc, SourceUnreachable):
                        raise
                    findings.append(Finding(False, what, str(exc)))
                else:
                    findings.append(Finding(True, what, ", ".join(history)))
            for to_type in KINDS[object_type].associations if ids else ():
                what = f"{object_type} to {to_type} associations readable"
                try:
                    self._api.associations(object_type, to_type, ids)
                except MissingScopes as exc:
                    needed = (*SCOPES[object_type], *SCOPES[to_type])
                    findings.append(Finding(False, what, _scope_advice(exc, needed)))
                    continue
                findings.append(Finding(True, what))
        return findings

    def close(self) -> None:
        pass

    def _get_mapper(self) -> HubSpotMapper:
        if self._mapper is None:
            portal = self._spec.portal_id or self._api.portal_id()
            base = f"{self._spec.app_url.rstrip('/')}/contacts/{portal}/record"
            self._mapper = HubSpotMapper(self.source, self._mapping, base)
        return self._mapper


def _scope_advice(exc: MissingScopes, needed: Sequence[str]) -> str:
    scopes = exc.scopes or list(dict.fromkeys(needed))
    named = ", ".join(scopes)
    if len(scopes) > 1:
        return f"the private app lacks the scopes {named}: add them under {_SCOPES_PAGE}"
    return f"the private app lacks the scope {named}: add it under {_SCOPES_PAGE}"


def _filter(name: str, operator: str, value: int) -> dict[str, Any]:
    return {"propertyName": name, "operator": operator, "value": str(value)}


def _stamp(record: dict[str, Any]) -> int:
    """The record's modification stamp in epoch milliseconds."""
    value = (record.get("properties") or {}).get(MODIFIED) or record.get("updatedAt")
    parsed = parse_time(value)
    if parsed is None:
        raise SourceUnreachable(f"a HubSpot record came without {MODIFIED}")
    return parsed // 1000


def connect(source: str, spec: HubSpotSourceSpec, mapping: HubSpotMappingSpec) -> HubSpotConnector:
    return HubSpotConnector(source, spec, mapping)
