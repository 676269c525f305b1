"""Salesforce fields as attributes, with their history (docs/connectors/salesforce.md).

A mapping names attributes and the Case or Opportunity fields they come from
(`mappings.<name>.attributes`, added to `DEFAULT_ATTRIBUTES`). Each page of cases or
opportunities reads their field-history rows (CaseHistory, OpportunityFieldHistory) for those
fields. The value at creation is the `OldValue` of a field's earliest history row, or, for a
field without history rows (not tracked, or never changed), its current value, taken as having
held since creation; every history row after creation is a `<subject>.changed` event at its
`CreatedDate` carrying `{attribute: NewValue}`. Only the attributes a mapping names are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from qmon.config.spec import did_you_mean
from qmon.connectors.attributes import merged_with, source_refs
from qmon.connectors.base import Found

#: The objects attributes are read from -> (history object, its parent field, subject type).
HISTORY: Mapping[str, tuple[str, str, str]] = {
    "Case": ("CaseHistory", "CaseId", "case"),
    "Opportunity": ("OpportunityFieldHistory", "OpportunityId", "deal"),
}

#: `RecordType` stands for the record type's name: read as `RecordTypeId` and looked up.
RECORD_TYPE = "RecordType"

#: The attributes every Salesforce mapping provides unless it maps them to null.
DEFAULT_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "priority": ("Case.Priority",),
    "case_type": ("Case.Type",),  # not `type`: that is the event's own type
    "deal_type": ("Opportunity.Type",),
    "origin": ("Case.Origin",),
    "record_type": ("Opportunity.RecordType",),
}

#: Default fields an org may lack (record types are optional): skipped, not an error.
OPTIONAL: frozenset[tuple[str, str]] = frozenset({("Opportunity", RECORD_TYPE)})

_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?[+-][0-9]{4}")


def field_ref(value: str) -> str:
    """`Case.<Field>` or `Opportunity.<Field>`."""
    sobject, dot, name = value.strip().partition(".")
    if not dot:
        raise ValueError(f"'{value}' needs its object: write Case.{value} or Opportunity.{value}")
    if sobject not in HISTORY:
        raise ValueError(f"'{value}': attributes are read from Case and Opportunity fields"
                         f"{did_you_mean(sobject, list(HISTORY))}")  # fmt: skip
    if not _FIELD.fullmatch(name):
        raise ValueError(f"'{value}' is not a Salesforce field like Case.Priority or "
                         "Opportunity.Tier__c")  # fmt: skip
    return value.strip()


def field_refs(value: Any) -> tuple[str, ...] | None:
    """An `attributes` entry: one field, a list of them, or null (drops a default)."""
    return source_refs(value, field_ref, "Case.Priority", "field")


def merged(mapped: Mapping[str, tuple[str, ...] | None]) -> dict[str, tuple[str, ...]]:
    """The defaults with a mapping's `attributes` on top (a null drops a default)."""
    return merged_with(DEFAULT_ATTRIBUTES, mapped)


def wanted(mapped: Mapping[str, tuple[str, ...] | None]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per object, the fields to read (with history) and the attributes each feeds."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, refs in merged(mapped).items():
        for ref in refs:
            sobject, _, field = ref.partition(".")
            fields = found.setdefault(sobject, {})
            fields[field] = (*fields.get(field, ()), name)
    return found


def select_field(field: str) -> str:
    """The column a field is read as (`RecordType` is read as its id)."""
    return "RecordTypeId" if field == RECORD_TYPE else field


def attribute_history(
    sobject: str,
    wanted_fields: Mapping[str, tuple[str, ...]],
    row: Mapping[str, Any],
    history: Iterable[Mapping[str, Any]],
    record_types: Mapping[str, str],
    parse_time: Callable[[Any], int | None],
) -> tuple[dict[str, Any], list[Found]]:
    """A record's attribute values at its creation, and one `<subject>.changed` finding per
    later instant at which some of them changed (history rows at one instant are one event).

    A lookup field writes two history rows per change (the names, and the ids with `DataType`
    `EntityId`): for `RecordType` the names are used, for other lookups the ids, so that
    history and current value agree. An empty `NewValue` (a cleared field) carries nothing:
    the previous value stays in force.
    """
    created = parse_time(row.get("CreatedDate"))
    rows: dict[str, list[tuple[int | None, str, Any, Any, bool]]] = {}
    for h in history:
        field = h.get("Field")
        if field not in wanted_fields:
            continue
        ids = h.get("DataType") == "EntityId"
        if ids and field == RECORD_TYPE:
            continue
        entry = (parse_time(h.get("CreatedDate")), str(h.get("Id")), h.get("OldValue"),
                 h.get("NewValue"), ids)  # fmt: skip
        rows.setdefault(field, []).append(entry)
    for field, entries in rows.items():  # a lookup's change: keep the ids, not the names
        if any(e[4] for e in entries):
            rows[field] = [e for e in entries if e[4]]
    initial: dict[str, Any] = {}
    changes: dict[int, dict[str, Any]] = {}
    for field, names in wanted_fields.items():
        ordered = sorted(rows.get(field, []), key=lambda r: (r[0] or 0, r[1]))
        if ordered:
            start = ordered[0][2]
        elif field == RECORD_TYPE:
            start = record_types.get(str(row.get("RecordTypeId") or ""))
        else:
            start = row.get(field)
        if _carries(start):
            initial.update(dict.fromkeys(names, _text(start)))
        for at, _, _, new, _ in ordered:
            if not _carries(new):
                continue
            late = at is not None and created is not None and at > created
            target = changes.setdefault(at, {}) if late and at is not None else initial
            target.update(dict.fromkeys(names, _text(new)))
    kind = f"{HISTORY[sobject][2]}.changed"
    found: list[Found] = [
        (f"changed@{at // 1000}", kind, at, values) for at, values in sorted(changes.items())
    ]
    return initial, found


def _carries(value: Any) -> bool:
    return value is not None and value != ""


def _text(value: Any) -> str:
    """Values as text, as `when` compares them (a Bulk CSV row and a REST row then agree);
    a date-time (`2026-11-02T09:00:00.000+0000`) in UTC with `Z`, the form `deadline` reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _DATETIME.fullmatch(text):
        moment = datetime.fromisoformat(f"{text[:-2]}:{text[-2:]}").astimezone(UTC)
        return moment.isoformat().replace("+00:00", "Z")
    return text
