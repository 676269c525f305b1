"""A subject's decided rows (`qmon.promises.replay.DecidedRow`) from its events in memory: what
`Store.promise_events` reads in SQL, for callers that hold the events themselves.

The value of attribute `a` at instant t is the value on the latest event at or before t that
carries it; at equal instants the one whose id sorts last (by code point) wins. Owner, channel
and account are carried when neither None nor ""; any other attribute as
`qmon.events.attribute_text` says.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from typing import Any

from qmon.events import CONTEXT_ATTRIBUTES, attribute_text
from qmon.promises.promise import Promise
from qmon.promises.replay import DecidedRow, decided_key, decision_roles

#: One event as this module reads it: occurred_us, type, event_id, owner, channel, account,
#: attributes (a mapping, or None).
CarriedEvent = tuple[int, str, str, str | None, str | None, str | None, Mapping[str, Any] | None]
_CONTEXT = {name: 3 + i for i, name in enumerate(("owner", "channel", "account"))}
assert set(_CONTEXT) == set(CONTEXT_ATTRIBUTES)


def decided_rows(
    promise: Promise,
    names: tuple[str, ...],
    subject_type: str,
    subject_id: str,
    events: Iterable[CarriedEvent],
    as_of_us: int,
) -> list[DecidedRow]:
    """The subject's decided rows of `promise`, reading `names`, as of `as_of_us`."""
    kept = sorted((e for e in events if e[0] <= as_of_us), key=lambda e: (e[0], e[2]))
    history: dict[str, tuple[list[int], list[str]]] = {}
    for name in names:
        instants: list[int] = []
        values: list[str] = []
        for event in kept:
            if name in _CONTEXT:
                value = event[_CONTEXT[name]] or None
            else:
                value = attribute_text((event[6] or {}).get(name))
            if value is not None:
                instants.append(event[0])
                values.append(value)
        history[name] = (instants, values)

    def at(instant: int) -> str | None:
        found = []
        for name in names:  # in (instant, id) order: the last at or before wins
            instants, values = history[name]
            index = bisect_right(instants, instant) - 1
            found.append(values[index] if index >= 0 else None)
        return decided_key(found)

    at_roles, as_of_roles = decision_roles(promise)
    as_of_values = at(as_of_us) if as_of_roles else None
    roles = promise.roles
    rows = []
    for event in sorted((e for e in kept if e[1] in roles),
                        key=lambda e: (e[0], roles[e[1]].rank, e[2])):  # fmt: skip
        role = roles[event[1]]
        rows.append((subject_type, subject_id, event[0], int(role), *event[3:6],
                     at(event[0]) if role in at_roles else None,
                     as_of_values if role in as_of_roles else None))
    return rows
