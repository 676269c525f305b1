"""qmon's audit equals the reference evaluator (tests/promise_reference.py) on random histories.

Histories start near the daylight-saving changes of Europe/Amsterdam (late March, late
October), King's Day and Christmas; events fall on a half-hour grid, often on the same
instant, with attribute changes one second before, at and after the starts and stops, ids
whose code-point order differs from their numeric or case-folded order, pauses, deadline
attributes of every accepted and refused form, and repeat/until. Each example is one real
`qmon import` + `qmon audit` compared with the reference, instance by instance.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.promise_run import AMS, by_qmon, by_reference, comparable, config

OPENED, REPLY, WAIT, BACK, UPDATED, CLOSED = (
    "case.opened", "case.first_response", "case.waiting", "case.replied", "case.updated",
    "case.closed",
)
ANCHORS = [datetime(2026, 3, 27, 15, tzinfo=AMS), datetime(2026, 10, 23, 15, tzinfo=AMS),
           datetime(2026, 4, 24, 15, tzinfo=AMS), datetime(2026, 12, 23, 15, tzinfo=AMS)]
IDS = [f"{p}-{n}" for p in ("a", "A", "b") for n in (1, 2, 9, 10, 11, 19, 20)]
HALF_HOUR = timedelta(minutes=30)
PAUSES = {"pause": WAIT, "resume": BACK}
URGENT = {"when": {"priority": "urgent"}, "within": "1h"}
HIGH = {"when": {"priority": ["high"]}, "within": "4h"}
BASE = {"start": OPENED, "stop": REPLY, **PAUSES}
EXAMPLES = settings(max_examples=70, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TARGETED = config(
    {**BASE, "calendar": "office-nl", "when": {"channel": ["email", "web"]}, "warn_at": "50%",
     "targets": [URGENT, HIGH, {"within": "1 business day"}]},
    {**BASE, "calendar": "office-nl", "retarget": True,
     "targets": [{"when": {"priority": {"not": ["low"]}}, "within": "2h"},
                 {"within": "2 business days"}]},
    {**BASE, "retarget": True, "targets": [URGENT, HIGH]},
    {"start": OPENED, "stop": REPLY, "calendar": "office-nl", "within": "0 business days"},
)
DEADLINES = config(
    {**BASE, "calendar": "office-nl", "deadline": {"attribute": "promised_date"}},
    {**BASE, "retarget": True, "warn_at": "75%", "deadline": {"attribute": "promised_date"}},
    {**BASE, "calendar": "office-nl", "within": "2 business days"},
)
REPEATS = config(
    {**BASE, "repeat": True, "until": CLOSED, "calendar": "office-nl", "within": "4h",
     "when": {"channel": {"not": "phone"}}},
    {**BASE, "repeat": True, "until": CLOSED, "retarget": True,
     "targets": [URGENT, {"within": "8h"}]},
    {**BASE, "until": CLOSED, "within": "1 business day", "calendar": "office-nl"},
    {"start": OPENED, "stop": REPLY, "repeat": True, "until": CLOSED,
     "deadline": {"attribute": "promised_date"}},
)


def promised_values(anchor: datetime) -> list[str]:
    day = anchor.date()
    dates = [(day + timedelta(days=d)).isoformat() for d in (-2, 0, 1, 3, 4, 6)]
    return [*dates, f"{day + timedelta(days=3)}T10:00:00Z",
            f" {day + timedelta(days=1)} 16:30+02:00", f"{day}T14:59:59+01:00",
            f"{day - timedelta(days=1)}T12:00:00Z",
            f"{day}T10:00:00", f"{day}T10:00:00+0100", day.isoformat().replace("-", "/"),
            "2026-02-30", ""]


@st.composite
def histories(draw, types: list[str]) -> tuple[list[dict], str]:
    """Events of one or two cases around an anchor, and an as-of."""
    anchor = draw(st.sampled_from(ANCHORS))
    ids = iter(draw(st.permutations(IDS)))
    attrs = st.fixed_dictionaries({}, optional={
        "priority": st.sampled_from(["urgent", " High ", "low", "", None]),
        "channel": st.sampled_from(["email", "Web", "phone"]),
        "promised_date": st.sampled_from(promised_values(anchor)),
    })
    jitter = st.sampled_from([0, 0, 0, -1, 1])
    raw = []
    for _ in range(draw(st.integers(1, 9))):
        at = anchor + draw(st.integers(0, 240)) * HALF_HOUR + timedelta(seconds=draw(jitter))
        raw.append((at, draw(st.sampled_from(types)), draw(st.sampled_from(["C-1", "C-2"])),
                    draw(attrs)))
    for _ in range(draw(st.integers(0, 4))):  # attribute changes around a start or stop
        at, _, subject, _ = draw(st.sampled_from(raw))
        shift = timedelta(seconds=draw(st.sampled_from([-1, 0, 1])))
        raw.append((at + shift, UPDATED, subject, draw(attrs)))
    events = [
        {"id": next(ids), "occurred_at": at.astimezone(AMS).isoformat(), "type": typ,
         "subject_type": "case", "subject_id": subject, **extra}
        for at, typ, subject, extra in raw
    ]
    if draw(st.booleans()):
        as_of = anchor + draw(st.integers(0, 400)) * HALF_HOUR
    else:
        as_of = draw(st.sampled_from(raw))[0] + timedelta(seconds=draw(jitter))
    return events, as_of.isoformat()


def assert_same(cfg: dict, events: list[dict], as_of: str) -> None:
    want = by_reference(cfg, events, as_of)
    with tempfile.TemporaryDirectory() as folder:
        got = by_qmon(Path(folder), cfg, events, as_of)
    assert comparable(got["instances"]) == comparable(want["instances"])
    assert got["promises"] == want["promises"]
    assert got["phases"] == want["phases"]


@EXAMPLES
@given(histories([OPENED, OPENED, REPLY, REPLY, WAIT, BACK, UPDATED]))
def test_targets_when_and_retarget_equal_the_reference(history):
    assert_same(TARGETED, *history)


@EXAMPLES
@given(histories([OPENED, OPENED, REPLY, REPLY, WAIT, BACK, UPDATED]))
def test_business_days_and_deadline_attributes_equal_the_reference(history):
    assert_same(DEADLINES, *history)


@EXAMPLES
@given(histories([OPENED, REPLY, REPLY, REPLY, CLOSED, WAIT, BACK, UPDATED]))
def test_repeat_and_until_equal_the_reference(history):
    assert_same(REPEATS, *history)


def fixed_history() -> list[dict]:
    """Ties broken by code point (u-9 after u-10, e-1 after E-1, y-9 after y-10), a stop and
    an until at one instant, pauses over the October change of daylight saving time."""
    rows = [
        ("u-10", "2026-10-23 08:00", UPDATED, "C-1", {"priority": "normal"}),
        ("u-9", "2026-10-23 08:00", UPDATED, "C-1", {"priority": "urgent", "channel": "email"}),
        ("x-1", "2026-10-23 09:00", OPENED, "C-1", {"promised_date": "2026-10-26"}),
        ("x-2", "2026-10-23 10:00", WAIT, "C-1", {}),
        ("x-3", "2026-10-26 10:00", BACK, "C-1", {}),
        ("x-4", "2026-10-26 11:00", REPLY, "C-1", {}),
        ("x-5", "2026-10-26 11:00", CLOSED, "C-1", {}),
        ("E-1", "2026-10-23 16:00", UPDATED, "C-2", {"priority": "low", "channel": "web"}),
        ("e-1", "2026-10-23 16:00", UPDATED, "C-2", {"priority": "urgent"}),
        ("y-1", "2026-10-23 16:00", OPENED, "C-2",
         {"promised_date": "2026-10-26T12:00:00+01:00"}),
        ("y-2", "2026-10-26 09:00", UPDATED, "C-2", {"priority": "high"}),
        ("y-10", "2026-10-26 09:30", REPLY, "C-2", {}),
        ("y-9", "2026-10-26 09:30", CLOSED, "C-2", {}),
        ("z-1", "2026-10-24 10:00", OPENED, "C-3",
         {"priority": "urgent", "channel": "phone", "promised_date": "2026/10/30"}),
    ]
    return [{"id": i, "occurred_at": datetime.fromisoformat(t).replace(tzinfo=AMS).isoformat(),
             "type": typ, "subject_type": "case", "subject_id": s, **a}
            for i, t, typ, s, a in rows]


def test_postgresql_gives_the_sqlite_document_and_the_reference(tmp_path, pg_url):
    cfg = config(*[{k: v for k, v in p.items() if k not in ("id", "phase")}
                   for c in (TARGETED, DEADLINES, REPEATS) for p in c["promises"]])
    events, as_of = fixed_history(), "2026-10-27T12:00:00Z"
    on_sqlite = by_qmon(tmp_path / "sqlite", cfg, events, as_of)
    on_pg = by_qmon(tmp_path / "pg", cfg, events, as_of, env={"QMON_DATABASE_URL": pg_url})
    assert not (tmp_path / "pg" / "qmon.db").exists()  # the store was PostgreSQL's
    want = by_reference(cfg, events, as_of)
    assert len(want["instances"]) >= 12
    assert comparable(on_pg["instances"]) == comparable(on_sqlite["instances"])
    assert {k: v for k, v in on_pg.items() if k != "instances"} == {
        k: v for k, v in on_sqlite.items() if k != "instances"}
    assert comparable(on_pg["instances"]) == comparable(want["instances"])
    assert on_pg["promises"] == want["promises"]
