"""Salesforce records to canonical events: what is read of each object and what it makes.

Each synced object is declared as an `SObject`: its fields, the stamp it is read by, and how
its rows become events. Most rows map on their own. Two kinds need their siblings:

- OpportunityHistory rows say the stage *after* a change (a row is also written when only the
  amount or close date changed), so the stage events of an opportunity are derived from all
  its history rows in order, collapsing repeats; they are one record, `OpportunityHistory/of/
  <OpportunityId>`, rebuilt whenever any of its rows changes.
- The first response to a case is the earliest public CaseComment or outgoing EmailMessage;
  each object gives its earliest per case (`CaseComment/of/<CaseId>`...), and the promise
  engine takes the earlier of the two (a later stop is ignored once the instance is closed).

  Each outgoing message or public comment also makes its own `case.responded`.

Journey subjects: an Opportunity is a `deal`, a Case a `case`; quotes belong to their
opportunity; tasks and events to the deal or case they are about (`WhatId`), else to nothing.

Rows arrive as REST JSON (booleans, `2026-11-02T09:00:00.000+0000`) or as Bulk 2.0 CSV (every
value text, `""` for null, `2026-11-02T09:00:00.000Z`); `csv_row` makes the latter look like
the former, so the mapping reads one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qmon.connectors.base import Found, record_events
from qmon.connectors.salesforce.attributes import HISTORY, attribute_history, select_field
from qmon.connectors.salesforce.spec import SalesforceMappingSpec
from qmon.events import Event
from qmon.timeutil import to_us

#: Id prefixes of the journey objects (the first three characters of every record id).
SUBJECT_PREFIXES = {"006": "deal", "500": "case"}


@dataclass(frozen=True)
class SObject:
    """How one sObject is read.

    Attributes:
        name: the sObject.
        fields: read besides Id, IsDeleted and the stamp.
        stamp: the modification stamp the cursor follows (history rows only have CreatedDate).
        where: a fixed filter on the incremental query (never user text).
        parent: for objects whose events depend on their siblings: the parent's field; the
            parent's live rows are read again (with `sibling_where`) and mapped together.
        lookup: (field, sObject, its field): a value to fetch from a related record, e.g. a
            QuoteDocument's opportunity through its quote.
    """

    name: str
    fields: tuple[str, ...]
    stamp: str = "SystemModstamp"
    where: str = ""
    parent: str | None = None
    sibling_where: str = ""
    lookup: tuple[str, str, str] | None = None

    @property
    def bulk(self) -> bool:
        """Whether a large read may use Bulk API 2.0: rows that map on their own only (rows
        mapped with their siblings need their parents' rows again per page, which a Bulk
        results page of thousands of unordered rows would multiply)."""
        return self.parent is None


def sobjects(mapping: SalesforceMappingSpec) -> dict[str, SObject]:
    """How each object is read, for a mapping (the case channel field and the attribute
    fields are the mapping's)."""
    channel = (mapping.case_channel_field,) if mapping.case_channel_field else ()
    attributes = {
        sobject: tuple(select_field(f) for f in fields)
        for sobject, fields in mapping.attribute_fields().items()
    }
    return {
        o.name: o
        for o in (
            SObject("Opportunity", ("CreatedDate", "OwnerId", "AccountId",
                                    *attributes.get("Opportunity", ()))),
            SObject(
                "OpportunityHistory", ("OpportunityId", "StageName", "CreatedDate"),
                parent="OpportunityId",
            ),
            SObject("Quote", ("OpportunityId", "OwnerId", "AccountId", "Status", "CreatedDate",
                              "LastModifiedDate")),
            SObject("QuoteDocument", ("QuoteId", "CreatedDate"),
                    lookup=("QuoteId", "Quote", "OpportunityId")),
            SObject("Case", ("CreatedDate", "ClosedDate", "IsClosed", "OwnerId", "AccountId",
                             *channel, *attributes.get("Case", ()))),
            SObject("CaseHistory", ("CaseId", "Field", "OldValue", "NewValue", "CreatedDate"),
                    stamp="CreatedDate", where="Field = 'Status'"),
            SObject("CaseComment", ("ParentId", "IsPublished", "CreatedDate"),
                    parent="ParentId", sibling_where="IsPublished = true"),
            # Status '5' is a draft: written, not sent.
            SObject("EmailMessage", ("ParentId", "Incoming", "MessageDate", "CreatedDate"),
                    parent="ParentId", sibling_where="Incoming = false AND Status != '5'"),
            SObject("Task", ("WhatId", "OwnerId", "TaskSubtype", "Type", "IsClosed",
                             "CompletedDateTime", "LastModifiedDate")),
            SObject("Event", ("WhatId", "OwnerId", "Type", "EventSubtype", "EndDateTime")),
        )
    }  # fmt: skip


SOBJECTS: Mapping[str, SObject] = sobjects(SalesforceMappingSpec())
"""How each object is read with the default mapping."""

#: Fields that are booleans (Bulk CSV says "true"/"false").
BOOLEAN_FIELDS = frozenset({"IsDeleted", "IsClosed", "IsPublished", "Incoming"})


def csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A Bulk 2.0 CSV row in the shape of a REST row: null for "", booleans as booleans."""
    return {
        name: None if value == "" else (value == "true" if name in BOOLEAN_FIELDS else value)
        for name, value in row.items()
    }


def parse_time(value: Any) -> int | None:
    """A Salesforce datetime (`2026-11-02T09:00:00.000+0000`) in UTC microseconds."""
    if not value:
        return None
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00 for fromisoformat
    return to_us(datetime.fromisoformat(text.replace("Z", "+00:00")))


class SalesforceMapper:
    """Turns rows of one org into events, with its mapping and record links."""

    def __init__(self, source: str, mapping: SalesforceMappingSpec, instance_url: str) -> None:
        self.source = source
        self.mapping = mapping
        self.instance_url = instance_url.rstrip("/")
        self._attributes = mapping.attribute_fields()

    def attribute_fields(self, sobject: str) -> dict[str, tuple[str, ...]]:
        """The fields of `sobject` read as attributes (with history), and their attributes."""
        return self._attributes.get(sobject, {})

    def link(self, sobject: str, record_id: str) -> str:
        return f"{self.instance_url}/lightning/r/{sobject}/{record_id}/view"

    def row_events(
        self,
        sobject: str,
        row: Mapping[str, Any],
        looked_up: Any = None,
        history: Iterable[Mapping[str, Any]] = (),
        record_types: Mapping[str, str] | None = None,
    ) -> list[Event]:
        """Events of a row that maps on its own; for cases and opportunities, `history` is
        their field-history rows and `record_types` names record type ids."""
        rid = row["Id"]
        created = parse_time(row.get("CreatedDate"))
        owner, account = row.get("OwnerId"), row.get("AccountId")
        channel = None
        found: list[Found] = []
        m = self.mapping
        if sobject == "Opportunity":
            subject = ("deal", rid)
            found = [("created", "deal.created", created, {})]
        elif sobject == "Quote":
            subject = ("deal", row.get("OpportunityId"))
            found = [("created", "quote.created", created, {})]
            status = row.get("Status")
            sent = m.quote_status_events.get(status) if status else None
            if sent:  # when the quote was last changed in this status: see the docs
                at = parse_time(row.get("LastModifiedDate"))
                found.append(("status", sent, at, {"status": status}))
        elif sobject == "QuoteDocument":
            subject = ("deal", looked_up)
            found = [("sent", "quote.sent", created, {"quote": row.get("QuoteId")})]
        elif sobject == "Case":
            subject = ("case", rid)
            channel = row.get(m.case_channel_field) if m.case_channel_field else None
            found = [("opened", "case.opened", created, {})]
            if row.get("IsClosed"):
                found.append(("closed", "case.closed", parse_time(row.get("ClosedDate")), {}))
        elif sobject == "CaseHistory":
            subject = ("case", row.get("CaseId"))
            found = self._status_events(row.get("OldValue"), row.get("NewValue"), created)
        elif sobject == "Task":
            subject = _about(row.get("WhatId"))
            kind = _lookup(m.task_types, row.get("TaskSubtype"), row.get("Type"))
            if row.get("IsClosed") and kind:
                done = parse_time(row.get("CompletedDateTime") or row.get("LastModifiedDate"))
                found = [("completed", kind, done, {})]
        elif sobject == "Event":
            subject = _about(row.get("WhatId"))
            kind = _lookup(m.event_types, row.get("Type"), row.get("EventSubtype"))
            if kind:
                found = [("held", kind, parse_time(row.get("EndDateTime")), {})]
        else:
            raise ValueError(f"{sobject} rows are mapped with their siblings")
        wanted = self._attributes.get(sobject)
        if wanted:
            initial, changes = attribute_history(
                sobject, wanted, row, history, record_types or {}, parse_time
            )
            found = [(found[0][0], found[0][1], found[0][2], {**found[0][3], **initial}),
                     *found[1:], *changes]  # fmt: skip
            if initial and not self.mapping.rename.get(found[0][1], found[0][1]):
                kind = f"{HISTORY[sobject][2]}.changed"
                found.append((f"changed@{(created or 0) // 1000}", kind, created, initial))
        # History rows and quote documents have no record page: link to what they are about.
        link_object, link_id = {
            "CaseHistory": ("Case", row.get("CaseId")),
            "QuoteDocument": ("Quote", row.get("QuoteId")),
        }.get(sobject, (sobject, rid))
        return self._events(f"{sobject}/{rid}", link_object, link_id or rid, subject, found,
                            owner, account, channel)  # fmt: skip

    def sibling_events(
        self, sobject: str, parent_id: str, rows: Iterable[Mapping[str, Any]]
    ) -> list[Event]:
        """Events derived from all live rows of one parent, in time order."""
        ordered = sorted(rows, key=lambda r: (parse_time(r.get("CreatedDate")) or 0, r["Id"]))
        key = f"{sobject}/of/{parent_id}"
        if sobject == "OpportunityHistory":
            found: list[Found] = []
            previous = None
            for row in ordered:
                stage = row.get("StageName")
                if not stage or stage == previous:
                    continue
                previous = stage
                at = parse_time(row.get("CreatedDate"))
                attributes = {"stage": stage, **self._phase(stage)}
                found.append((f"stage@{row['Id']}", "deal.stage_changed", at, attributes))
                extra = self.mapping.stage_events.get(stage)
                if extra:
                    found.append((f"{extra}@{row['Id']}", extra, at, attributes))
            return self._events(key, "Opportunity", parent_id, ("deal", parent_id), found)
        # CaseComment / EmailMessage: the earliest response on a case, and every response
        if SUBJECT_PREFIXES.get(parent_id[:3]) != "case" or not ordered:
            return []
        first = min(ordered, key=lambda r: (_response_time(r) or 0, r["Id"]))
        found = [("first-response", "case.first_response", _response_time(first),
                  {"via": sobject, sobject: first["Id"]})]  # fmt: skip
        found += [
            (f"responded@{row['Id']}", "case.responded", _response_time(row),
             {"via": sobject, sobject: row["Id"]})
            for row in ordered
        ]  # fmt: skip
        return self._events(key, "Case", parent_id, ("case", parent_id), found)

    # -- helpers -------------------------------------------------------------------------------

    def _status_events(self, old: Any, new: Any, at: int | None) -> list[Found]:
        found: list[Found] = []
        left = self.mapping.case_status_events.get(str(old)) if old else None
        if left and left.leave:
            found.append(("left", left.leave, at, {"status": new}))
        entered = self.mapping.case_status_events.get(str(new)) if new else None
        if entered and entered.enter:
            found.append(("entered", entered.enter, at, {"status": new}))
        return found

    def _phase(self, stage: str) -> dict[str, str]:
        phase = self.mapping.stage_phases.get(stage)
        return {"phase": phase} if phase else {}

    def _events(
        self,
        key: str,
        link_object: str,
        link_id: str,
        subject: tuple[str, Any] | None,
        found: list[Found],
        owner: Any = None,
        account: Any = None,
        channel: Any = None,
    ) -> list[Event]:
        if subject is None or not subject[1]:
            return []
        return record_events(self.source, key, subject, found, rename=self.mapping.rename,
                             link=self.link(link_object, link_id), owner=owner,
                             account=account, channel=channel)  # fmt: skip


def _lookup(table: Mapping[str, str | None], *keys: Any) -> str | None:
    """The type for the first key the table names (None: named, no event), else its "*"."""
    for key in keys:
        if key and key in table:
            return table[key]
    return table.get("*")


def _about(what_id: Any) -> tuple[str, str] | None:
    """The deal or case a task or event is about, from its WhatId's prefix."""
    if not what_id:
        return None
    kind = SUBJECT_PREFIXES.get(str(what_id)[:3])
    return (kind, str(what_id)) if kind else None


def _response_time(row: Mapping[str, Any]) -> int | None:
    return parse_time(row.get("MessageDate")) or parse_time(row.get("CreatedDate"))
