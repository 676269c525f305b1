"""The canonical event: what every connector produces and the store keeps.

Whatever the CRM calls it, an event says that something of a `type` happened to a journey
object (`subject_type`, `subject_id`: a deal, a case...) at an instant. Promises are defined
over these events only, so a promise works the same on Salesforce, HubSpot or a CSV export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: The fields every event has, in the order files and the store use them.
CORE_FIELDS: tuple[str, ...] = (
    "source",
    "id",
    "occurred_at",
    "type",
    "subject_type",
    "subject_id",
    "account",
    "owner",
    "channel",
    "link",
)
REQUIRED_FIELDS: tuple[str, ...] = ("id", "occurred_at", "type", "subject_type", "subject_id")


@dataclass(slots=True)
class Event:
    """One canonical event. (Not frozen: a frozen dataclass costs ~5 us per row to build.)

    Attributes:
        source: the system it came from (`file`, `salesforce`, `hubspot-nl`...).
        id: unique within its source; importing the same (source, id) again replaces it.
        occurred_us: when it happened, in microseconds since the Unix epoch (UTC).
        type: what happened, e.g. `quote.requested`.
        subject_type: the kind of journey object, e.g. `deal` or `case`.
        subject_id: the journey object's id within its kind.
        account, owner, channel: optional context for breakdowns.
        link: optional URL of the CRM record, for one-click navigation from alerts and reports.
        attributes: anything else the source knew, kept as JSON.
        record: for events read from a CRM, the record that produced them (`Opportunity/006...`):
            when that record changes or is deleted, its events are replaced or removed as a
            set. None for events from files.
    """

    source: str
    id: str
    occurred_us: int
    type: str
    subject_type: str
    subject_id: str
    account: str | None = None
    owner: str | None = None
    channel: str | None = None
    link: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    record: str | None = None


#: The attributes qmon itself reads: a survey's `score` (and `survey_type`), a stage change's
#: `stage` and `phase`. `qmon import` keeps these and those the config's `imports.attributes`
#: names; nothing else of a file is stored (docs/data-protection.md).
USED_ATTRIBUTES: frozenset[str] = frozenset({"score", "survey_type", "stage", "phase"})


#: Core fields that are attributes too (README "Promise semantics"): a `when` may name them.
CONTEXT_ATTRIBUTES: tuple[str, ...] = ("account", "owner", "channel")


def attribute_text(value: Any) -> str | None:
    """An attribute value as conditions read it: text, or None when the event does not
    carry it (JSON null or ""). Numbers and true/false are compared as their text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


#: The store's columns for an event, in the order of `event_to_row`'s tuples.
ROW_COLUMNS: tuple[str, ...] = (
    "source",
    "event_id",
    "occurred_us",
    "type",
    "subject_type",
    "subject_id",
    "account",
    "owner",
    "channel",
    "link",
    "attributes",
    "record",
)


def event_to_row(ev: Event) -> tuple[Any, ...]:
    """The tuple a bulk statement writes for one event, in `ROW_COLUMNS` order.

    It lives here, not in the store, so that a process that only reads files (the import's
    reader process) does not import the database layer.
    """
    attrs = json.dumps(ev.attributes, sort_keys=True, ensure_ascii=False) if ev.attributes else None
    return (
        ev.source,
        ev.id,
        ev.occurred_us,
        ev.type,
        ev.subject_type,
        ev.subject_id,
        ev.account,
        ev.owner,
        ev.channel,
        ev.link,
        attrs,
        ev.record,
    )
