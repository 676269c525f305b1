"""Counting `instance_facts` for the dashboard's pages, in SQL, as `qmon audit` counts.

An instance belongs to the period in which it started ([from, to), the config's time zone)
and counts with its status as of the figures' instant (`facts.as_of`): so every tally here
equals `qmon audit --from --to --as-of <that instant>` for the same promise, phase or
breakdown, and a test checks it page by page. Compliance is met / (met + breached); open
and not-evaluated instances are shown, never counted as kept.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, text

from qmon.promises.compliance import Tally
from qmon.promises.promise import Promise
from qmon.store import Store
from qmon.timeutil import from_us, to_us

KINDS = ("week", "month", "quarter", "custom")
BREAKDOWNS = ("owner", "channel", "account", "target")


@dataclass(frozen=True)
class Period:
    """Instances that started in [first, last] (days, inclusive) in the config's zone."""

    kind: str  # week | month | quarter | custom
    first: date
    last: date

    def bounds(self, tz: ZoneInfo) -> tuple[int, int]:
        start = to_us(datetime.combine(self.first, time(0), tzinfo=tz))
        end = to_us(datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=tz))
        return start, end

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.isoformat()} – {self.last.isoformat()}"

    def shift(self, n: int) -> Period:
        """The period `n` periods later (earlier when negative), of the same kind."""
        if self.kind == "week":
            return Period("week", self.first + timedelta(weeks=n), self.last + timedelta(weeks=n))
        if self.kind in ("month", "quarter"):
            months = 1 if self.kind == "month" else 3
            index = self.first.year * 12 + self.first.month - 1 + n * months
            first = date(index // 12, index % 12 + 1, 1)
            end_index = index + months - 1
            year, month = end_index // 12, end_index % 12 + 1
            return Period(self.kind, first, date(year, month, calendar.monthrange(year, month)[1]))
        length = (self.last - self.first).days + 1
        delta = timedelta(days=n * length)
        return Period("custom", self.first + delta, self.last + delta)

    def query(self) -> str:
        """The URL query that names this period."""
        if self.kind == "custom":
            return f"period=custom&from={self.first.isoformat()}&to={self.last.isoformat()}"
        return f"period={self.kind}&at={self.first.isoformat()}"


def period_of(kind: str, day: date, first: date | None = None, last: date | None = None) -> Period:
    """The week, month or quarter that holds `day`, or the custom [first, last]."""
    if kind == "custom":
        assert first is not None and last is not None
        return Period("custom", first, last)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    if kind == "month":
        return Period("month", day.replace(day=1),
                      day.replace(day=calendar.monthrange(day.year, day.month)[1]))  # fmt: skip
    month = (day.month - 1) // 3 * 3 + 1
    end = month + 2
    return Period("quarter", date(day.year, month, 1),
                  date(day.year, end, calendar.monthrange(day.year, end)[1]))  # fmt: skip


def day_of(us: int, tz: ZoneInfo) -> date:
    return from_us(us).astimezone(tz).date()


def _add(tally: Tally, status: str, at_risk: Any, count: int) -> None:
    if status == "met":
        tally.met += count
    elif status == "breached":
        tally.breached += count
    elif status == "not_evaluated":
        tally.not_evaluated += count
    else:
        tally.open += count
        if at_risk:
            tally.at_risk += count


def tallies(
    store: Store, promise_ids: Sequence[str], bounds: Sequence[int]
) -> dict[tuple[str, int], Tally]:
    """(promise, i) -> the tally of its instances that started in [bounds[i], bounds[i+1])."""
    found: dict[tuple[str, int], Tally] = {
        (p, i): Tally() for p in promise_ids for i in range(len(bounds) - 1)
    }
    if not promise_ids or len(bounds) < 2:
        return found
    cases = " ".join(f"WHEN started_us < :b{i + 1} THEN {i}" for i in range(len(bounds) - 1))
    params: dict[str, Any] = {f"b{i}": b for i, b in enumerate(bounds)}
    query = text(
        f"SELECT promise_id, CASE {cases} END AS bucket, status, at_risk, count(*)"
        " FROM instance_facts WHERE promise_id IN :ids AND started_us >= :b0"
        f" AND started_us < :b{len(bounds) - 1}"
        " GROUP BY promise_id, bucket, status, at_risk"
    ).bindparams(bindparam("ids", expanding=True))
    with store.engine.connect() as conn:
        for promise_id, bucket, status, at_risk, count in conn.execute(
            query, {**params, "ids": list(promise_ids)}
        ):
            _add(found[(promise_id, int(bucket))], status, at_risk, count)
    return found


def breakdown(
    store: Store, promise_id: str, bounds: tuple[int, int], by: str
) -> list[tuple[str | int | None, Tally]]:
    """Tallies per owner, channel, account or target, the most breaches first."""
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    query = text(
        f"SELECT {by}, status, at_risk, count(*) FROM instance_facts WHERE promise_id = :p"
        f" AND started_us >= :lo AND started_us < :hi GROUP BY {by}, status, at_risk"
    )
    found: dict[Any, Tally] = {}
    with store.engine.connect() as conn:
        for key, status, at_risk, count in conn.execute(
            query, {"p": promise_id, "lo": bounds[0], "hi": bounds[1]}
        ):
            _add(found.setdefault(key, Tally()), status, at_risk, count)
    return sorted(found.items(), key=lambda kv: (-kv[1].breached, -kv[1].evaluated,
                                                  str(kv[0])))  # fmt: skip


@dataclass(frozen=True)
class Fulfilment:
    """Time to fulfil: the clock time of stopped instances (kept or late)."""

    count: int
    median_us: int | None
    p90_us: int | None


def fulfilment(
    store: Store, promise_id: str, bounds: tuple[int, int], target: int | None = None
) -> Fulfilment:
    """Median and 90th percentile (nearest rank) of the stopped instances' clock, as the
    weekly report counts them, read by rank in SQL (no row transfer)."""
    where = ("promise_id = :p AND started_us >= :lo AND started_us < :hi"
             " AND stopped_us IS NOT NULL")  # fmt: skip
    params: dict[str, Any] = {"p": promise_id, "lo": bounds[0], "hi": bounds[1]}
    if target is not None:
        where += " AND target = :t"
        params["t"] = target
    with store.engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM instance_facts WHERE {where}"),
                         params).scalar_one()  # fmt: skip

        def at(rank: int) -> int:
            return int(conn.execute(
                text(f"SELECT elapsed_us FROM instance_facts WHERE {where}"
                     " ORDER BY elapsed_us LIMIT 1 OFFSET :k"), {**params, "k": rank}
            ).scalar_one())  # fmt: skip

        if not n:
            return Fulfilment(0, None, None)
        median = at((n - 1) // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) // 2
        return Fulfilment(n, median, at(-(-9 * n // 10) - 1))


@dataclass(frozen=True)
class BreachRow:
    promise_id: str
    subject_type: str
    subject_id: str
    cycle: int
    started_us: int
    stopped_us: int | None
    elapsed_us: int  # as of the figures' instant
    allowed_us: int
    owner: str | None
    channel: str | None
    account: str | None

    @property
    def overdue_us(self) -> int:
        return self.elapsed_us - self.allowed_us

    @property
    def share(self) -> float:
        return self.overdue_us / max(abs(self.allowed_us), 1)


def breaches(
    store: Store, promises: Sequence[Promise], bounds: tuple[int, int], as_of_us: int
) -> list[BreachRow]:
    """The broken instances of the period, the most overdue (as a share of what was
    promised) first, as the weekly report orders them."""
    from qmon.figures.facts import elapsed_at

    by_id = {p.id: p for p in promises}
    if not by_id:
        return []
    query = text(
        "SELECT promise_id, subject_type, subject_id, cycle, started_us, stopped_us, paused,"
        " elapsed_us, evaluated_us, allowed_us, owner, channel, account FROM instance_facts"
        " WHERE promise_id IN :ids AND started_us >= :lo AND started_us < :hi"
        " AND status = 'breached'"
    ).bindparams(bindparam("ids", expanding=True))
    found = []
    with store.engine.connect() as conn:
        for r in conn.execute(query, {"ids": list(by_id), "lo": bounds[0], "hi": bounds[1]}):
            elapsed = elapsed_at(by_id[r.promise_id], r.stopped_us, bool(r.paused),
                                 r.elapsed_us, r.evaluated_us, as_of_us)  # fmt: skip
            found.append(BreachRow(r.promise_id, r.subject_type, r.subject_id, r.cycle,
                                   r.started_us, r.stopped_us, elapsed, r.allowed_us or 0,
                                   r.owner, r.channel, r.account))  # fmt: skip
    found.sort(key=lambda b: (-b.share, b.started_us, b.subject_id))
    return found
