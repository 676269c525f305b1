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
    carry it (JSON null or ""). Numbers and true/false are compared as their text. A value
    over `VALUE_BYTES` is not carried either: files refuse it and CRM values that long are
    not kept, so only a store written before the limit holds one, and no condition reads it
    (the same in SQL and in memory)."""
    as_text = _text_of(value)
    return None if as_text is None or _bytes(as_text, VALUE_BYTES) else as_text


def _text_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


#: The most bytes (UTF-8) qmon stores in a field the store indexes: the source, id, type,
#: subject, account, owner, channel, CRM record and an attribute's name. An index entry on
#: PostgreSQL holds at most 2,704 bytes and the widest (`ix_events_role`) has seven such
#: fields; the same limit applies on SQLite, so a file imports on both or on neither.
KEY_BYTES = 300
#: The most bytes (UTF-8) of an attribute's value (as `attribute_text` gives it), which
#: `event_attributes` indexes beside five key fields. Conditions compare codes and dates;
#: a longer value is a text field that no `when` or `deadline` reads.
VALUE_BYTES = 1_000
_KEY_FIELDS = ("source", "id", "type", "subject_type", "subject_id", "account", "owner",
               "channel", "record")  # fmt: skip


def _bytes(text: str, limit: int) -> int:
    """The UTF-8 length of `text` when it is over `limit`, else 0 (counted only when it
    could be: a character is at most 4 bytes)."""
    if len(text) * 4 <= limit:
        return 0
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else 0


def size_problems(event: Event) -> tuple[str, dict[str, str]]:
    """What in an event is too long to store: the first key field over `KEY_BYTES` (the
    event cannot be stored), and per attribute whose value is over `VALUE_BYTES` what is
    wrong (stored without them, the event does not carry them). ("", {}) when all fits."""
    for name in _KEY_FIELDS:
        value = getattr(event, name)
        if value is not None and (size := _bytes(value, KEY_BYTES)):
            return (f"field {name!r} is {size:,} bytes long; qmon stores at most {KEY_BYTES:,}"
                    " in a field it indexes"), {}  # fmt: skip
    long: dict[str, str] = {}
    for name, value in event.attributes.items():
        if size := _bytes(name, KEY_BYTES):
            return (f"attribute name {name[:40]!r}... is {size:,} bytes long; qmon stores at"
                    f" most {KEY_BYTES:,}"), {}  # fmt: skip
        as_text = _text_of(value)
        if as_text is not None and (size := _bytes(as_text, VALUE_BYTES)):
            long[name] = (f"field {name!r} is {size:,} bytes long; qmon stores at most"
                          f" {VALUE_BYTES:,} in an attribute")  # fmt: skip
    return "", long


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
