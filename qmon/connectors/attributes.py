"""What every connector's `mappings.<name>.attributes` shares: the rule for attribute names.

Each CRM package says which of its fields an attribute may come from (`hubspot/attributes.py`,
`salesforce/attributes.py`); the names themselves follow one rule everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from qmon.events import CORE_FIELDS, USED_ATTRIBUTES

#: Names a mapped attribute may not have: the event's own fields and what qmon sets itself.
RESERVED_ATTRIBUTES: frozenset[str] = frozenset(CORE_FIELDS) | USED_ATTRIBUTES | {"occurred_at"}

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def attribute_name(value: str) -> str:
    """An attribute's name as a mapping gives it (a pydantic validator): a lowercase word,
    not an event field."""
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"attribute name '{value}' must be a lowercase word like 'priority' or "
            "'promised_date' (letters, digits and _)"
        )
    if value in RESERVED_ATTRIBUTES:
        raise ValueError(
            f"attribute name '{value}' is an event field qmon sets itself; choose another name"
        )
    return value


def source_refs(
    value: Any, parse: Callable[[str], str], example: str, noun: str
) -> tuple[str, ...] | None:
    """An `attributes` entry's value: one CRM field reference (`noun`, like `example`), a
    list of them, or null, which drops a default. For pydantic "before" validators: one
    message per entry, not one per union member. `parse` checks one reference."""
    if value is None:
        return None
    refs = [value] if isinstance(value, str) else value
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise ValueError(f"an attribute's source must be a {noun} like {example}, a list of "
                         "them, or null")  # fmt: skip
    if not refs:
        raise ValueError(f"an empty list names no {noun}; write null to drop the attribute")
    return tuple(parse(r) for r in refs)


def merged_with(
    defaults: Mapping[str, tuple[str, ...]], mapped: Mapping[str, tuple[str, ...] | None]
) -> dict[str, tuple[str, ...]]:
    """The defaults with a mapping's `attributes` on top (a null drops a default)."""
    found = dict(defaults)
    for name, refs in mapped.items():
        if refs is None:
            found.pop(name, None)
        else:
            found[name] = refs
    return found
