"""Issue 11's rules for the allowance and the clock, one table each: business days, deadlines
from an attribute, and repeat/until. Every row is checked by the reference evaluator and by
the real `qmon import` + `qmon audit` (see tests/test_promise_language.py for the others).

Calendar office-nl: Mon-Fri 09:00-12:30 and 13:00-17:00 Europe/Amsterdam, NL holidays; a full
day is 7.5 h = 27,000 s. Events in Amsterdam wall time, expected instants in UTC.
"""

from __future__ import annotations

from tests.promise_run import AS_OF, ev, inst, not_evaluated, z
from tests.test_promise_language import check, table

H = 3600
DAY = 86_400
REQ, CALL = "callback.requested", "call.logged"


def bd(n: int | str, **more) -> dict:
    days = n if isinstance(n, str) else f"{n} business days"
    return {"start": REQ, "stop": CALL, "calendar": "office-nl", "within": days, **more}


def callback(requested: str, called: str | None = None) -> list[dict]:
    called_ev = [ev("e-2", called, CALL)] if called else []
    return [ev("e-1", requested, REQ), *called_ev]


ON_HOLD = {"pause": "callback.on_hold", "resume": "callback.resumed"}
HELD = [ev("e-1", "2026-11-23 10:00", REQ), ev("e-2", "2026-11-23 11:00", "callback.on_hold"),
        ev("e-3", "2026-11-24 11:00", "callback.resumed")]


# --- within: N business days (day 0, the nominal deadline, the open time up to it)
@table(
    ("start in hours", bd(2), callback("2026-11-23 10:00", "2026-11-25 16:59"), AS_OF,
     [inst("2026-11-23 09:00", "2026-11-25 15:59", 77_340, "met", 77_400, "2026-11-25 16:00")]),
    ("a stop after closing on the last day is met", bd(2),
     callback("2026-11-23 10:00", "2026-11-25 17:10"), AS_OF,
     [inst("2026-11-23 09:00", "2026-11-25 16:10", 77_400, "met", 77_400, "2026-11-25 16:00")]),
    ("a second into the next morning is breached", bd(2),
     callback("2026-11-23 10:00", "2026-11-26 09:00:01"), AS_OF,
     [inst("2026-11-23 09:00", "2026-11-26 08:00:01", 77_401, "breached", 77_400,
           "2026-11-25 16:00")]),
    ("a start at the last closing: day 0 is the next open day", bd(2),
     callback("2026-11-23 17:00", "2026-11-26 16:00"), AS_OF,
     [inst("2026-11-23 16:00", "2026-11-26 15:00", 77_400, "met", 81_000, "2026-11-26 16:00")]),
    ("a start one second before closing: day 0 is that day", bd(2),
     callback("2026-11-23 16:59:59", "2026-11-25 12:00"), AS_OF,
     [inst("2026-11-23 15:59:59", "2026-11-25 11:00", 37_801, "met", 54_001,
           "2026-11-25 16:00")]),
    ("a start before opening", bd(2), callback("2026-11-23 07:00", "2026-11-24 09:00"), AS_OF,
     [inst("2026-11-23 06:00", "2026-11-24 08:00", 27_000, "met", 81_000, "2026-11-25 16:00")]),
    ("a start in the lunch break", bd(2), callback("2026-11-23 12:45", "2026-11-23 13:30"),
     AS_OF,
     [inst("2026-11-23 11:45", "2026-11-23 12:30", 1800, "met", 68_400, "2026-11-25 16:00")]),
    ("a start after closing on a Friday", bd(2),
     callback("2026-11-20 17:30", "2026-11-25 17:10"), AS_OF,
     [inst("2026-11-20 16:30", "2026-11-25 16:10", 81_000, "met", 81_000, "2026-11-25 16:00")]),
    ("a start on a Saturday, open", bd(2), callback("2026-11-28 11:00"), AS_OF,
     [inst("2026-11-28 10:00", None, 34_200, "open", 81_000, "2026-12-02 16:00")]),
    ("a start before King's Day", bd(2), callback("2026-04-24 16:00", "2026-04-29 16:00"), AS_OF,
     [inst("2026-04-24 14:00", "2026-04-29 14:00", 54_000, "met", 57_600, "2026-04-29 15:00")]),
    ("a start on King's Day", bd(1), callback("2026-04-27 10:00", "2026-04-28 10:00"), AS_OF,
     [inst("2026-04-27 08:00", "2026-04-28 08:00", H, "met", 54_000, "2026-04-29 15:00")]),
    ("a start before Christmas", bd(1), callback("2026-12-24 10:00", "2026-12-28 09:30"),
     "2027-01-05T10:00:00Z",
     [inst("2026-12-24 09:00", "2026-12-28 08:30", 25_200, "met", 50_400, "2026-12-28 16:00")]),
    ("N = 0: day 0's own closing", bd(0), callback("2026-11-23 10:00", "2026-11-23 17:30"), AS_OF,
     [inst("2026-11-23 09:00", "2026-11-23 16:30", 23_400, "met", 23_400, "2026-11-23 16:00")]),
    ("N = 0 on a Saturday", bd(0), callback("2026-11-28 11:00", "2026-11-30 17:00"), AS_OF,
     [inst("2026-11-28 10:00", "2026-11-30 16:00", 27_000, "met", 27_000, "2026-11-30 16:00")]),
    ("1 business day", bd("1 business day"), callback("2026-11-23 10:00", "2026-11-25 09:30"),
     AS_OF,
     [inst("2026-11-23 09:00", "2026-11-25 08:30", 52_200, "breached", 50_400,
           "2026-11-24 16:00")]),
    ("the week daylight saving time ends", bd(1),
     callback("2026-10-23 16:00", "2026-10-26 12:00"), AS_OF,
     [inst("2026-10-23 14:00", "2026-10-26 11:00", 4 * H, "met", 30_600, "2026-10-26 16:00")]),
    ("the week daylight saving time starts", bd(1),
     callback("2026-03-27 16:00", "2026-03-31 09:00"), AS_OF,
     [inst("2026-03-27 15:00", "2026-03-31 07:00", 30_600, "met", 30_600, "2026-03-30 15:00")]),
    ("a pause pushes the deadline", bd(2, **ON_HOLD), HELD, "2026-11-25T12:00:00Z",
     [inst("2026-11-23 09:00", None, 36_000, "open", 77_400, "2026-11-26 16:00")]),
    ("paused short of the allowance: no deadline", bd(2, **ON_HOLD), HELD[:2],
     "2026-11-24T09:00:00Z", [inst("2026-11-23 09:00", None, H, "open", 77_400, None)]),
)
def test_business_days(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)


# --- deadline: {attribute: promised_date}
ORDER = {"start": "order.confirmed", "stop": "order.delivered",
         "deadline": {"attribute": "promised_date"}}


def order(promised, delivered: str | None = None, confirmed: str = "2026-11-16 10:00"):
    attrs = {} if promised is None else {"promised_date": promised}
    done = [ev("e-9", delivered, "order.delivered")] if delivered else []
    return [ev("e-1", confirmed, "order.confirmed", **attrs), *done]


ON_TIME = [inst("2026-11-16 09:00", "2026-11-20 12:00", 356_400, "met", 356_400,
                "2026-11-20 12:00")]
NOT_EVALUATED = [not_evaluated("2026-11-16 09:00", "2026-11-20 12:00", 356_400)]


def unparseable(name: str, value):
    return (name, ORDER, order(value, "2026-11-20 13:00"), AS_OF, NOT_EVALUATED)


@table(
    ("a date: 24:00 of it in the config's time zone", ORDER,
     order("2026-11-20", "2026-11-21 00:00"), AS_OF,
     [inst("2026-11-16 09:00", "2026-11-20 23:00", 396_000, "met", 396_000,
           "2026-11-20 23:00")]),
    ("a date, one second late", ORDER, order("2026-11-20", "2026-11-21 00:00:01"), AS_OF,
     [inst("2026-11-16 09:00", "2026-11-20 23:00:01", 396_001, "breached", 396_000,
           "2026-11-20 23:00")]),
    ("a date, trimmed", ORDER, order("  2026-11-20 ", "2026-11-21 00:00"), AS_OF,
     [inst("2026-11-16 09:00", "2026-11-20 23:00", 396_000, "met", 396_000,
           "2026-11-20 23:00")]),
    ("a date on a calendar: its last open moment", {**ORDER, "calendar": "office-nl"},
     order("2026-11-20", "2026-11-20 20:00"), AS_OF,
     [inst("2026-11-16 09:00", "2026-11-20 19:00", 131_400, "met", 131_400,
           "2026-11-20 16:00")]),
    ("a date-time in UTC", ORDER, order("2026-11-20T12:00:00Z", "2026-11-20 13:00"), AS_OF,
     ON_TIME),
    ("a date-time with +01:00", ORDER, order("2026-11-20T13:00:00+01:00", "2026-11-20 13:00"),
     AS_OF, ON_TIME),
    ("a date-time with -05:00", ORDER, order("2026-11-20T07:00:00-05:00", "2026-11-20 13:00"),
     AS_OF, ON_TIME),
    ("a date-time with a space, no seconds", ORDER, order("2026-11-20 12:00Z", "2026-11-20 13:00"),
     AS_OF, ON_TIME),
    ("a date-time with microseconds", ORDER,
     order("2026-11-20T12:00:00.500000Z", "2026-11-20 13:00"), AS_OF,
     [inst("2026-11-16 09:00", "2026-11-20 12:00", 356_400, "met", 356_400,
           "2026-11-20 12:00:00.500000")]),
    ("missing", ORDER, order(None, "2026-11-20 13:00"), AS_OF, NOT_EVALUATED),
    ("missing, open", ORDER, order(None), "2026-11-20T12:00:00Z",
     [not_evaluated("2026-11-16 09:00", None, 356_400)]),
    unparseable("no offset", "2026-11-20T12:00:00"),
    unparseable("an offset without a colon", "2026-11-20T12:00:00+0100"),
    unparseable("slashes", "2026/11/20"),
    unparseable("an impossible date", "2026-02-30"),
    unparseable("an impossible time", "2026-11-20T24:30:00Z"),
    unparseable("a number", 20261120),
    unparseable("digits that are not ASCII (Arabic-Indic)", "\u0662\u0660\u0662\u0666-11-20"),
    unparseable("a date-time in full-width digits", "２０２６-11-20T12:00:00Z"),
    ("before the start: a negative allowance", ORDER,
     order("2026-11-01", "2026-11-16 10:05"), AS_OF,
     [inst("2026-11-16 09:00", "2026-11-16 09:05", 300, "breached", -1_245_600,
           "2026-11-01 23:00")]),
    ("before the start on a calendar", {**ORDER, "calendar": "office-nl"},
     order("2026-11-20T15:00:00+01:00", "2026-11-23 10:00", confirmed="2026-11-23 10:00"),
     AS_OF,
     [inst("2026-11-23 09:00", "2026-11-23 09:00", 0, "breached", -3 * H, "2026-11-20 14:00")]),
    ("before the start, no open time between, stopped at its start",
     {**ORDER, "calendar": "office-nl"},
     order("2026-11-28T09:00:00+01:00", "2026-11-28 10:00", confirmed="2026-11-28 10:00"),
     AS_OF,
     [inst("2026-11-28 09:00", "2026-11-28 09:00", 0, "met", 0, "2026-11-27 16:00")]),
    ("after the start, no open time between: the last open moment before it",
     {**ORDER, "calendar": "office-nl"},
     order("2026-11-28T20:00:00+01:00", "2026-11-28 12:00", confirmed="2026-11-28 10:00"),
     AS_OF,
     [inst("2026-11-28 09:00", "2026-11-28 11:00", 0, "met", 0, "2026-11-27 16:00")]),
    ("pauses push the deadline",
     {**ORDER, "pause": "order.on_hold", "resume": "order.released"},
     [*order("2026-11-20T12:00:00Z", "2026-11-21 12:00"),
      ev("e-2", "2026-11-17 10:00", "order.on_hold"),
      ev("e-3", "2026-11-18 10:00", "order.released")], AS_OF,
     [inst("2026-11-16 09:00", "2026-11-21 11:00", 352_800, "met", 356_400,
           "2026-11-21 12:00")]),
    ("at risk at warn_at of its own allowance", {**ORDER, "warn_at": "50%"},
     order("2026-11-20T09:00:00Z"), "2026-11-18T09:00:00Z",
     [inst("2026-11-16 09:00", None, 2 * DAY, "open", 4 * DAY, "2026-11-20 09:00",
           at_risk=True)]),
)
def test_deadline_attribute(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)


# --- repeat / until
KEY, LOST, MEETING = "account.became_key", "account.lost", "meeting.held"
REPEAT = {"start": KEY, "stop": [CALL, MEETING], "repeat": True, "until": LOST, "within": "30d"}
D30 = 30 * DAY


def first(stop: str = "2026-08-20 08:00", elapsed: int = 19 * DAY) -> dict:
    return inst("2026-08-01 08:00", stop, elapsed, "met", D30, "2026-08-31 08:00")


def aug(day: int, type_: str, id_: str, **attrs) -> dict:
    return ev(id_, f"2026-08-{day:02d} 10:00", type_, **attrs)


@table(
    ("every stop opens the next; until closes; a later stop is ignored", REPEAT,
     [aug(1, KEY, "e-1"), aug(20, CALL, "e-2"), ev("e-3", "2026-09-10 10:00", MEETING),
      ev("e-4", "2026-09-15 10:00", LOST), ev("e-5", "2026-09-20 10:00", CALL)], AS_OF,
     [first(),
      inst("2026-08-20 08:00", "2026-09-10 08:00", 21 * DAY, "met", D30, "2026-09-19 08:00"),
      inst("2026-09-10 08:00", "2026-09-15 08:00", 5 * DAY, "met", D30, "2026-10-10 08:00")]),
    ("a stop and an until at one instant, in id order (e-10 before e-9)", REPEAT,
     [aug(1, KEY, "e-1"), aug(20, CALL, "e-10"), aug(20, LOST, "e-9")], AS_OF,
     [first(),
      inst("2026-08-20 08:00", "2026-08-20 08:00", 0, "met", D30, "2026-09-19 08:00")]),
    ("an until and a stop at one instant, in id order", REPEAT,
     [aug(1, KEY, "e-1"), aug(20, LOST, "e-2"), aug(20, CALL, "e-3")], AS_OF, [first()]),
    ("two stops at one instant", REPEAT,
     [aug(1, KEY, "e-1"), aug(20, CALL, "e-2"), aug(20, MEETING, "e-3")],
     "2026-08-25T08:00:00Z",
     [first(),
      inst("2026-08-20 08:00", "2026-08-20 08:00", 0, "met", D30, "2026-09-19 08:00"),
      inst("2026-08-20 08:00", None, 5 * DAY, "open", D30, "2026-09-19 08:00")]),
    ("a start at the stop's instant is ignored", REPEAT,
     [aug(1, KEY, "e-1"), aug(20, CALL, "e-3"), aug(20, KEY, "e-2")], "2026-08-25T08:00:00Z",
     [first(), inst("2026-08-20 08:00", None, 5 * DAY, "open", D30, "2026-09-19 08:00")]),
    ("a start at the until's instant is ignored", REPEAT,
     [aug(1, KEY, "e-1"), aug(20, KEY, "e-2"), aug(20, LOST, "e-3")], "2026-08-25T08:00:00Z",
     [first()]),
    ("the next instance runs although the closed one was paused",
     {**REPEAT, "pause": "account.on_hold", "resume": "account.active"},
     [aug(1, KEY, "e-1"), aug(5, "account.on_hold", "e-2"), aug(10, CALL, "e-3"),
      aug(15, "account.active", "e-4")], "2026-08-20T08:00:00Z",
     [inst("2026-08-01 08:00", "2026-08-10 08:00", 4 * DAY, "met", D30, None),
      inst("2026-08-10 08:00", None, 10 * DAY, "open", D30, "2026-09-09 08:00")]),
    ("a stop while nothing is open is ignored; a later start opens", REPEAT,
     [ev("e-0", "2026-07-25 10:00", CALL), aug(1, KEY, "e-1"), aug(5, LOST, "e-2"),
      aug(6, CALL, "e-3"), aug(10, KEY, "e-4"), aug(12, CALL, "e-5")], "2026-08-20T08:00:00Z",
     [first("2026-08-05 08:00", 4 * DAY),
      inst("2026-08-10 08:00", "2026-08-12 08:00", 2 * DAY, "met", D30, "2026-09-09 08:00"),
      inst("2026-08-12 08:00", None, 8 * DAY, "open", D30, "2026-09-11 08:00")]),
    ("without repeat, until is one more stop", {**REPEAT, "repeat": False},
     [aug(1, KEY, "e-1"), aug(5, LOST, "e-2"), aug(6, CALL, "e-3")], AS_OF,
     [first("2026-08-05 08:00", 4 * DAY)]),
    ("with when: the cycles first, each decided at its own start",
     {**REPEAT, "when": {"tier": "key"}},
     [aug(1, KEY, "e-1", tier="standard"), aug(5, CALL, "e-2"),
      aug(6, "account.updated", "e-3", tier="key"), aug(10, CALL, "e-4")],
     "2026-08-12T08:00:00Z",
     [inst("2026-08-10 08:00", None, 2 * DAY, "open", D30, "2026-09-09 08:00")]),
    ("open and over: breached", REPEAT, [aug(1, KEY, "e-1")], "2026-09-05T08:00:00Z",
     [inst("2026-08-01 08:00", None, 35 * DAY, "breached", D30, "2026-08-31 08:00")]),
)
def test_repeat_until(via, tmp_path, promise, events, as_of, want):
    check(via, tmp_path, promise, events, as_of, want)


def test_instants_are_written_as_the_audit_writes_them():
    assert z("2026-11-23 08:00") == "2026-11-23T08:00:00Z"
    assert z("2026-11-23 08:00:01") == "2026-11-23T08:00:01Z"
