"""HubSpot properties as attributes, with their history (docs/connectors/hubspot.md).

A mapping names attributes and the properties they come from (`mappings.<name>.attributes`,
added to `DEFAULT_ATTRIBUTES`). The connector reads those properties with
`propertiesWithHistory`, and every change becomes an event of the record at the instant it
was made (the history entry's `timestamp`), carrying `{attribute: value}`; the values the
record had when it was created go on its creation event. Only the attributes a mapping names
are read and stored (docs/data-protection.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from qmon.config.spec import did_you_mean
from qmon.connectors.attributes import merged_with, source_refs
from qmon.connectors.base import Found

#: A property reference's object (`deal.pipeline`) -> the object type whose property it is.
QUALIFIERS: Mapping[str, str] = {"deal": "deals", "ticket": "tickets", "company": "companies"}

#: Object types read for attributes -> the subject type of their events.
SUBJECT_TYPES: Mapping[str, str] = {"deals": "deal", "tickets": "case", "companies": "account"}

#: An unqualified property is read on these object types (whichever has it).
UNQUALIFIED: tuple[str, ...] = ("deals", "tickets")

#: The attributes every HubSpot mapping provides unless it maps them to null.
DEFAULT_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "priority": ("ticket.hs_ticket_priority",),
    "pipeline": ("deal.pipeline", "ticket.hs_pipeline"),
}

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def property_ref(value: str) -> str:
    """`property`, `deal.property`, `ticket.property` or `company.property` (validator)."""
    qualifier, _, name = value.strip().rpartition(".")
    if qualifier and qualifier not in QUALIFIERS:
        raise ValueError(
            f"'{value}': '{qualifier}' is not an object attributes are read from"
            f"{did_you_mean(qualifier, list(QUALIFIERS))}; write deal.<property>, "
            "ticket.<property>, company.<property>, or <property> for deals and tickets"
        )
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"'{value}' is not a HubSpot property's internal name like hs_ticket_priority "
            "(lowercase letters, digits and _; see Settings > Properties > the property's "
            "internal name)"
        )
    return value.strip()


def property_refs(value: Any) -> tuple[str, ...] | None:
    """An `attributes` entry: one property reference, a list of them, or null."""
    return source_refs(value, property_ref, "ticket.hs_ticket_priority", "property")


def merged(mapped: Mapping[str, tuple[str, ...] | None]) -> dict[str, tuple[str, ...]]:
    """The defaults with a mapping's `attributes` on top (a null drops a default)."""
    return merged_with(DEFAULT_ATTRIBUTES, mapped)


def wanted(mapped: Mapping[str, tuple[str, ...] | None]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Per object type, the properties to read with history and the attributes each feeds."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, refs in merged(mapped).items():
        for ref in refs:
            qualifier, _, prop = ref.rpartition(".")
            for object_type in (QUALIFIERS[qualifier],) if qualifier else UNQUALIFIED:
                props = found.setdefault(object_type, {})
                props[prop] = (*props.get(prop, ()), name)
    return found


def attribute_history(
    subject_type: str,
    wanted_props: Mapping[str, tuple[str, ...]],
    record: Mapping[str, Any],
    created: int | None,
    parse_time: Callable[[Any], int | None],
) -> tuple[dict[str, Any], list[Found]]:
    """A record's attribute values at its creation, and one `<subject_type>.changed` finding
    per later instant at which one of them changed.

    History entries at or before the creation instant (HubSpot stamps the initial values
    with it) make the initial values. An entry with an empty value (a cleared property) is
    skipped: an event cannot say "no value", so the previous value stays in force. Without
    a history for a property (HubSpot returns none for a property never set), its current
    value, if any, is taken as held since creation.
    """
    props: Mapping[str, Any] = record.get("properties") or {}
    history: Mapping[str, list[dict[str, Any]]] = record.get("propertiesWithHistory") or {}
    initial: dict[str, Any] = {}
    changes: dict[int, dict[str, Any]] = {}
    for prop, names in wanted_props.items():
        entries = history.get(prop)
        if not entries:
            entries = [{"value": props.get(prop), "timestamp": None}]
        timed = [(parse_time(e.get("timestamp")), e.get("value")) for e in reversed(entries)]
        timed.sort(key=lambda pair: -1 if pair[0] is None else pair[0])  # stable: API order
        previous = None
        for at, value in timed:
            if value in (None, "") or value == previous:
                continue
            previous = value
            late = at is not None and created is not None and at > created
            target = changes.setdefault(at, {}) if late and at is not None else initial
            target.update(dict.fromkeys(names, value))
    kind = f"{subject_type}.changed"
    found: list[Found] = [
        (f"changed@{at // 1000}", kind, at, values) for at, values in sorted(changes.items())
    ]
    return initial, found
