"""What every connector's `mappings.<name>.attributes` shares: the rule for attribute names.

Each CRM package says which of its fields an attribute may come from (`hubspot/attributes.py`,
`salesforce/attributes.py`); the names themselves follow one rule everywhere.
"""

from __future__ import annotations

import re

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
