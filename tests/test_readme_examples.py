"""The worked examples in README "Promise semantics", exactly as written there."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from qmon.promises.calendar import BusinessCalendar
from qmon.promises.engine import evaluate_subject
from qmon.promises.promise import Promise, Role
from qmon.timeutil import to_us

AMS = ZoneInfo("Europe/Amsterdam")
M = 60_000_000
OFFICE = BusinessCalendar(
    "office-nl", AMS, {d: [(9 * 3600, 12 * 3600 + 1800), (13 * 3600, 17 * 3600)] for d in range(5)},
    ["NL"],
)
FIRST_REPLY = Promise(
    "first-reply-4bh", "First reply", "after-sales",
    {"case.opened": Role.START, "case.first_response": Role.STOP,
     "case.waiting_on_customer": Role.PAUSE, "case.customer_replied": Role.RESUME},
    240 * M, OFFICE, "office-nl", warn_at=0.75,
)


def local(text: str) -> int:
    return to_us(datetime.fromisoformat(text).replace(tzinfo=AMS))


# 2026-11-20 is a Friday; 2026-04-24 a Friday before King's Day (Mon 27 April).
CASES = [
    ("Fri 15:00 -> Mon 10:30", [("2026-11-20 15:00", "case.opened"),
                                ("2026-11-23 10:30", "case.first_response")], 210, "met", False),
    ("Fri 15:00 -> Mon 11:30", [("2026-11-20 15:00", "case.opened"),
                                ("2026-11-23 11:30", "case.first_response")], 270, "breached",
     False),
    ("pause for the customer", [("2026-11-23 12:00", "case.opened"),
                                ("2026-11-23 12:15", "case.waiting_on_customer"),
                                ("2026-11-25 09:00", "case.customer_replied"),
                                ("2026-11-25 12:00", "case.first_response")], 195, "met", False),
    ("opened on Saturday", [("2026-11-21 10:00", "case.opened"),
                            ("2026-11-23 12:45", "case.first_response")], 210, "met", False),
    ("King's Day", [("2026-04-24 16:00", "case.opened"),
                    ("2026-04-28 11:30", "case.first_response")], 210, "met", False),
    ("open and at risk", [("2026-11-19 10:00", "case.opened")], 180, "open", True),
]


@pytest.mark.parametrize(("events", "minutes", "status", "at_risk"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_readme_example(events, minutes, status, at_risk):
    evs = [(local(at), etype, None, None, None) for at, etype in events]
    as_of = local("2026-11-19 13:30") if status == "open" else local("2026-12-01 00:00")
    [inst] = evaluate_subject(FIRST_REPLY, "case", "C-1", evs, as_of)
    assert (inst.elapsed_us // M, inst.status, inst.at_risk) == (minutes, status, at_risk)


def test_readme_deadline_example():
    evs = [(local("2026-11-20 15:00"), "case.opened", None, None, None)]
    [inst] = evaluate_subject(FIRST_REPLY, "case", "C-1", evs, local("2026-11-20 16:00"))
    assert inst.deadline_us == local("2026-11-23 11:00")
