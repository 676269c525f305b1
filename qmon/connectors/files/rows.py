"""A row's fields, from either reader, as an `Event`, or what is wrong with them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from qmon.events import CORE_FIELDS, KEY_BYTES, REQUIRED_FIELDS, Event, size_problems
from qmon.textsafe import stored_text_problem
from qmon.timeutil import END_US, FIRST_US, instant_problem, parse_instant

#: The answers a survey's `score` may be: NPS 0-10, CSAT 1-5, CES 1-7 (the usual scales).
SURVEY_SCALES: dict[str, tuple[int, int]] = {
    "survey.nps": (0, 10), "survey.csat": (1, 5), "survey.ces": (1, 7),
}  # fmt: skip

#: What `row_event` counts instants from, and in (as `qmon.timeutil` does).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def row_event(
    fields: Sequence[str], attributes: dict[str, Any], default_source: str, tz: ZoneInfo | None
) -> Event | str:
    """The event that core `fields` and `attributes` describe, or what is wrong with them.

    `fields` are stripped, in `CORE_FIELDS` order, "" when absent. This runs once per row,
    so a good row costs a few cheap checks; which field is wrong is worked out only for the
    rare bad row.
    """
    (
        source, event_id, occurred_at, event_type, subject_type, subject_id,
        account, owner, channel, link,
    ) = fields  # fmt: skip
    if not (event_id and occurred_at and event_type and subject_type and subject_id):
        missing = next(f for f in REQUIRED_FIELDS if not fields[CORE_FIELDS.index(f)])
        return f"missing required field {missing!r}"
    # isprintable() is False for tabs and newlines, which would be spaces too
    if " " in event_type or not event_type.isprintable():
        return f"field 'type' must not contain spaces: {event_type!r}"
    if " " in subject_type or not subject_type.isprintable():
        return f"field 'subject_type' must not contain spaces: {subject_type!r}"
    # A shortcut past parse_instant for the usual timestamp, which has its offset: its own
    # checks cost more than the parsing here (~0.7 us a row), and cannot fail. Every other
    # timestamp, each mistake included, still goes to parse_instant, the one place that
    # decides what a timestamp means and words what is wrong with it.
    try:
        instant = datetime.fromisoformat(occurred_at)
    except ValueError:
        instant = None
    if instant is not None and instant.tzinfo is not None:
        occurred_us = (instant - _EPOCH) // _ONE_US
    else:
        try:
            occurred_us = parse_instant(occurred_at, tz)
        except ValueError as exc:
            return f"occurred_at: {exc}"
    if not FIRST_US <= occurred_us < END_US:
        return f"occurred_at: {instant_problem(occurred_us, occurred_at)}"
    if "score" in attributes and event_type in SURVEY_SCALES:
        problem = _score_problem(event_type, attributes["score"])
        if problem:
            return problem
    # Positional, in the order Event declares its fields: keywords would cost ~0.8 us a row.
    return Event(
        source or default_source,
        event_id,
        occurred_us,
        event_type,
        subject_type,
        subject_id,
        account or None,
        owner or None,
        channel or None,
        link or None,
        attributes,
    )


_TEXT_FIELDS = (
    ("source", "source"), ("id", "id"), ("type", "type"), ("subject_type", "subject_type"),
    ("subject_id", "subject_id"), ("account", "account"), ("owner", "owner"),
    ("channel", "channel"), ("link", "link"),
)  # fmt: skip


def text_problem(event: Event) -> str:
    """What in an event cannot be stored as text (`textsafe.stored_text_problem`), or "".

    Called only for the rare row whose line has a NUL or a JSON escape: the same rule for
    both stores, where SQLite would keep a NUL and PostgreSQL refuse the whole import."""
    values = [(name, getattr(event, attr)) for name, attr in _TEXT_FIELDS]
    for name, value in event.attributes.items():
        values.append((name, name))  # a key, too, is stored
        values.append((name, value if isinstance(value, str) else
                       json.dumps(value, ensure_ascii=False)))  # as event_to_row writes it
    for name, value in values:
        problem = stored_text_problem(value) if isinstance(value, str) else ""
        if problem:
            return f"field {name!r} {problem}"
    return ""


def may_be_long(characters: str) -> bool:
    """Whether some field of a row read from these characters could be too long to store
    (`size_fit`): only when they are more than `KEY_BYTES` bytes, so a usual row costs a
    length and an ASCII test."""
    return len(characters) * 4 > KEY_BYTES and (
        len(characters) > KEY_BYTES or not characters.isascii())


def size_fit(event: Event) -> Event | str:
    """The event, or why one of its fields is too long to store (`qmon.events.size_problems`:
    the same limits on SQLite and PostgreSQL, which would refuse the whole import)."""
    key, long = size_problems(event)
    return key or next(iter(long.values()), event)


def _score_problem(event_type: str, score: Any) -> str:
    """What is wrong with a survey's `score`, or "" if it is an answer on the scale.

    A score that is no number at all ("n/a") is kept and not counted, as the weekly report
    documents; a number off the scale, infinite or NaN would be counted, and is refused.
    """
    low, high = SURVEY_SCALES[event_type]
    if isinstance(score, int | float) and not isinstance(score, bool):
        number = float(score)
    elif isinstance(score, str):
        try:
            number = float(score.strip().replace(",", "."))
        except ValueError:
            return ""
    else:
        return ""
    if not math.isfinite(number):
        return f"field 'score' must be a number from {low} to {high}, not {score!r}"
    if not low <= number <= high:
        return f"field 'score' {score!r} is outside the {event_type} scale of {low} to {high}"
    return ""
