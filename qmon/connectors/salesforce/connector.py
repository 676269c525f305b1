"""The Salesforce connector: one stream per sObject, read with queryAll by modification stamp.

A stream asks `SELECT Id, IsDeleted, <stamp>, <fields> FROM <object> WHERE <stamp> >= <since>
ORDER BY <stamp>, Id` through queryAll, so rows deleted in Salesforce arrive too (IsDeleted)
and lose their events, and follows `nextRecordsUrl` page by page. Each page is stored with
its last row's stamp as the cursor. Rows whose events depend on their siblings (stage history,
first responses) are mapped per parent after reading the parent's live rows again (`IN`
queries of at most `PARENTS_PER_QUERY` ids). After each page the sync stops cleanly if it made
its `api_quota_share` of requests.

Large reads use Bulk API 2.0. The first REST page says how many rows the query matches
(`totalSize`); when that is more than `bulk_threshold` (a first load, `--full`, or a `--since`
far back) and the object's rows map on their own, that page is stored and the rest is read by
one Bulk 2.0 queryAll job from the page's last stamp on. Bulk results come in no order (an
ORDER BY would switch off Salesforce's chunking of big jobs), so their pages do not move the
cursor; the last one moves it to the highest stamp read, which is safe because the job saw
everything modified before it started. A sync interrupted during the job reads it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from qmon.connectors.base import ApiUsage, Finding, Page, RecordChange, SourceAuthError, SyncError
from qmon.connectors.salesforce.api import SalesforceApi
from qmon.connectors.salesforce.attributes import HISTORY, OPTIONAL, RECORD_TYPE, select_field
from qmon.connectors.salesforce.mapping import (
    SalesforceMapper,
    SObject,
    csv_row,
    parse_time,
    sobjects,
)
from qmon.connectors.salesforce.spec import OBJECTS, SalesforceMappingSpec, SalesforceSourceSpec
from qmon.connectors.salesforce.wire import BulkJobFailed, next_records_url, soql_string

log = logging.getLogger(__name__)

PARENTS_PER_QUERY = 200
"""Ids per `IN (...)` list: keeps the GET query string well under URL length limits."""


def soql_datetime(us: int) -> str:
    """A SOQL datetime literal (whole seconds, rounded down, so the boundary is re-read)."""
    moment = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SObjectStream:
    """The rows of one sObject, oldest stamp first."""

    def __init__(
        self,
        sobject: SObject,
        api: SalesforceApi,
        mapper: SalesforceMapper,
        bulk_threshold: int | None,
    ) -> None:
        self.name = sobject.name
        self._o = sobject
        self._api = api
        self._mapper = mapper
        self._bulk_threshold = bulk_threshold if sobject.bulk else None

    def soql(self, since_us: int | None, *, ordered: bool = True) -> str:
        o = self._o
        fields = ", ".join(dict.fromkeys(("Id", "IsDeleted", o.stamp, *o.fields)))
        conditions = [c for c in (o.where,) if c]
        if since_us is not None:
            conditions.append(f"{o.stamp} >= {soql_datetime(since_us)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        order = f" ORDER BY {o.stamp}, Id" if ordered else ""
        return f"SELECT {fields} FROM {o.name}{where}{order}"

    def read(self, since_us: int | None) -> Iterator[Page]:
        self._api.stop_at_quota()
        answer = self._api.query_page(self.soql(since_us))
        threshold = self._bulk_threshold
        if threshold is not None and not answer.get("done", True):
            total = int(answer.get("totalSize") or 0)
            if total > threshold:
                log.info("Salesforce %s: %d rows to read, more than bulk_threshold %d: "
                         "Bulk API 2.0", self.name, total, threshold)  # fmt: skip
                rows = answer.get("records", [])
                resume = since_us
                if rows:
                    resume = parse_time(rows[-1].get(self._o.stamp))
                    yield Page(self._changes(rows), resume)
                self._api.stop_at_quota()
                try:
                    yield from self._bulk_read(resume)
                    return
                except BulkJobFailed as exc:
                    log.warning("Salesforce %s: Bulk 2.0 job failed (%s); reading with REST",
                                self.name, exc)  # fmt: skip
                    answer = self._api.query_page(self.soql(resume))
        trail = self._api.trail(self.name, "the query's nextRecordsUrl")
        while True:
            rows = answer.get("records", [])
            next_url = trail.follow(next_records_url(answer), records=len(rows))
            if rows:
                stamp = parse_time(rows[-1].get(self._o.stamp))
                yield Page(self._changes(rows), stamp)
            if next_url is None:
                return
            self._api.stop_at_quota()
            answer = self._api.query_page(next_url=next_url)

    def _bulk_read(self, since_us: int | None) -> Iterator[Page]:
        """The rows from `since_us` on, by one Bulk 2.0 queryAll job, page by page.

        Raises:
            BulkJobFailed: the job failed before returning rows (nothing was yielded).
        """
        highest: int | None = None
        soql = self.soql(since_us, ordered=False)
        pages = self._api.bulk_rows(soql, self._api.stop_at_quota, self.name)
        for raw, last in pages:
            rows = [csv_row(r) for r in raw]
            for row in rows:
                stamp = parse_time(row.get(self._o.stamp))
                if stamp is not None and (highest is None or stamp > highest):
                    highest = stamp
            if rows or last:
                yield Page(self._changes(rows), highest if last else None)
            if not last:
                self._api.stop_at_quota()

    def _changes(self, rows: list[dict[str, Any]]) -> list[RecordChange]:
        o = self._o
        if o.parent is not None:
            parents = list(dict.fromkeys(r[o.parent] for r in rows if r.get(o.parent)))
            siblings = self._live_rows(o.parent, parents, o.sibling_where)
            return [
                RecordChange(
                    f"{o.name}/of/{parent}",
                    self._mapper.sibling_events(o.name, parent, siblings.get(parent, [])),
                )
                for parent in parents
            ]
        history, record_types = self._attribute_rows(rows)
        looked_up: dict[str, Any] = {}
        if o.lookup is not None:
            field, target, wanted = o.lookup
            ids = list(dict.fromkeys(r[field] for r in rows if r.get(field)))
            for target_id, found in self._live_rows("Id", ids, "", target, (wanted,)).items():
                looked_up[target_id] = found[0].get(wanted)
        changes = []
        for row in rows:
            key = f"{o.name}/{row['Id']}"
            if row.get("IsDeleted"):
                changes.append(RecordChange(key, deleted=True))
                continue
            extra = looked_up.get(row.get(o.lookup[0])) if o.lookup else None
            events = self._mapper.row_events(
                o.name, row, extra, history.get(row["Id"], []), record_types
            )
            changes.append(RecordChange(key, events))
        return changes

    def _attribute_rows(
        self, rows: list[dict[str, Any]]
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
        """For cases and opportunities: the field-history rows of their attribute fields, by
        record id, and the names of their record types."""
        fields = self._mapper.attribute_fields(self.name)
        live = [r["Id"] for r in rows if not r.get("IsDeleted")]
        if not fields or not live:
            return {}, {}
        history_object, parent, _ = HISTORY[self.name]
        tracked = ", ".join(soql_string(f) for f in fields)
        history = self._live_rows(
            parent, live, f"Field IN ({tracked})", history_object,
            ("Field", "DataType", "OldValue", "NewValue", "CreatedDate"),
        )  # fmt: skip
        record_types: dict[str, str] = {}
        if RECORD_TYPE in fields and select_field(RECORD_TYPE) in self._o.fields:
            ids = list(dict.fromkeys(r["RecordTypeId"] for r in rows if r.get("RecordTypeId")))
            for rid, found in self._live_rows("Id", ids, "", "RecordType", ("Name",)).items():
                record_types[rid] = found[0].get("Name")
        return history, record_types

    def _live_rows(
        self,
        field: str,
        ids: list[str],
        where: str,
        sobject: str | None = None,
        fields: tuple[str, ...] | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Live rows of `sobject` (default: this one) whose `field` is one of `ids`, by id."""
        sobject = sobject or self._o.name
        selected = ", ".join(dict.fromkeys(("Id", field, *(fields or self._o.fields))))
        grouped: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(ids), PARENTS_PER_QUERY):
            chunk = ", ".join(soql_string(i) for i in ids[start : start + PARENTS_PER_QUERY])
            extra = f" AND {where}" if where else ""
            soql = f"SELECT {selected} FROM {sobject} WHERE {field} IN ({chunk}){extra}"
            for row in self._api.query_live(soql, self.name):
                grouped.setdefault(row[field], []).append(row)
        return grouped


class SalesforceConnector:
    """A configured Salesforce org. Nothing is asked of Salesforce until a stream is read or
    `check()` runs; the login happens then."""

    def __init__(
        self, source: str, spec: SalesforceSourceSpec, mapping: SalesforceMappingSpec
    ) -> None:
        self.source = source
        self._spec = spec
        self._mapping = mapping
        self._api = SalesforceApi(spec)
        self._mapper = SalesforceMapper(source, mapping, spec.instance_url)
        self._sobjects = sobjects(mapping)

    def streams(self) -> Sequence[SObjectStream]:
        """The configured objects, in a fixed order: quotes after the opportunities they
        belong to, history and responses after their cases."""
        wanted = set(self._spec.objects)
        return [
            SObjectStream(self._sobject(name), self._api, self._mapper, self._spec.bulk_threshold)
            for name in OBJECTS
            if name in wanted
        ]

    def _sobject(self, name: str) -> SObject:
        """How `name` is read; default attribute fields an org may lack (an Opportunity
        without record types has no RecordTypeId) are dropped when its describe lacks them."""
        o = self._sobjects[name]
        optional = [select_field(f) for s, f in OPTIONAL if s == name]
        if not any(f in o.fields for f in optional):
            return o
        readable = {f["name"] for f in self._api.describe(name).get("fields", [])}
        absent = {f for f in optional if f not in readable}
        if absent:
            o = replace(o, fields=tuple(f for f in o.fields if f not in absent))
            self._sobjects[name] = o
        return o

    def usage(self) -> ApiUsage:
        api = self._api
        remaining = None if api.limit is None or api.used is None else api.limit - api.used
        return ApiUsage(calls=api.calls, remaining=remaining, limit=api.limit)

    def check(self) -> list[Finding]:
        """Log in, read the org's API usage, and describe every configured object.

        Raises:
            SourceUnreachable: Salesforce cannot be reached at all.
        """
        spec, auth = self._spec, self._spec.auth
        where = spec.instance_url if auth.method == "session" else spec.login_url
        who = f" as {auth.username}" if auth.username else ""
        try:
            self._api.login()
            findings = [Finding(True, "login", f"{auth.method}{who} at {where}")]
            findings.append(self._usage_finding())
        except SourceAuthError as exc:
            return [Finding(False, "login", str(exc))]
        for name in (o.name for o in self.streams()):
            findings.append(self._object_finding(self._sobjects[name]))
        return findings

    def _usage_finding(self) -> Finding:
        limits = self._api.limits().get("DailyApiRequests") or {}
        limit, remaining = limits.get("Max"), limits.get("Remaining")
        if not isinstance(limit, int) or not isinstance(remaining, int):
            return Finding(True, "API usage", "the org did not say its daily limit")
        share = self._spec.api_quota_share
        cap = (
            f"; a sync makes at most {int(share * limit):,} ({share:.0%}, api_quota_share)"
            if share is not None
            else "; no api_quota_share: a sync may use all that is left"
        )
        detail = f"{limit - remaining:,} of {limit:,} daily API requests used{cap}"
        return Finding(remaining > 0, "API usage", detail)

    def _object_finding(self, o: SObject) -> Finding:
        what = f"{o.name} readable"
        objects = f"sources.{self.source}.objects"
        try:
            described = self._api.describe(o.name)
        except SyncError as exc:
            if "NOT_FOUND" not in str(exc):
                return Finding(False, what, str(exc))
            return Finding(False, what, (
                f"{o.name} is not available to the integration user (not enabled in the org, "
                f"or no read access): give the user read access to {o.name}, or remove "
                f"'{o.name}' from {objects}"
            ))  # fmt: skip
        if not described.get("queryable", True):
            return Finding(False, what, (
                f"{o.name} cannot be queried by the integration user: give it read access, or "
                f"remove '{o.name}' from {objects}"
            ))  # fmt: skip
        readable = {f["name"] for f in described.get("fields", [])}
        optional = {select_field(f) for s, f in OPTIONAL if s == o.name}
        fields = dict.fromkeys(
            f for f in ("Id", "IsDeleted", o.stamp, *o.fields) if f in readable or f not in optional
        )
        missing = [f for f in fields if f not in readable]
        if not missing:
            return Finding(True, what, f"{len(fields)} fields")
        problems = []
        for field in missing:
            if o.name == "Case" and field == self._mapping.case_channel_field:
                remedy = (
                    f"or set mappings.{self.source}.case_channel_field to another field (or null)"
                )
            else:
                remedy = f"or remove '{o.name}' from {objects}"
            problems.append(
                f"{o.name}.{field} is not readable: give the integration user read access to "
                f"the field (field-level security), {remedy}"
            )
        return Finding(False, what, "; ".join(problems))

    def close(self) -> None:
        self._api.close()


def connect(
    source: str, spec: SalesforceSourceSpec, mapping: SalesforceMappingSpec
) -> SalesforceConnector:
    return SalesforceConnector(source, spec, mapping)
