"""Table-driven tests of the promise semantics on the wall clock (calendars: test_calendar)."""

from __future__ import annotations

from datetime import datetime
from operator import itemgetter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmon.promises.calendar import WALL_CLOCK
from qmon.promises.compliance import Tally
from qmon.promises.engine import evaluate, evaluate_subject
from qmon.promises.promise import Promise, Role
from qmon.timeutil import to_us

H = 3_600_000_000
M = 60_000_000
T0 = to_us(datetime.fromisoformat("2026-11-02T09:00:00+00:00"))


def promise(within=24 * H, warn_at=None, pause=True) -> Promise:
    roles = {"req": Role.START, "done": Role.STOP}
    if pause:
        roles |= {"wait": Role.PAUSE, "back": Role.RESUME}
    return Promise("p", "P", "sales", roles, within, WALL_CLOCK, warn_at=warn_at)


def run(events, as_of=T0 + 100 * H, **kw):
    evs = [(T0 + int(h * H), t, None, None, None) for h, t in events]
    return [
        (
            i.started_us - T0,
            None if i.stopped_us is None else i.stopped_us - T0,
            i.elapsed_us,
            i.status,
            i.at_risk,
        )
        for i in evaluate_subject(promise(**kw), "deal", "D-1", evs, as_of)
    ]


CASES = [
    # (id, events as (hours after T0, type), expected (start, stop, elapsed, status, at_risk))
    ("met", [(0, "req"), (5, "done")], [(0, 5 * H, 5 * H, "met", False)]),
    ("exactly on time is met", [(0, "req"), (24, "done")], [(0, 24 * H, 24 * H, "met", False)]),
    ("late", [(0, "req"), (30, "done")], [(0, 30 * H, 30 * H, "breached", False)]),
    ("open, overdue", [(0, "req")], [(0, None, 100 * H, "breached", False)]),
    ("stop without start ignored", [(1, "done")], []),
    (
        "second start while open ignored",
        [(0, "req"), (3, "req"), (5, "done")],
        [(0, 5 * H, 5 * H, "met", False)],
    ),
    (
        "new cycle after stop",
        [(0, "req"), (5, "done"), (10, "req"), (40, "done")],
        [(0, 5 * H, 5 * H, "met", False), (10 * H, 40 * H, 30 * H, "breached", False)],
    ),
    (
        "pause excludes customer time",
        [(0, "req"), (2, "wait"), (50, "back"), (60, "done")],
        [(0, 60 * H, 12 * H, "met", False)],
    ),
    (
        "double pause counted once",
        [(0, "req"), (2, "wait"), (3, "wait"), (4, "back"), (5, "done")],
        [(0, 5 * H, 3 * H, "met", False)],
    ),
    (
        "resume without pause ignored",
        [(0, "req"), (1, "back"), (5, "done")],
        [(0, 5 * H, 5 * H, "met", False)],
    ),
    (
        "stop while paused",
        [(0, "req"), (2, "wait"), (90, "done")],
        [(0, 90 * H, 2 * H, "met", False)],
    ),
    (
        "pause before start ignored",
        [(0, "wait"), (1, "req"), (3, "done")],
        [(1 * H, 3 * H, 2 * H, "met", False)],
    ),
    ("same instant: start before stop", [(0, "done"), (0, "req")], [(0, 0, 0, "met", False)]),
    # pause then resume at one instant: the clock never stops
    (
        "same instant: pause before resume",
        [(0, "req"), (1, "back"), (1, "wait"), (2, "done")],
        [(0, 2 * H, 2 * H, "met", False)],
    ),
    # the start is ordered before the stop, so it falls while the first cycle is still open
    (
        "same instant: start is ignored before stop",
        [(0, "req"), (5, "done"), (5, "req")],
        [(0, 5 * H, 5 * H, "met", False)],
    ),
]


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_semantics(events, expected):
    assert run(events) == expected


def test_events_after_as_of_are_ignored():
    assert run([(0, "req"), (30, "done")], as_of=T0 + 10 * H) == [(0, None, 10 * H, "open", False)]


@pytest.mark.parametrize(
    ("hours_open", "at_risk"), [(17.99, False), (18, True), (23.9, True), (24, True)]
)
def test_at_risk_from_warn_share(hours_open, at_risk):
    got = run([(0, "req")], as_of=T0 + int(hours_open * H), warn_at=0.75)
    assert got[0][3] == "open" and got[0][4] is at_risk


def test_deadline_moves_with_pauses():
    evs = [
        (T0, "req", None, None, None),
        (T0 + H, "wait", None, None, None),
        (T0 + 3 * H, "back", None, None, None),
    ]
    [inst] = evaluate_subject(promise(), "deal", "D", evs, T0 + 5 * H)
    assert inst.deadline_us == T0 + 26 * H
    [paused] = evaluate_subject(promise(), "deal", "D", evs[:2], T0 + 5 * H)
    assert paused.deadline_us is None and paused.paused


def test_context_from_start_event_then_first_later_one():
    evs = [(T0, "req", None, "web", "acme"), (T0 + H, "done", "anna", "email", None)]
    [inst] = evaluate_subject(promise(), "deal", "D", evs, T0 + 5 * H)
    assert (inst.owner, inst.channel, inst.account) == ("anna", "web", "acme")


def test_compliance_is_not_evaluated_without_data():
    assert Tally().compliance is None
    t = Tally(open=3)
    assert t.compliance is None


def test_evaluate_reads_subjects_in_a_row():
    """`evaluate` reads role-coded rows subject after subject; an instance open when its
    subject's rows end stays open, and the next subject (even with the same id) starts afresh."""
    start, stop = Role.START, Role.STOP
    rows = [
        ("case", "A", T0, start, None, None, None),
        ("deal", "A", T0 + H, stop, None, None, None),  # not the case's stop
        ("deal", "A", T0 + 2 * H, start, "anna", None, None),
        ("deal", "A", T0 + 3 * H, stop, "bram", "web", None),
        ("deal", "B", T0, start, None, None, None),
    ]
    got = [
        (i.subject_type, i.subject_id, i.cycle, i.status, i.owner, i.channel)
        for i in evaluate(promise(), rows, T0 + 4 * H)
    ]
    assert got == [
        ("case", "A", 1, "open", None, None),
        ("deal", "A", 1, "met", "anna", "web"),
        ("deal", "B", 1, "open", None, None),
    ]


_ROLE_OF = {"req": Role.START, "wait": Role.PAUSE, "back": Role.RESUME, "done": Role.STOP}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.integers(0, 60),
            st.sampled_from(list(_ROLE_OF)),
            st.sampled_from([None, "anna", "bram"]),
        ),
        max_size=40,
    ),
    st.integers(0, 61),
)
def test_evaluate_over_many_subjects_equals_each_subject_alone(events, as_of_step):
    """The flat replay over a stream of subjects gives what replaying each subject on its own
    gives: nothing (state, cycle count, owner, pause) leaks from one subject to the next."""
    p = promise(within=5 * H, warn_at=0.5)
    as_of = T0 + as_of_step * H
    rows = sorted(  # by subject, time and role; rows equal in those keep their order
        [
            ("deal", sid, T0 + h * H, _ROLE_OF[kind], owner, None, None)
            for sid, h, kind, owner in events
            if T0 + h * H <= as_of
        ],
        key=itemgetter(1, 2, 3),
    )
    alone = []
    for sid in ("A", "B", "C"):
        evs = [(T0 + h * H, kind, owner, None, None) for s, h, kind, owner in events if s == sid]
        alone += evaluate_subject(p, "deal", sid, evs, as_of)
    assert list(evaluate(p, rows, as_of)) == alone


kinds = st.sampled_from(["req", "done", "wait", "back"])


@given(st.lists(st.tuples(st.integers(0, 200), kinds), max_size=30))
def test_invariants(events):
    """Cycles never overlap, elapsed never exceeds wall time, status follows elapsed."""
    evs = [(T0 + m * M * 10, t, None, None, None) for m, t in events]
    as_of = T0 + 2001 * M * 10
    insts = evaluate_subject(promise(within=5 * H), "deal", "D", evs, as_of)
    prev_end = None
    for inst in insts:
        end = inst.stopped_us if inst.stopped_us is not None else as_of
        assert 0 <= inst.elapsed_us <= end - inst.started_us
        assert prev_end is None or inst.started_us >= prev_end
        prev_end = end
        if inst.elapsed_us > 5 * H:
            assert inst.status == "breached"
        else:
            assert inst.status == ("met" if inst.stopped_us is not None else "open")
    assert all(i.stopped_us is not None for i in insts[:-1])
    # input order never matters
    assert evaluate_subject(promise(within=5 * H), "deal", "D", list(reversed(evs)), as_of) == insts
