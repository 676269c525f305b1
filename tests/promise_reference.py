"""A plain, slow reference evaluator of promises, written from the rules of issue 11 alone.

It shares nothing with qmon's engine or calendar: business time is found by walking local
dates, building each day's windows with zoneinfo and summing overlaps; deadlines by walking
those windows. Only instant parsing and formatting come from `qmon.timeutil`. Instants are
integer microseconds since the epoch (UTC).

`evaluate_promise` gives one promise's audit instances and counts; `audit_document` the whole
`qmon audit --format json --instances` document for a config dict.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from qmon.timeutil import iso_z, parse_instant

US = 1_000_000
NON_ATTRIBUTES = {"id", "occurred_at", "type", "subject_type", "subject_id", "source", "link"}
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
SEARCH_DAYS = 4000  # a calendar with no open time for this long never reaches a deadline
START, PAUSE, RESUME, STOP, UNTIL = "start", "pause", "resume", "stop", "until"
RANK = {START: 0, PAUSE: 1, RESUME: 2, STOP: 3, UNTIL: 3}



def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def norm(value: Any) -> str:
    """A value as compared by `when`: a string, trimmed, case-folded."""
    return norm_raw(value).strip().casefold()


def share(value: Any) -> float:
    text = str(value).strip()
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def duration_us(text: str) -> int:
    """'24h', '1h 30m', '2d' as microseconds (d = 24 hours of the promise's clock)."""
    parts = re.findall(r"(\d+)\s*([dhms])", text)
    if not parts or re.fullmatch(r"(\s*\d+\s*[dhms])+\s*", text) is None:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * UNITS[u] for n, u in parts) * US


def business_days(text: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s+business\s+days?\s*", str(text))
    return int(match.group(1)) if match else None


def minutes(text: str) -> int:
    hh, mm = text.strip().split(":")
    return int(hh) * 60 + int(mm)


def day_numbers(key: str) -> list[int]:
    out: list[int] = []
    for part in key.split(","):
        part = part.strip().lower()
        if "-" in part:
            a, b = (DAYS.index(x.strip()) for x in part.split("-"))
            out += list(range(a, b + 1))
        else:
            out.append(DAYS.index(part))
    return out


# YYYY-MM-DD: the digits 0-9 (re.ASCII), not any Unicode digit
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{6}))?)?"
    r"(Z|[+-]\d{2}:\d{2})", re.ASCII
)


def promised_instant(text: str, tz: ZoneInfo) -> int | None:
    """A deadline attribute's value as an instant, or None when it is unparseable."""
    text = text.strip()
    try:
        if m := _DATE.fullmatch(text):
            day = date(int(m[1]), int(m[2]), int(m[3])) + timedelta(days=1)
            return to_us(datetime.combine(day, time(0), tzinfo=tz))
        if m := _DATETIME.fullmatch(text):
            off = 0 if m[8] == "Z" else int(m[8][0] + "1") * (
                int(m[8][1:3]) * 60 + int(m[8][4:6]))
            offset = timezone(timedelta(minutes=off))
            return to_us(datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]),
                                  int(m[6] or 0), int(m[7] or 0), tzinfo=offset))
    except ValueError:
        return None
    return None


def to_us(dt: datetime) -> int:
    return parse_instant(dt.isoformat())



class WallClock:
    """Time runs round the clock."""

    def open_time(self, a: int, b: int) -> int:
        return b - a

    def advance(self, a: int, amount: int) -> int:
        return a + amount

    def last_open_at_or_before(self, t: int) -> int:
        return t


class Calendar:
    """Business hours: each local date's windows, built with zoneinfo, minus closed dates."""

    def __init__(self, spec: dict):
        self.tz = ZoneInfo(spec["timezone"])
        self.hours: dict[int, list[tuple[int, int]]] = {}
        for key, windows in (spec.get("hours") or {}).items():
            for wd in day_numbers(str(key)):
                for w in as_list(windows):
                    a, b = str(w).split("-")
                    self.hours.setdefault(wd, []).append((minutes(a), minutes(b)))
        self.holidays = []
        for code in as_list(spec.get("holidays")):
            country, _, sub = str(code).partition("-")
            self.holidays.append(holidays.country_holidays(country, subdiv=sub or None))
        self.closed = {date.fromisoformat(str(d)) for d in as_list(spec.get("closed"))}

    def is_closed_date(self, d: date) -> bool:
        return d in self.closed or any(d in h for h in self.holidays)

    def windows(self, d: date) -> list[tuple[int, int]]:
        if self.is_closed_date(d):
            return []
        out = []
        for a, b in sorted(self.hours.get(d.weekday(), [])):
            start = to_us(datetime.combine(d, time(a // 60, a % 60), tzinfo=self.tz))
            end_day, b = (d + timedelta(days=1), 0) if b == 1440 else (d, b)
            end = to_us(datetime.combine(end_day, time(b // 60, b % 60), tzinfo=self.tz))
            out.append((start, end))
        return out

    def is_open_day(self, d: date) -> bool:
        return bool(self.windows(d))

    def local_date(self, t: int) -> date:
        return datetime.fromtimestamp(t / US, self.tz).date()

    def last_closing(self, d: date) -> int:
        return max(end for _, end in self.windows(d))

    def open_time(self, a: int, b: int) -> int:
        total = 0
        d = self.local_date(a) - timedelta(days=1)
        while d <= self.local_date(b) + timedelta(days=1):
            for ws, we in self.windows(d):
                total += max(0, min(we, b) - max(ws, a))
            d += timedelta(days=1)
        return total

    def advance(self, a: int, amount: int) -> int | None:
        """The earliest instant t >= a with open_time(a, t) >= amount."""
        if amount <= 0:
            return a
        left = amount
        d = self.local_date(a) - timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            for ws, we in self.windows(d):
                if we <= a:
                    continue
                s = max(ws, a)
                if we - s >= left:
                    return s + left
                left -= we - s
            d += timedelta(days=1)
        return None

    def last_open_at_or_before(self, t: int) -> int | None:
        """The earliest instant u <= t with no open time between u and t."""
        d = self.local_date(t) + timedelta(days=1)
        for _ in range(SEARCH_DAYS):
            for ws, we in reversed(self.windows(d)):
                if ws < t:
                    return min(we, t)
            d -= timedelta(days=1)
        return None

    def business_days_deadline(self, start: int, n: int) -> int:
        """The nominal deadline of `within: N business days` from `start`."""
        d = self.local_date(start)
        if not (self.is_open_day(d) and start < self.last_closing(d)):
            d = self.next_open_day(d)
        for _ in range(n):
            d = self.next_open_day(d)
        return self.last_closing(d)

    def next_open_day(self, d: date) -> date:
        for _ in range(SEARCH_DAYS):
            d += timedelta(days=1)
            if self.is_open_day(d):
                return d
        raise ValueError("the calendar has no open day")



def attribute_at(history: list[dict], name: str, t: int) -> Any:
    """The value on the latest event at or before t carrying `name` (ties: last id wins)."""
    best = None
    for ev in history:
        value = ev["row"].get(name)
        if ev["t"] > t or value is None or value == "":
            continue
        if best is None or (ev["t"], ev["id"]) > (best[0], best[1]):
            best = (ev["t"], ev["id"], value)
    return None if best is None else best[2]


def matches(when: dict | None, history: list[dict], t: int) -> bool:
    for key, wanted in (when or {}).items():
        value = attribute_at(history, key, t)
        if value is None:
            return False
        if isinstance(wanted, dict):
            if norm(value) in {norm(v) for v in as_list(wanted["not"])}:
                return False
        elif norm(value) not in {norm(v) for v in as_list(wanted)}:
            return False
    return True



def roles(promise: dict) -> dict[str, str]:
    out = {}
    for role in (START, PAUSE, RESUME, STOP, UNTIL):
        for typ in as_list(promise.get(role)):
            out[typ] = role
    if not promise.get("repeat"):
        out = {typ: STOP if role == UNTIL else role for typ, role in out.items()}
    return out


def cycles(promise: dict, history: list[dict]) -> list[dict]:
    """Start/pause/resume/stop cycles, whatever `when` says. Each: start, stop, runs."""
    role_of = roles(promise)
    steps = sorted(
        ((ev["t"], RANK[role_of[ev["type"]]], ev["id"], role_of[ev["type"]])
         for ev in history if ev["type"] in role_of),
    )
    done: list[dict] = []
    cur: dict | None = None
    for t, _, _, role in steps:
        if role == START and cur is None:
            cur = {"start": t, "stop": None, "runs": [[t, None]]}
        elif cur is None:
            continue
        elif role == PAUSE and cur["runs"][-1][1] is None:
            cur["runs"][-1][1] = t
        elif role == RESUME and cur["runs"][-1][1] is not None:
            cur["runs"].append([t, None])
        elif role in (STOP, UNTIL):
            cur["stop"] = t
            done.append(cur)
            cur = None
            if role == STOP and promise.get("repeat"):
                cur = {"start": t, "stop": None, "runs": [[t, None]]}
    return done + ([cur] if cur else [])



def evaluate_promise(
    promise: dict, calendars: dict, timezone: str, events: list[dict], as_of: str
) -> tuple[list[dict], dict]:
    """The audit instances and counts of one promise over JSON-Lines-like event dicts."""
    as_of_us = parse_instant(as_of)
    cal_name = promise.get("calendar")
    clock: Any = Calendar(calendars[cal_name]) if cal_name else WallClock()
    date_tz = clock.tz if cal_name else ZoneInfo(timezone)
    warn = share(promise["warn_at"]) if promise.get("warn_at") is not None else None
    subjects: dict[tuple[str, str], list[dict]] = {}
    for row in events:
        t = parse_instant(str(row["occurred_at"]))
        if t <= as_of_us:
            ev = {"t": t, "id": str(row["id"]), "type": row["type"], "row": {
                k: v for k, v in row.items() if k not in NON_ATTRIBUTES}}
            subjects.setdefault((row["subject_type"], str(row["subject_id"])), []).append(ev)
    instances = []
    for (stype, sid), history in sorted(subjects.items()):
        for cyc in cycles(promise, history):
            inst = decide(promise, clock, date_tz, warn, history, cyc, as_of_us)
            if inst is not None:
                instances.append({"promise": promise["id"], "phase": promise["phase"],
                                  "subject_type": stype, "subject_id": sid, **inst})
    return instances, counts(promise, instances)


def allowance(form: dict, clock: Any, start: int) -> int:
    within = str(form["within"])
    n = business_days(within)
    if n is None:
        return duration_us(within)
    return clock.open_time(start, clock.business_days_deadline(start, n))


def decide(promise, clock, date_tz, warn, history, cyc, as_of_us) -> dict | None:
    start, stop = cyc["start"], cyc["stop"]
    decided_at = (stop if stop is not None else as_of_us) if promise.get("retarget") else start
    if not matches(promise.get("when"), history, decided_at):
        return None
    target = None
    if "targets" in promise:
        found = [i for i, tg in enumerate(promise["targets"])
                 if matches(tg.get("when"), history, decided_at)]
        if not found:
            return None
        target = found[0]
    end = stop if stop is not None else as_of_us
    runs = [(a, b if b is not None else end) for a, b in cyc["runs"]]
    elapsed = sum(clock.open_time(a, b) for a, b in runs)
    out = {"started_at": iso_z(start), "stopped_at": None if stop is None else iso_z(stop),
           "elapsed_seconds": elapsed / US}
    promised = None
    if "deadline" in promise:
        name = promise["deadline"]["attribute"]
        value = attribute_at(history, name, decided_at)
        if value is None:
            return {**out, **not_evaluated(f"missing {name}")}
        promised = promised_instant(norm_raw(value), date_tz)
        if promised is None:
            return {**out, **not_evaluated(f"unparseable {name}: {norm_raw(value)!r}")}
        if promised >= start:
            allowed = clock.open_time(start, promised)
        else:
            allowed = -clock.open_time(promised, start)
    elif "targets" in promise:
        allowed = allowance(promise["targets"][target], clock, start)
    else:
        allowed = allowance(promise, clock, start)
    if promised is not None and allowed <= 0:  # the last open moment before the promise
        deadline = clock.last_open_at_or_before(promised)
    else:
        deadline = deadline_of(clock, cyc["runs"], allowed, end)
    if stop is not None:
        status = "met" if elapsed <= allowed else "breached"
    else:
        status = "breached" if elapsed > allowed else "open"
    at_risk = status == "open" and warn is not None and elapsed >= warn * allowed
    return {**out, "status": status, "at_risk": at_risk, "allowed_seconds": allowed / US,
            "deadline": None if deadline is None else iso_z(deadline), "target": target,
            "reason": None}


def norm_raw(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def not_evaluated(reason: str) -> dict:
    return {"status": "not_evaluated", "at_risk": False, "allowed_seconds": None,
            "deadline": None, "target": None, "reason": reason}


def deadline_of(clock, runs: list[list], allowed: int, end: int) -> int | None:
    """When the clock reaches `allowed`, with the pauses known at `end`, projected forward."""
    spent = 0
    for a, b in runs:
        if b is None or b > end:  # running at its end: projected forward
            return clock.advance(a, allowed - spent)
        part = clock.open_time(a, b)
        if spent + part >= allowed:
            return clock.advance(a, allowed - spent)
        spent += part
    return None  # paused short of the allowance


def counts(promise: dict, instances: list[dict]) -> dict:
    row = {"id": promise["id"], "phase": promise["phase"]}
    row.update({s: sum(i["status"] == s for i in instances)
                for s in ("met", "breached", "open", "not_evaluated")})
    row["compliance"] = compliance(row)
    return row


def compliance(row: dict) -> float | None:
    decided = row["met"] + row["breached"]
    return round(row["met"] / decided, 6) if decided else None



def audit_document(config: dict, events: list[dict], as_of: str) -> dict:
    """The audit JSON (`--format json --instances`) of every promise of a config dict."""
    promises, instances = [], []
    for p in config.get("promises") or []:
        got, row = evaluate_promise(
            p, config.get("calendars") or {}, config["timezone"], events, as_of)
        promises.append(row)
        instances += got
    phases: dict[str, dict] = {}
    for row in promises:
        ph = phases.setdefault(row["phase"], {"phase": row["phase"], "met": 0, "breached": 0,
                                              "open": 0, "not_evaluated": 0})
        for key in ("met", "breached", "open", "not_evaluated"):
            ph[key] += row[key]
    for ph in phases.values():
        ph["compliance"] = compliance(ph)
    return {"as_of": iso_z(parse_instant(as_of)), "promises": promises,
            "phases": list(phases.values()), "instances": instances}


def instance_key(inst: dict) -> tuple:
    return (inst["promise"], inst["subject_type"], inst["subject_id"], inst["started_at"],
            inst["stopped_at"] or "~")
