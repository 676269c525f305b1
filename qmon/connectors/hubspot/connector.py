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
- Then the archived records of the type are listed and their events removed; HubSpot offers
  no "archived since" filter, so this pass reads every archived record (100 per call).

Records that need more than search returns get it per page: property histories (deal
stages, ticket stages, quote statuses) by batch read, associations (a quote's deal, an
engagement's ticket or deal) by the v4 associations batch read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from qmon.connectors.base import (
    ApiUsage,
    Finding,
    Page,
    RecordChange,
    SourceUnreachable,
    SyncError,
)
from qmon.connectors.hubspot.api import HubSpotApi
from qmon.connectors.hubspot.mapping import KINDS, HubSpotMapper, parse_time
from qmon.connectors.hubspot.spec import HubSpotMappingSpec, HubSpotSourceSpec

MODIFIED = "hs_lastmodifieddate"

#: The private-app scope each object type needs, for `qmon sources check`.
SCOPES = {
    "deals": "crm.objects.deals.read",
    "tickets": "tickets",
    "quotes": "crm.objects.quotes.read",
    "calls": "crm.objects.contacts.read (engagements)",
    "emails": "crm.objects.contacts.read (engagements)",
    "meetings": "crm.objects.contacts.read (engagements)",
    "notes": "crm.objects.contacts.read (engagements)",
    "tasks": "crm.objects.contacts.read (engagements)",
    "feedback_submissions": "crm.objects.feedback_submissions.read",
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
        lo = 0 if since_us is None else max(0, since_us // 1000)
        while True:
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
                break
            if stamps[0] < last:
                done = [r for r, s in zip(results, stamps, strict=True) if s < last]
                yield self._page(done, last * 1000)
                lo = last
            else:
                yield from self._walk_stamp(last)
                lo = last + 1
        yield from self._archived()

    def _walk_stamp(self, stamp: int) -> Iterator[Page]:
        """All records modified at exactly `stamp`, by ascending id."""
        after_id = 0
        while True:
            results = self._search(
                [_filter(MODIFIED, "EQ", stamp), _filter("hs_object_id", "GT", after_id)],
                "hs_object_id",
            )
            if results:
                yield self._page(results, stamp * 1000)
            if len(results) < self._page_size:
                return
            after_id = int(results[-1]["id"])

    def _archived(self) -> Iterator[Page]:
        after = None
        while True:
            answer = self._api.archived_page(self.name, after, self._page_size)
            changes = [
                RecordChange(f"{self.name}/{r['id']}", deleted=True)
                for r in answer.get("results", [])
            ]
            if changes:
                yield Page(changes)
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _search(self, filters: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self._mapper.properties(self.name),
            "limit": self._page_size,
        }
        return list(self._api.search(self.name, body).get("results", []))

    def _page(self, results: list[dict[str, Any]], high_water_us: int) -> Page:
        """Map a page of search results, fetching histories and associations first."""
        ids = [str(r["id"]) for r in results]
        records = {str(r["id"]): r for r in results}
        if self._kind.history:
            read = self._api.batch_read(
                self.name, ids, self._mapper.properties(self.name), self._kind.history
            )
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

    def __init__(self, source: str, spec: HubSpotSourceSpec, mapping: HubSpotMappingSpec) -> None:
        self.source = source
        self._spec = spec
        self._mapping = mapping
        self._api = HubSpotApi(spec)
        self._mapper: HubSpotMapper | None = None

    def streams(self) -> Sequence[ObjectStream]:
        mapper = self._get_mapper()
        return [
            ObjectStream(t, self._api, mapper, self._spec.page_size) for t in self._spec.objects
        ]

    def usage(self) -> ApiUsage:
        return ApiUsage(calls=self._api.calls)

    def check(self) -> list[Finding]:
        findings = []
        try:
            portal = self._spec.portal_id or self._api.portal_id()
            findings.append(Finding(True, "access token", f"portal {portal}"))
        except SyncError as exc:
            return [Finding(False, "access token", str(exc))]
        for object_type in self._spec.objects:
            body = {"limit": 1, "properties": list(KINDS[object_type].properties)}
            try:
                self._api.search(object_type, body)
                findings.append(Finding(True, f"{object_type} readable"))
            except SyncError as exc:
                detail = f"{exc}; the private app needs the scope {SCOPES[object_type]}"
                findings.append(Finding(False, f"{object_type} readable", detail))
        return findings

    def close(self) -> None:
        pass

    def _get_mapper(self) -> HubSpotMapper:
        if self._mapper is None:
            portal = self._spec.portal_id or self._api.portal_id()
            base = f"{self._spec.app_url.rstrip('/')}/contacts/{portal}/record"
            self._mapper = HubSpotMapper(self.source, self._mapping, base)
        return self._mapper


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
