"""The weekly report's numbers: one audit over twelve ISO weeks, counted every way the report
shows them.

Every figure comes from the instances `run_audit` yields, counted with the same `Tally`, so a
week's compliance here equals `qmon audit --from MONDAY --to NEXT-MONDAY --as-of AS-OF` for
the same promise or phase. Instances belong to the ISO week (config time zone) in which they
started, and are evaluated as of the report's instant: a quote asked on Sunday evening counts
in its week, as kept or broken once it is decided, and as open until then.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from qmon.alerts.sources import last_complete_syncs, stale_promises
from qmon.config import QmonConfig
from qmon.promises.compliance import Tally, objective_met
from qmon.promises.engine import Instance
from qmon.promises.promise import Promise
from qmon.reports.actions import Action, list_actions
from qmon.reports.audit import AuditQuery, run_audit
from qmon.reports.weekly.voice import VoiceWeek, voice_by_week
from qmon.store import Store
from qmon.timeutil import to_us

TREND_WEEKS = 12
BUDGET_WEEKS = 4  # the error budget's rolling 28 days, as in burn-rate alerting
TREND_STEP = 0.01  # a change of less than a percentage point is "steady"
PAIN_POINTS = 2  # most-breached promises named per phase
BREACHES_LISTED = 25


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO week; it starts on Monday 00:00 in the config's time zone."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """`2026-W47` (or `2026W47`, `2026-w47`); raises ValueError with a clear message."""
        cleaned = text.strip().upper().replace("-", "")
        year, sep, week = cleaned.partition("W")
        try:
            if not sep or len(year) != 4:
                raise ValueError
            parsed = cls(int(year), int(week))
            parsed.monday()
        except ValueError:
            raise ValueError(f"not an ISO week like 2026-W47: {text!r}") from None
        try:  # the report reads the trend's weeks before it and the week after it
            parsed.shift(1 - TREND_WEEKS), parsed.shift(1)
        except OverflowError:
            raise ValueError(
                f"{text!r} is too close to the calendar's end: the report needs the "
                f"{TREND_WEEKS - 1} weeks before it and the one after"
            ) from None
        return parsed

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday() + timedelta(weeks=weeks))

    def start_us(self, tz: ZoneInfo) -> int:
        return to_us(datetime.combine(self.monday(), time(0), tzinfo=tz))

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def last_complete_week(as_of_us: int, tz: ZoneInfo) -> IsoWeek:
    """The week before the one `as_of_us` falls in: the week a Monday report is about."""
    today = datetime.fromtimestamp(as_of_us / 1e6, tz=tz).date()
    return IsoWeek.of(today).shift(-1)


@dataclass
class Fulfilment:
    """Time to fulfil: instances stopped (kept or late), on the promise's own clock."""

    count: int
    median_us: int | None
    p90_us: int | None


@dataclass
class _Weekly:
    """Twelve weeks of tallies, oldest first; the last is the report's week."""

    weeks: list[Tally]

    @property
    def this(self) -> Tally:
        return self.weeks[-1]

    @property
    def last(self) -> Tally:
        return self.weeks[-2]


@dataclass
class TargetWeekly(_Weekly):
    """One entry of a promise's `targets`: its instances' weeks and time to fulfil."""

    number: int  # from 1, as people count
    label: str  # what it promises and for whom: "1h 00m (priority in [high])"
    allowed_us: int | None  # a duration target's allowance; None for business days
    fulfil: list[Fulfilment]


@dataclass
class PromiseWeekly(_Weekly):
    promise: Promise
    fulfil: list[Fulfilment]
    budget: Tally  # the last BUDGET_WEEKS weeks together
    targets: list[TargetWeekly] = field(default_factory=list)  # per target, when it has them

    @property
    def allowed(self) -> str:
        """What was promised, for people: `24h 00m`, `2 business days`, `by its ...`."""
        return self.promise.describe_allowance().removeprefix("within ")

    @property
    def objective_met(self) -> bool | None:
        return objective_met(self.this, self.promise.objective)

    @property
    def budget_left(self) -> float | None:
        """Share of the 28-day error budget not yet spent (negative: overspent); None without
        objective or without decided instances."""
        objective = self.promise.objective
        if objective is None or objective >= 1 or not self.budget.evaluated:
            return None
        allowed = (1 - objective) * self.budget.evaluated
        return 1 - self.budget.breached / allowed


@dataclass
class PhaseWeekly(_Weekly):
    phase: str
    pain_points: list[tuple[Promise, int]]  # most breaches this week first
    objectives: list[bool | None]  # each promise's objective met this week


@dataclass
class Breach:
    instance: Instance
    promise: Promise
    overdue_us: int  # elapsed beyond `within`, on the promise's clock
    link: str | None = None


@dataclass
class WeeklyFigures:
    week: IsoWeek
    as_of_us: int
    weeks: list[IsoWeek]
    promises: list[PromiseWeekly]
    phases: list[PhaseWeekly]
    breaches: list[Breach]  # this week's, worst first (the first BREACHES_LISTED have links)
    by_owner: list[tuple[str, Tally]]
    by_channel: list[tuple[str, Tally]]
    voice: list[VoiceWeek]
    overall: list[Tally]  # every promise together, per week
    sources: dict[str, int | None]  # last complete sync per source
    not_evaluated: list[str]  # promises with nothing decided this week
    stale: dict[str, list[str]]  # promises fed only by stale sources -> those sources
    actions: list[Action] = field(default_factory=list)


def trend(this: Tally, last: Tally) -> str | None:
    """`up`, `down` or `steady` from last week to this; None when either is not evaluated."""
    now, before = this.compliance, last.compliance
    if now is None or before is None:
        return None
    if now - before >= TREND_STEP:
        return "up"
    if before - now >= TREND_STEP:
        return "down"
    return "steady"


def build(config: QmonConfig, store: Store, week: IsoWeek, as_of_us: int) -> WeeklyFigures:
    """Count the report for `week`, evaluated as of `as_of_us`."""
    tz = config.timezone
    weeks = [week.shift(k - TREND_WEEKS + 1) for k in range(TREND_WEEKS)]
    bounds = [w.start_us(tz) for w in weeks] + [week.shift(1).start_us(tz)]
    query = AuditQuery(as_of_us=as_of_us, from_us=bounds[0], to_us=bounds[-1],
                       keep_instances=True)  # fmt: skip
    instances = run_audit(config, store, query).instances

    per_promise: dict[str, list[list[Instance]]] = {
        p.id: [[] for _ in weeks] for p in config.promises
    }
    for inst in instances:
        per_promise[inst.promise_id][_week_index(bounds, inst.started_us)].append(inst)

    promises = [_promise_weekly(p, per_promise[p.id]) for p in config.promises]
    overall = [Tally() for _ in weeks]
    for item in promises:
        for total, tally in zip(overall, item.weeks, strict=True):
            total.merge(tally)
    this_week = [i for p in config.promises for i in per_promise[p.id][-1]]
    breaches = _breaches(config, this_week)
    with store.engine.connect() as conn:
        for breach in breaches[:BREACHES_LISTED]:
            inst = breach.instance
            breach.link = store.subject_link(
                conn, breach.promise.types(), inst.subject_type, inst.subject_id
            )
    return WeeklyFigures(
        week=week,
        as_of_us=as_of_us,
        weeks=weeks,
        promises=promises,
        phases=_phases(config, promises),
        breaches=breaches,
        by_owner=_tally_by(this_week, "owner"),
        by_channel=_tally_by(this_week, "channel"),
        voice=voice_by_week(store, bounds),
        overall=overall,
        sources=last_complete_syncs(config, store),
        not_evaluated=[p.promise.id for p in promises if p.this.compliance is None],
        stale=stale_promises(config, store, as_of_us),
        actions=list_actions(config, store, as_of_us, since=weeks[0].monday()),
    )


def _week_index(bounds: list[int], started_us: int) -> int:
    """Which week (between consecutive `bounds`) an instant falls in."""
    return bisect_right(bounds, started_us) - 1


def _promise_weekly(promise: Promise, weeks: list[list[Instance]]) -> PromiseWeekly:
    tallies = [_tally(w) for w in weeks]
    budget = Tally()
    for tally in tallies[-BUDGET_WEEKS:]:
        budget.merge(tally)
    fulfil = [_fulfilment(w) for w in weeks]
    targets = []
    for n, target in enumerate(promise.targets):
        mine = [[i for i in week if i.target == n] for week in weeks]
        when = (" and ".join(m.describe() for m in target.when.matches) if target.when
                else None)  # fmt: skip
        targets.append(TargetWeekly(
            weeks=[_tally(w) for w in mine], number=n + 1,
            label=target.within.describe() + (f" ({when})" if when else ""),
            allowed_us=getattr(target.within, "us", None), fulfil=[_fulfilment(w) for w in mine],
        ))  # fmt: skip
    return PromiseWeekly(weeks=tallies, promise=promise, fulfil=fulfil, budget=budget,
                         targets=targets)  # fmt: skip


def _tally(instances: Iterable[Instance]) -> Tally:
    tally = Tally()
    for inst in instances:
        tally.add(inst)
    return tally


def _fulfilment(instances: list[Instance]) -> Fulfilment:
    """Median and 90th percentile (nearest rank) of the clock time of stopped instances."""
    times = sorted(i.elapsed_us for i in instances if i.stopped_us is not None)
    if not times:
        return Fulfilment(0, None, None)
    n = len(times)
    median = times[(n - 1) // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) // 2
    return Fulfilment(n, median, times[math.ceil(0.9 * n) - 1])


def _phases(config: QmonConfig, promises: list[PromiseWeekly]) -> list[PhaseWeekly]:
    found = []
    for phase in config.phases:
        members = [p for p in promises if p.promise.phase == phase]
        weeks = [Tally() for _ in range(TREND_WEEKS)]
        for member in members:
            for total, tally in zip(weeks, member.weeks, strict=True):
                total.merge(tally)
        hurting = sorted(
            ((m.promise, m.this.breached) for m in members if m.this.breached),
            key=lambda pair: -pair[1],
        )
        found.append(
            PhaseWeekly(weeks=weeks, phase=phase, pain_points=hurting[:PAIN_POINTS],
                        objectives=[m.objective_met for m in members])  # fmt: skip
        )
    return found


def _breaches(config: QmonConfig, instances: list[Instance]) -> list[Breach]:
    """Breached instances, the most overdue (as a share of what was promised) first."""
    promises = {p.id: p for p in config.promises}
    found = [
        Breach(i, promises[i.promise_id], i.elapsed_us - (i.allowed_us or 0))
        for i in instances
        if i.status == "breached"
    ]
    found.sort(key=lambda b: (-b.overdue_us / max(abs(b.instance.allowed_us or 0), 1),
                              b.instance.started_us))  # fmt: skip
    return found


def _tally_by(instances: list[Instance], attribute: str) -> list[tuple[str, Tally]]:
    """Tallies per owner or channel, the most breaches first (then the name)."""
    tallies: dict[str, Tally] = {}
    for inst in instances:
        tallies.setdefault(getattr(inst, attribute) or "—", Tally()).add(inst)
    return sorted(tallies.items(), key=lambda kv: (-kv[1].breached, kv[0]))
