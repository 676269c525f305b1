"""The Salesforce connector: one stream per sObject, read with queryAll by modification stamp.

A stream asks `SELECT Id, IsDeleted, <stamp>, <fields> FROM <object> WHERE <stamp> >= <since>
ORDER BY <stamp>, Id` through queryAll, so rows deleted in Salesforce arrive too (IsDeleted)
and lose their events, and follows `nextRecordsUrl` page by page. Each page is stored with
its last row's stamp as the cursor. Rows whose events depend on their siblings (stage history,
first responses) are mapped per parent after reading the parent's live rows again (`IN`
queries of at most `PARENTS_PER_QUERY` ids). After each page the sync stops cleanly if it used
its `api_quota_share`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from qmon.connectors.base import (
    ApiUsage,
    Finding,
    Page,
    RecordChange,
    SourceLimitReached,
    SyncError,
)
from qmon.connectors.salesforce.api import SalesforceApi, soql_string
from qmon.connectors.salesforce.mapping import SOBJECTS, SalesforceMapper, SObject, parse_time
from qmon.connectors.salesforce.spec import SalesforceMappingSpec, SalesforceSourceSpec

PARENTS_PER_QUERY = 200
"""Ids per `IN (...)` list: keeps the GET query string well under URL length limits."""


def soql_datetime(us: int) -> str:
    """A SOQL datetime literal (whole seconds, rounded down, so the boundary is re-read)."""
    moment = datetime.fromtimestamp(us // 1_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SObjectStream:
    """The rows of one sObject, oldest stamp first."""

    def __init__(self, sobject: SObject, api: SalesforceApi, mapper: SalesforceMapper) -> None:
        self.name = sobject.name
        self._o = sobject
        self._api = api
        self._mapper = mapper

    def soql(self, since_us: int | None) -> str:
        o = self._o
        fields = ", ".join(dict.fromkeys(("Id", "IsDeleted", o.stamp, *o.fields)))
        conditions = [c for c in (o.where,) if c]
        if since_us is not None:
            conditions.append(f"{o.stamp} >= {soql_datetime(since_us)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT {fields} FROM {o.name}{where} ORDER BY {o.stamp}, Id"

    def read(self, since_us: int | None) -> Iterator[Page]:
        self._stop_at_quota()
        answer = self._api.query_page(self.soql(since_us))
        while True:
            rows = answer.get("records", [])
            if rows:
                stamp = parse_time(rows[-1].get(self._o.stamp))
                yield Page(self._changes(rows), stamp)
            if answer.get("done", True):
                return
            self._stop_at_quota()
            answer = self._api.query_page(next_url=answer["nextRecordsUrl"])

    def _stop_at_quota(self) -> None:
        if self._api.over_quota():
            raise SourceLimitReached(
                f"this sync used its api_quota_share of the org's daily API requests "
                f"({self._api.used:,} of {self._api.limit:,} used today); the next sync "
                "resumes from here"
            )

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
            changes.append(RecordChange(key, self._mapper.row_events(o.name, row, extra)))
        return changes

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
            for row in self._api.query_live(soql):
                grouped.setdefault(row[field], []).append(row)
        return grouped


class SalesforceConnector:
    """A configured Salesforce org."""

    def __init__(
        self, source: str, spec: SalesforceSourceSpec, mapping: SalesforceMappingSpec
    ) -> None:
        self.source = source
        self._spec = spec
        self._api = SalesforceApi(spec)
        self._mapper = SalesforceMapper(source, mapping, spec.instance_url)

    def streams(self) -> Sequence[SObjectStream]:
        return [
            SObjectStream(SOBJECTS[name], self._api, self._mapper) for name in self._spec.objects
        ]

    def usage(self) -> ApiUsage:
        api = self._api
        remaining = None if api.limit is None or api.used is None else api.limit - api.used
        return ApiUsage(calls=api.calls, remaining=remaining, limit=api.limit)

    def check(self) -> list[Finding]:
        findings = [Finding(True, "login", f"{self._spec.auth.method} at {self._spec.login_url}")]
        for name in self._spec.objects:
            o = SOBJECTS[name]
            try:
                described = self._api.describe(name)
            except SyncError as exc:
                findings.append(Finding(False, f"{name} readable", str(exc)))
                continue
            readable = {f["name"] for f in described.get("fields", [])}
            missing = [f for f in ("Id", "IsDeleted", o.stamp, *o.fields) if f not in readable]
            if missing or not described.get("queryable", True):
                findings.append(Finding(False, f"{name} readable", (
                    f"the integration user cannot read {', '.join(f'{name}.{f}' for f in missing)}"
                    f"; give it read access to these fields, or remove '{name}' from `objects`"
                )))  # fmt: skip
            else:
                findings.append(Finding(True, f"{name} readable"))
        return findings

    def close(self) -> None:
        pass


def connect(
    source: str, spec: SalesforceSourceSpec, mapping: SalesforceMappingSpec
) -> SalesforceConnector:
    return SalesforceConnector(source, spec, mapping)
