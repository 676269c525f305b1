"""What qmon writes onto a CRM record (`qmon.writeback.values`): tables and properties."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmon.promises.instance import Instance
from qmon.timeutil import to_us
from qmon.writeback.values import EMPTY, STATES, RecordValues, record_link, record_values

H = 3_600_000_000
D = 24 * H
NOW = to_us(datetime.fromisoformat("2026-12-02T12:00:00+01:00"))
RECENT, OVER = 7 * D, 90 * D
ORDER = {"quote-24h": 0, "reply-4h": 1, "callback": 2}


def inst(promise="quote-24h", *, status="open", started=-30 * H, stopped=None, deadline=None,
         at_risk=False, paused=False, allowed=24 * H) -> Instance:  # fmt: skip
    return Instance(
        promise_id=promise, phase="sales", subject_type="deal", subject_id="D1", cycle=1,
        started_us=NOW + started, stopped_us=None if stopped is None else NOW + stopped,
        elapsed_us=0, status=status, at_risk=at_risk, paused=paused,
        deadline_us=None if deadline is None else NOW + deadline, allowed_us=allowed,
    )  # fmt: skip


def values(*instances: Instance, link: str | None = None) -> tuple[RecordValues, int | None]:
    return record_values(instances, NOW, recent_us=RECENT, breaches_over_us=OVER, order=ORDER,
                         link=link)  # fmt: skip


CASES = [
    # (id, instances, status, next_due (from NOW), breaches, promise)
    ("nothing", [], None, None, None, None),
    ("open on track", [inst(deadline=2 * H)], "on_track", 2 * H, 0, "quote-24h"),
    ("open at risk", [inst(deadline=H, at_risk=True)], "at_risk", H, 0, "quote-24h"),
    ("open paused: no deadline", [inst(paused=True)], "paused", None, 0, "quote-24h"),
    ("open past its deadline", [inst(status="breached", deadline=-H)], "breached", -H, 1,
     "quote-24h"),
    ("kept yesterday", [inst(status="met", stopped=-D, deadline=-H)], "met", None, 0,
     "quote-24h"),
    ("kept late yesterday", [inst(status="breached", stopped=-D, deadline=-2 * D)], "breached",
     None, 1, "quote-24h"),
    ("kept 8 days ago says nothing", [inst(status="met", stopped=-8 * D, deadline=-8 * D)], None,
     None, None, None),
    ("late 30 days ago: counted, no status",
     [inst(status="breached", stopped=-30 * D, deadline=-31 * D)], None, None, 1, None),
    ("late 91 days ago: forgotten",
     [inst(status="breached", stopped=-91 * D, deadline=-92 * D)], None, None, None, None),
    ("not evaluated decides nothing", [inst(status="not_evaluated", allowed=None)], None, None,
     None, None),
    ("worst wins: at risk over on track",
     [inst(deadline=5 * H), inst("reply-4h", deadline=H, at_risk=True)], "at_risk", H, 0,
     "reply-4h"),
    ("on track over paused over met",
     [inst(status="met", stopped=-H, deadline=H), inst("reply-4h", paused=True),
      inst("callback", deadline=9 * H)], "on_track", 9 * H, 0, "callback"),
    ("equal states: the one due first",
     [inst(deadline=5 * H), inst("reply-4h", deadline=2 * H)], "on_track", 2 * H, 0, "reply-4h"),
    ("equal states and deadlines: file order",
     [inst("reply-4h", deadline=2 * H), inst(deadline=2 * H)], "on_track", 2 * H, 0,
     "quote-24h"),
    ("a breach last month beside an open one",
     [inst(status="breached", stopped=-20 * D, deadline=-21 * D), inst("reply-4h", deadline=H)],
     "on_track", H, 1, "reply-4h"),
]  # fmt: skip


@pytest.mark.parametrize(("instances", "status", "due", "breaches", "promise"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_record_values(instances, status, due, breaches, promise) -> None:
    got, _ = values(*instances)
    assert (got.status, got.next_due_us, got.breaches, got.promise) == (
        status, None if due is None else NOW + due, breaches, promise)  # fmt: skip


def test_nothing_to_say_is_the_empty_value_and_round_trips() -> None:
    assert values()[0] == EMPTY
    got, _ = values(inst(deadline=H), link="https://q.example/record/deal/D1")
    assert RecordValues.from_json(got.to_json()) == got
    assert RecordValues.from_json(None) == EMPTY


def test_wake_when_a_kept_instance_leaves_recent_or_a_breach_leaves_the_window() -> None:
    _, wake = values(inst(status="met", stopped=-D, deadline=H))
    assert wake == NOW - D + RECENT + 1
    _, wake = values(inst(status="breached", stopped=-20 * D, deadline=-21 * D))
    assert wake == NOW - 21 * D + OVER + 1
    assert values(inst(deadline=H))[1] is None  # open clocks wake the check themselves


def test_link_is_the_record_page_and_quotes_ids() -> None:
    assert record_link(None, "deal", "1") is None
    assert (record_link("https://q.example", "deal", "a/b c")
            == "https://q.example/record/deal/a%2Fb%20c")  # fmt: skip


_INSTANCE = st.builds(
    lambda promise, kind, start, length, deadline: inst(
        promise, status=kind[0], at_risk=kind[1], paused=kind[2], started=-start,
        stopped=None if length is None else -start + length, deadline=deadline),
    st.sampled_from(list(ORDER)),
    st.sampled_from([("open", False, False), ("open", True, False), ("open", False, True),
                     ("met", False, False), ("breached", False, False),
                     ("not_evaluated", False, False)]),
    st.integers(0, 200 * D), st.none() | st.integers(0, 100 * D),
    st.none() | st.integers(-150 * D, 10 * D),
)  # fmt: skip


@given(st.lists(_INSTANCE, max_size=6))
def test_status_is_the_worst_counted_state_and_order_does_not_matter(instances) -> None:
    got, wake = values(*instances)
    assert values(*reversed(instances))[0] == got
    assert got.status in (None, *STATES)
    counted = [i for i in instances if i.status != "not_evaluated" and (
        i.stopped_us is None or i.stopped_us >= NOW - RECENT)]  # fmt: skip
    assert (got.status is None) == (not counted)
    assert wake is None or wake > NOW
    if got.breaches is not None:
        assert got.breaches == sum(1 for i in instances if i.status == "breached"
                                   and i.deadline_us is not None
                                   and i.deadline_us >= NOW - OVER)  # fmt: skip
