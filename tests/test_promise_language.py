"""One table per rule of issue 11's "Semantics", each row a small promise, events and as-of
with its instances computed by hand from the rule. Every row is checked twice: by the
reference evaluator (tests/promise_reference.py) and by the real `qmon import` + `qmon audit`.

Calendar office-nl: Mon-Fri 09:00-12:30 and 13:00-17:00 Europe/Amsterdam, NL holidays.
Events are written in Amsterdam wall time (November: UTC+1; August, April: UTC+2); expected
instants in UTC.
"""

from __future__ import annotations

import pytest

from tests.promise_run import (
    AS_OF,
    by_qmon,
    by_reference,
    comparable,
    config,
    ev,
    expected,
    inst,
    not_evaluated,
    z,
)

H = 3600
DAY = 86_400
VIA = ["reference", "qmon"]


def check(via: str, tmp_path, promise: dict, events: list[dict], as_of: str, want: list[dict]):
    cfg = config(promise)
    if via == "reference":
        got = by_reference(cfg, events, as_of)
    else:
        got = by_qmon(tmp_path, cfg, events, as_of)
    assert comparable(got["instances"]) == expected(want)


# Rows where qmon's engine disagrees with the rule (and the reference): reported, not hidden.
DISAGREEMENTS: dict[str, str] = {}


def table(*rows):
    """Parametrize over (via, row): each row checked by the reference and by qmon."""
    params = []
    for name, *row in rows:
        for via in VIA:
            marks = ()
            if via == "qmon" and name in DISAGREEMENTS:
                marks = pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[name])
            params.append(pytest.param(via, *row, id=f"{via}-{name}", marks=marks))
    return pytest.mark.parametrize(("via", "promise", "events", "as_of", "want"), params)


OPENED, REPLY, UPDATED = "case.opened", "case.first_response", "case.updated"
TWO = {"start": OPENED, "stop": REPLY,
       "targets": [{"when": {"priority": "urgent"}, "within": "1h"}, {"within": "8h"}]}
URGENT_MET = inst("2026-11-23 08:00", "2026-11-23 08:30", 1800, "met", H, "2026-11-23 09:00", 0)
NORMAL_MET = inst("2026-11-23 08:00", "2026-11-23 08:30", 1800, "met", 8 * H,
                  "2026-11-23 16:00", 1)
REPLIED = ev("r-1", "2026-11-23 09:30", REPLY)


# --- Attributes: latest at or before t, of any type; empty values; id tie-break by code point
@table(
    ("on the start event", TWO,
     [ev("e-1", "2026-11-23 09:00", OPENED, priority="urgent"), REPLIED], AS_OF, [URGENT_MET]),
    ("from an earlier event of another type", TWO,
     [ev("e-1", "2026-11-23 08:00", UPDATED, priority="urgent"),
      ev("e-2", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [URGENT_MET]),
    ("the latest of several", TWO,
     [ev("e-1", "2026-11-23 07:00", UPDATED, priority="urgent"),
      ev("e-2", "2026-11-23 08:00", UPDATED, priority="normal"),
      ev("e-3", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [NORMAL_MET]),
    ("one second before the start counts", TWO,
     [ev("e-1", "2026-11-23 08:59:59", UPDATED, priority="urgent"),
      ev("e-2", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [URGENT_MET]),
    ("one second after the start does not", TWO,
     [ev("e-1", "2026-11-23 09:00:01", UPDATED, priority="urgent"),
      ev("e-2", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [NORMAL_MET]),
    ("same instant: the id sorting last wins (the other event)", TWO,
     [ev("e-1", "2026-11-23 09:00", OPENED, priority="normal"),
      ev("e-2", "2026-11-23 09:00", UPDATED, priority="urgent"), REPLIED], AS_OF, [URGENT_MET]),
    ("same instant: the id sorting last wins (the start)", TWO,
     [ev("e-2", "2026-11-23 09:00", OPENED, priority="normal"),
      ev("e-1", "2026-11-23 09:00", UPDATED, priority="urgent"), REPLIED], AS_OF, [NORMAL_MET]),
    ("ids by code point: u-9 sorts after u-10", TWO,
     [ev("u-10", "2026-11-23 08:00", UPDATED, priority="normal"),
      ev("u-9", "2026-11-23 08:00", UPDATED, priority="urgent"),
      ev("x-1", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [URGENT_MET]),
    ("ids by code point: lower case sorts after upper case", TWO,
     [ev("e-1", "2026-11-23 08:00", UPDATED, priority="urgent"),
      ev("E-1", "2026-11-23 08:00", UPDATED, priority="normal"),
      ev("x-1", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [URGENT_MET]),
    ("an empty string does not carry the attribute", TWO,
     [ev("e-1", "2026-11-23 08:00", UPDATED, priority="urgent"),
      ev("e-2", "2026-11-23 09:00", OPENED, priority=""), REPLIED], AS_OF, [URGENT_MET]),
    ("a null does not carry the attribute", TWO,
     [ev("e-1", "2026-11-23 08:00", UPDATED, priority="urgent"),
      ev("e-2", "2026-11-23 09:00", OPENED, priority=None), REPLIED], AS_OF, [URGENT_MET]),
    ("another subject's value is not read", TWO,
     [ev("e-1", "2026-11-23 08:00", UPDATED, subject="C-2", priority="urgent"),
      ev("e-2", "2026-11-23 09:00", OPENED), REPLIED], AS_OF, [NORMAL_MET]),
)
def test_attributes(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)


# --- Matching: trimmed, case-insensitive, as strings; lists; not; missing matches nothing
def matching(name: str, when: dict, attrs: dict, matched: bool):
    promise = {"start": OPENED, "stop": REPLY, "within": "1h", "when": when}
    met = inst("2026-11-23 08:00", "2026-11-23 08:30", 1800, "met", H, "2026-11-23 09:00")
    return (name, promise, [ev("e-1", "2026-11-23 09:00", OPENED, **attrs), REPLIED], AS_OF,
            [met] if matched else [])


@table(
    matching("trimmed, case-insensitive", {"priority": "urgent"}, {"priority": " URGENT "}, True),
    matching("the promise's value trimmed too", {"priority": " Urgent "}, {"priority": "urgent"},
             True),
    matching("a prefix is not equal", {"priority": "urgent"}, {"priority": "urgen"}, False),
    matching("one of a list", {"priority": ["high", "urgent"]}, {"priority": "High"}, True),
    matching("not in the list", {"priority": ["high"]}, {"priority": "urgent"}, False),
    matching("not: another value", {"priority": {"not": "low"}}, {"priority": "urgent"}, True),
    matching("not: a listed value", {"priority": {"not": ["low", "Urgent"]}},
             {"priority": " urgent"}, False),
    matching("not: missing matches nothing", {"priority": {"not": "low"}}, {}, False),
    matching("not: empty is missing", {"priority": {"not": "low"}}, {"priority": ""}, False),
    matching("missing matches nothing", {"priority": "urgent"}, {}, False),
    matching("every key must match", {"priority": "urgent", "channel": "email"},
             {"priority": "urgent", "channel": "web"}, False),
    matching("every key matches", {"priority": "urgent", "channel": ["email", "web"]},
             {"priority": "urgent", "channel": "Web"}, True),
    matching("owner is an attribute", {"owner": "anna"}, {"owner": "Anna"}, True),
    matching("numbers as strings", {"level": 2}, {"level": 2}, True),
    matching("a YAML number against a string", {"level": 2}, {"level": "2"}, True),
    matching("a YAML string against a number", {"level": "2"}, {"level": 2}, True),
    matching("a YAML bool is 'true'", {"vip": True}, {"vip": "TRUE"}, True),
    matching("a JSON bool is 'true'", {"vip": True}, {"vip": True}, True),
    matching("a YAML bool against another word", {"vip": False}, {"vip": "no"}, False),
    matching("case folding, not only lower case", {"city": "STRASSE"}, {"city": "straße"}, True),
)
def test_matching(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)


# --- Cycles first, then when; decision instant with and without retarget
KEY_ONLY = {"start": OPENED, "stop": REPLY, "within": "1h", "when": {"tier": "key"}}


def retarget(flag: bool, **more) -> dict:
    return {**TWO, "retarget": flag, **more}


ORDER = {"start": "order.confirmed", "stop": "order.delivered",
         "deadline": {"attribute": "promised_date"}}
RAISED = [ev("e-1", "2026-11-23 09:00", OPENED, priority="normal"),
          ev("e-2", "2026-11-23 09:30", UPDATED, priority="urgent"),
          ev("e-3", "2026-11-23 11:00", REPLY)]
MOVED = [ev("e-1", "2026-11-16 10:00", "order.confirmed", promised_date="2026-11-20T12:00:00Z"),
         ev("e-2", "2026-11-17 10:00", "order.updated", promised_date="2026-11-25T12:00:00Z"),
         ev("e-3", "2026-11-21 10:00", "order.delivered")]


@table(
    ("a cycle that is no instance still occupies its time", KEY_ONLY,
     [ev("e-1", "2026-11-23 09:00", OPENED, tier="standard"),
      ev("e-2", "2026-11-23 09:10", UPDATED, tier="key"),
      ev("e-3", "2026-11-23 09:20", OPENED), ev("e-4", "2026-11-23 09:30", REPLY),
      ev("e-5", "2026-11-23 10:00", OPENED), ev("e-6", "2026-11-23 10:20", REPLY)], AS_OF,
     [inst("2026-11-23 09:00", "2026-11-23 09:20", 1200, "met", H, "2026-11-23 10:00")]),
    ("each cycle decided on its own", KEY_ONLY,
     [ev("e-1", "2026-11-23 09:00", OPENED, tier="key"), ev("e-2", "2026-11-23 09:30", REPLY),
      ev("e-3", "2026-11-23 09:40", UPDATED, tier="standard"),
      ev("e-4", "2026-11-23 10:00", OPENED), ev("e-5", "2026-11-23 10:20", REPLY)], AS_OF,
     [inst("2026-11-23 08:00", "2026-11-23 08:30", 1800, "met", H, "2026-11-23 09:00")]),
    ("without retarget: the target of the start", retarget(False), RAISED, AS_OF,
     [inst("2026-11-23 08:00", "2026-11-23 10:00", 2 * H, "met", 8 * H, "2026-11-23 16:00", 1)]),
    ("retarget: the target of the stop, for all the time run", retarget(True), RAISED, AS_OF,
     [inst("2026-11-23 08:00", "2026-11-23 10:00", 2 * H, "breached", H, "2026-11-23 09:00",
           0)]),
    ("retarget: lowered mid-way", retarget(True),
     [ev("e-1", "2026-11-23 09:00", OPENED, priority="urgent"),
      ev("e-2", "2026-11-23 09:30", UPDATED, priority="normal"),
      ev("e-3", "2026-11-23 11:00", REPLY)], AS_OF,
     [inst("2026-11-23 08:00", "2026-11-23 10:00", 2 * H, "met", 8 * H, "2026-11-23 16:00", 1)]),
    ("retarget: a change at the stop's instant counts", retarget(True),
     [ev("e-1", "2026-11-23 09:00", OPENED, priority="normal"),
      ev("e-2", "2026-11-23 11:00", UPDATED, priority="urgent"),
      ev("e-3", "2026-11-23 11:00", REPLY)], AS_OF,
     [inst("2026-11-23 08:00", "2026-11-23 10:00", 2 * H, "breached", H, "2026-11-23 09:00",
           0)]),
    ("retarget: a change one second after the stop does not", retarget(True),
     [ev("e-1", "2026-11-23 09:00", OPENED, priority="normal"),
      ev("e-2", "2026-11-23 11:00:01", UPDATED, priority="urgent"),
      ev("e-3", "2026-11-23 11:00", REPLY)], AS_OF,
     [inst("2026-11-23 08:00", "2026-11-23 10:00", 2 * H, "met", 8 * H, "2026-11-23 16:00", 1)]),
    ("retarget: open, read at as-of", retarget(True, warn_at="50%"), RAISED[:2],
     z("2026-11-23 08:45"),
     [inst("2026-11-23 08:00", None, 2700, "open", H, "2026-11-23 09:00", 0, at_risk=True)]),
    ("retarget: open, a change after as-of is ignored", retarget(True, warn_at="50%"),
     RAISED[:1] + [ev("e-2", "2026-11-23 10:00", UPDATED, priority="urgent")],
     z("2026-11-23 08:45"),
     [inst("2026-11-23 08:00", None, 2700, "open", 8 * H, "2026-11-23 16:00", 1)]),
    ("without retarget: the promise's when at the start",
     retarget(False, when={"channel": "email"}),
     [ev("e-1", "2026-11-23 09:00", OPENED, channel="web"),
      ev("e-2", "2026-11-23 09:10", UPDATED, channel="email"), REPLIED], AS_OF, []),
    ("retarget: the promise's when at the stop", retarget(True, when={"channel": "email"}),
     [ev("e-1", "2026-11-23 09:00", OPENED, channel="web"),
      ev("e-2", "2026-11-23 09:10", UPDATED, channel="email"), REPLIED], AS_OF, [NORMAL_MET]),
    ("without retarget: the deadline attribute at the start", ORDER, MOVED, AS_OF,
     [inst("2026-11-16 09:00", "2026-11-21 09:00", 5 * DAY, "breached", 356_400,
           "2026-11-20 12:00")]),
    ("retarget: the deadline attribute at the stop", {**ORDER, "retarget": True}, MOVED, AS_OF,
     [inst("2026-11-16 09:00", "2026-11-21 09:00", 5 * DAY, "met", 788_400,
           "2026-11-25 12:00")]),
    ("without retarget: set only after the start is missing", ORDER,
     [ev("e-1", "2026-11-16 10:00", "order.confirmed"), *MOVED[1:]], AS_OF,
     [not_evaluated("2026-11-16 09:00", "2026-11-21 09:00", 5 * DAY)]),
)
def test_cycles_and_decision_instant(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)


# --- Targets: the first that matches; the default last; the index from 0
def targets(*entries) -> dict:
    return {"start": OPENED, "stop": REPLY, "targets": list(entries)}


def opened(**attrs) -> list[dict]:
    return [ev("e-1", "2026-11-23 09:00", OPENED, **attrs), REPLIED]


def met(allowed: int, deadline: str, target: int) -> list[dict]:
    return [inst("2026-11-23 08:00", "2026-11-23 08:30", 1800, "met", allowed, deadline, target)]


URG = {"when": {"priority": "urgent"}, "within": "1h"}
HIGH = {"when": {"priority": "high"}, "within": "4h"}
DEFAULT = {"within": "8h"}


@table(
    ("the first that matches, not the strictest",
     targets({"when": {"priority": ["urgent", "high"]}, "within": "2h"}, URG, DEFAULT),
     opened(priority="urgent"), AS_OF, met(2 * H, "2026-11-23 10:00", 0)),
    ("the second entry", targets(URG, HIGH, DEFAULT), opened(priority="High"), AS_OF,
     met(4 * H, "2026-11-23 12:00", 1)),
    ("the default", targets(URG, HIGH, DEFAULT), opened(priority="low"), AS_OF,
     met(8 * H, "2026-11-23 16:00", 2)),
    ("a missing attribute takes the default", targets(URG, HIGH, DEFAULT), opened(), AS_OF,
     met(8 * H, "2026-11-23 16:00", 2)),
    ("no default and no match: no instance", targets(URG, HIGH), opened(priority="low"), AS_OF,
     []),
    ("no default and missing: no instance", targets(URG), opened(), AS_OF, []),
    ("a not target", targets({"when": {"priority": {"not": ["low"]}}, "within": "1h"}, DEFAULT),
     opened(priority="high"), AS_OF, met(H, "2026-11-23 09:00", 0)),
    ("a not target does not take a missing value",
     targets({"when": {"priority": {"not": ["low"]}}, "within": "1h"}, DEFAULT), opened(),
     AS_OF, met(8 * H, "2026-11-23 16:00", 1)),
    ("business days as a target",
     {**targets({"when": {"priority": "urgent"}, "within": "1 business day"},
                {"within": "2 business days"}), "calendar": "office-nl"},
     [ev("e-1", "2026-11-23 10:00", OPENED, priority="normal"),
      ev("e-2", "2026-11-24 10:00", REPLY)], AS_OF,
     [inst("2026-11-23 09:00", "2026-11-24 09:00", 27_000, "met", 77_400, "2026-11-25 16:00",
           1)]),
)
def test_targets(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)
