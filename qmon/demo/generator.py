"""Months of a Dutch B2B supplier's CRM activity, invented but plausible, for `qmon demo`.

The demo has to look like a real company in every report qmon makes, so the data keeps the
habits that make promises hard to keep: customers write mostly in office hours but also in
the evening and at weekends; staff work Monday to Friday, not on Dutch public holidays, and
take lunch; response times have long tails; one owner is slower than the rest; two promises
get better over the months; some work is never done. Everything comes from one
`random.Random(seed)` and the given `end`, never from the clock, so the same arguments always
give the same company (and the same tests).
"""

from __future__ import annotations

import csv
import math
import random
from bisect import bisect_left, bisect_right
from calendar import monthrange
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from qmon.events import CORE_FIELDS, Event
from qmon.timeutil import iso_z, local_date, to_us

TZ = ZoneInfo("Europe/Amsterdam")
SOURCE = "demo"
CRM_URL = "https://crm.example.nl"
ATTRIBUTE_COLUMNS: tuple[str, ...] = ("amount", "priority", "promised_date", "score", "tier")
CSV_COLUMNS: tuple[str, ...] = CORE_FIELDS + ATTRIBUTE_COLUMNS
CONFIG_NAME = "qmon.yaml"
EVENTS_NAME = "events.csv"

SALES_OWNERS: tuple[str, ...] = ("anna", "bram", "femke", "jeroen", "pieter")
SUPPORT_OWNERS: tuple[str, ...] = ("dewi", "lotte", "sanne", "thijs")
SLOW_OWNER = "pieter"
"""Takes about twice as long as his colleagues for everything: `audit --by owner` shows it."""
CHANNELS: tuple[str, ...] = ("email", "phone", "web", "chat")

#: Customers, most active first: a few big accounts and a long tail.
ACCOUNTS: tuple[str, ...] = (
    "Van der Meer Installatietechniek B.V.",
    "Bouwbedrijf De Vries",
    "Jansen Logistiek",
    "Hollandia Metaalbewerking",
    "Groene Hart Kwekerijen",
    "Rijnmond Scheepstechniek",
    "Drukkerij Verhoeven",
    "Zeeuwse Havendiensten",
    "Veluwe Houtbouw",
    "Amstel Adviesgroep",
    "Twentse Kunststoffen B.V.",
    "Friesland Zuivelgroothandel",
    "Bakker & Zonen Elektro",
    "Noordzee Visverwerking",
    "Zorggroep Het Baken",
    "Limburgse Vloerenfabriek",
    "De Graaf Transport",
    "Kaashandel Gouda-West",
    "Dijkstra Bouwmaterialen",
    "Visser ICT Diensten",
    "Smit Groenvoorziening",
    "Mulder Schoonmaakdiensten",
    "Bos Architecten",
    "Hoekstra Agrotechniek",
    "Peters Installatiegroep",
    "Kuipers Verpakkingen",
    "Van Dijk Bakkerijen",
    "Westland Glastuinbouw",
    "Hendriks Koeltechniek",
    "Achterhoekse Meubelmakerij",
    "Drentse Energiecoöperatie",
    "Schouten Accountants",
    "Koster Marine Services",
    "Brouwer Laboratoriumtechniek",
    "Meijer Foodservice",
    "Gelderse Fietsfabriek",
)
_ACCOUNT_WEIGHTS = tuple(accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(ACCOUNTS))))

# fmt: off
#: When customers get in touch, by local hour: a morning peak, a lunch dip, quiet evenings.
_HOUR_WEIGHTS = (
    0.05, 0.02, 0.02, 0.02, 0.02, 0.05, 0.1, 0.4,  # 00-07
    1.5, 4.5, 5.0, 4.5, 2.0, 3.5, 4.5, 4.0,  # 08-15
    3.0, 1.2, 0.6, 0.5, 0.6, 0.4, 0.2, 0.1,  # 16-23
)
# fmt: on
_HOUR_CUMULATIVE = tuple(accumulate(_HOUR_WEIGHTS))

#: When staff work (wider than the promises' office-nl calendar, as in real offices).
_STAFF_HOURS = ((time(8, 30), time(12, 30)), (time(13, 0), time(17, 30)))
_MEETING_HOURS = (9, 10, 11, 14, 15, 16)

#: Arrivals per ordinary workday; weekends, holidays and summer have fewer.
_NEW_DEALS, _NEW_CASES, _REPEAT_ORDERS = 10.0, 13.0, 3.5
_DAY_FACTOR = {5: 0.12, 6: 0.07}  # Saturday, Sunday
_HOLIDAY_FACTOR = 0.1
_MONTH_FACTOR = {7: 0.85, 8: 0.75, 12: 0.85}

#: The largest accounts, promised contact at least every 30 days.
KEY_ACCOUNTS = 8
_H = 3_600_000_000  # an hour in microseconds
_M = 60_000_000
_S = 1_000_000


@dataclass(frozen=True)
class DemoFiles:
    """What `write_demo` wrote: the config to load and the events to import."""

    config_path: Path
    events_path: Path


def window_start(end: datetime, months: int) -> datetime:
    """The instant `months` calendar months before `end` (UTC), where the demo's history begins.

    Calendar months rather than 30-day blocks, so six months before 20 November is 20 May;
    a day that month lacks becomes its last day (31 August - 6 months = 28/29 February).
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, not {months}")
    at = end.astimezone(UTC)
    year, month = divmod(at.year * 12 + at.month - 1 - months, 12)
    day = min(at.day, monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


def generate_events(*, end: datetime, months: int = 6, seed: int = 7) -> Iterator[Event]:
    """The demo company's events from `window_start(end, months)` to `end`, oldest first.

    Deterministic: the same (end, months, seed) give the same events with the same ids.
    Work that would happen after `end` is left out, so the last days hold open instances,
    as a live CRM does.

    Raises:
        ValueError: for a naive `end` or fewer than one month.
    """
    end_us = to_us(end)
    start_us = to_us(window_start(end, months))
    # Survey answers draw from their own generator, so adding them left every story as it was.
    company = _Company(random.Random(seed), start_us, end_us, random.Random(seed + 1_000_003),
                       random.Random(seed + 2_000_003))  # fmt: skip
    company.run()
    return iter(company.events())


def write_demo(directory: Path, *, end: datetime, months: int = 6, seed: int = 7) -> DemoFiles:
    """Write the demo config (`qmon.yaml`, the packaged template) and `events.csv`.

    The CSV has the canonical columns plus one per attribute, timestamps in UTC with `Z`, so
    it also shows what an importable CRM export looks like.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / CONFIG_NAME
    template = resources.files("qmon.demo").joinpath(CONFIG_NAME).read_text(encoding="utf-8")
    config_path.write_text(template, encoding="utf-8")
    events_path = directory / EVENTS_NAME
    with events_path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(CSV_COLUMNS)
        for ev in generate_events(end=end, months=months, seed=seed):
            out.writerow(
                (
                    ev.source,
                    ev.id,
                    iso_z(ev.occurred_us),
                    ev.type,
                    ev.subject_type,
                    ev.subject_id,
                    ev.account or "",
                    ev.owner or "",
                    ev.channel or "",
                    ev.link or "",
                    *(ev.attributes.get(name, "") for name in ATTRIBUTE_COLUMNS),
                )
            )
    return DemoFiles(config_path, events_path)


class _WorkTime:
    """The staff's working hours as instants, with the running total of working time.

    A task of `h` working hours picked up at `t` is done at `advance(t, h)`: one binary
    search, so tens of thousands of tasks cost nothing. Instants past the last day are
    after `end` and never emitted, so the horizon only has to reach a little beyond it.
    """

    def __init__(self, first: date, last: date, closed: Container[date]) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.totals: list[int] = []  # working time up to the end of each stretch
        total = 0
        day = first
        while day <= last:
            if day.weekday() < 5 and day not in closed:
                for begin, finish in _STAFF_HOURS:
                    start = to_us(datetime.combine(day, begin, tzinfo=TZ))
                    stop = to_us(datetime.combine(day, finish, tzinfo=TZ))
                    total += stop - start
                    self.starts.append(start)
                    self.ends.append(stop)
                    self.totals.append(total)
            day += timedelta(days=1)

    def is_open(self, t: int) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def advance(self, t: int, amount: int) -> int:
        """The instant at which `amount` microseconds of work started at `t` are done."""
        i = bisect_right(self.starts, t) - 1
        done = 0 if i < 0 else self.totals[i] - self.ends[i] + min(t, self.ends[i])
        target = done + max(amount, 1)
        j = bisect_left(self.totals, target)
        if j == len(self.totals):
            return self.ends[-1] + amount
        return self.ends[j] - (self.totals[j] - target)


@dataclass(frozen=True, slots=True)
class _Subject:
    """A journey object: a deal, an order or a case, with its account and owner."""

    kind: str
    id: str
    account: str
    owner: str

    @property
    def link(self) -> str:
        plural = "companies" if self.kind == "company" else f"{self.kind}s"
        return f"{CRM_URL}/{plural}/{self.id}"


class _Company:
    """Simulates the company day by day: arrivals, then each journey object's whole story."""

    def __init__(
        self, rng: random.Random, start_us: int, end_us: int, voice: random.Random,
        terms: random.Random,
    ) -> None:  # fmt: skip
        self.rng = rng
        self.voice = voice
        # Promised delivery dates and key accounts draw from their own generator too.
        self.terms = terms
        self.start_us = start_us
        self.end_us = end_us
        first, last = local_date(start_us, TZ), local_date(end_us, TZ) + timedelta(days=30)
        self.holidays = holidays.country_holidays("NL", years=range(first.year, last.year + 1))
        self.work = _WorkTime(first - timedelta(days=1), last, self.holidays)
        self.rows: list[tuple[Any, ...]] = []
        self.ids = {
            kind: base + rng.randrange(500)
            for kind, base in (("D", 10_000), ("O", 30_000), ("C", 20_000))
        }

    # --- the story of each kind of subject ---

    def run(self) -> None:
        """Let customers arrive day by day over the window, each day's in time order.

        Time order, so that deal, case and order numbers grow with time as in a real CRM.
        """
        day, last = local_date(self.start_us, TZ), local_date(self.end_us, TZ)
        stories = (self.deal, self.case, self.repeat_order)
        while day <= last:
            busy = self._busy(day)
            arrivals = [
                (self._customer_time(day), kind)
                for kind, rate in enumerate((_NEW_DEALS, _NEW_CASES, _REPEAT_ORDERS))
                for _ in range(self._poisson(rate * busy))
            ]
            for t, kind in sorted(arrivals):
                if self.start_us <= t <= self.end_us:
                    stories[kind](t)
            day += timedelta(days=1)
        self.key_accounts()

    def key_accounts(self) -> None:
        """The largest accounts are key accounts, promised contact at least every 30 days:
        calls and meetings every few weeks, now and then too late; one is lost."""
        terms = self.terms
        for n, account in enumerate(ACCOUNTS[:KEY_ACCOUNTS]):
            company = _Subject("company", f"K-{n + 1:03d}", account, _account_owner(account))
            t = self.start_us + terms.randint(0, 20) * 24 * _H
            self.emit(self._staff(t, 2, company.owner), "account.became_key", company,
                      tier="key")  # fmt: skip
            lost_at = self.end_us - 30 * 24 * _H if n == KEY_ACCOUNTS - 1 else None
            while True:
                t = self.work.advance(t, int(terms.gauss(17, 5) * 7.5) * _H)
                if lost_at is not None and t > lost_at:
                    self.emit(self._staff(lost_at, 2, company.owner), "account.lost", company,
                              tier="lost")  # fmt: skip
                    lost_at = None
                if t > self.end_us:
                    break
                kind = "meeting.held" if terms.random() < 0.3 else "call.logged"
                self.emit(self._staff(t, 1, company.owner), kind, company, "phone")

    def deal(self, t: int) -> None:
        """A lead: maybe a callback and a demo, usually a quote (or two), sometimes an order."""
        rng = self.rng
        account = self._account()
        deal = self._subject("deal", "D", account, _account_owner(account))
        channel = rng.choices(CHANNELS, weights=(3, 3, 4, 1))[0]
        self.emit(t, "deal.created", deal, channel)
        if rng.random() < 0.4:
            self.callback(deal, t + rng.randint(1, 15) * _M)
        t = self._staff(t, 3, deal.owner)
        self.emit(t, "deal.stage_changed", deal)
        self.notes(deal, t, rng.randint(0, 3))
        if rng.random() < 0.45:
            t = self._meeting(t, 2, 10)
            self.emit(t, "demo.held", deal)
            if rng.random() < 0.98:
                done = self._staff(t, 3.5, deal.owner, sigma=1.1)
                kind = rng.choice(("email.sent", "call.logged"))
                self.emit(done, kind, deal, "email" if kind == "email.sent" else "phone")
        if rng.random() < 0.65:
            sent = self.quotes(deal, t, channel)
            if sent is None:
                return
            self.emit(self._staff(sent, 1, deal.owner), "deal.stage_changed", deal)
            if rng.random() < 0.1:
                self.callback(deal, self._customer_after(sent, 1, 5))
            outcome = rng.random()
            if outcome < 0.6:
                decided = self._customer_after(sent, 2, 15)
                self.emit(decided, "deal.stage_changed", deal)
                if outcome < 0.35:
                    self.order(deal.account, deal.owner, self._customer_after(decided, 0, 3))

    def quotes(self, deal: _Subject, after: int, channel: str) -> int | None:
        """One quote cycle, sometimes a revised second one; when the last was sent, if ever."""
        rng = self.rng
        amount = _round_to(rng.lognormvariate(math.log(9_000), 0.8), 50)
        t = after
        for cycle in range(2 if rng.random() < 0.15 else 1):
            asked = self._customer_after(t, 0, 3) if cycle == 0 else self._customer_after(t, 2, 10)
            self.emit(asked, "quote.requested", deal, channel)
            improving = 1.6 - 1.0 * self._progress(asked)
            sent = self._staff(asked, 2.0 * improving, deal.owner, sigma=0.9, off_hours=0.1)
            chased = asked + rng.randint(20, 30) * _H
            if chased < sent and rng.random() < 0.5:  # "waar blijft mijn offerte?"
                self.emit(chased, "quote.requested", deal, "email")
            if rng.random() < 0.012:
                return None
            amount = _round_to(amount * rng.uniform(0.8, 1.1), 50) if cycle else amount
            self.emit(sent, "quote.sent", deal, "email", amount=amount)
            t = sent
        return t

    def callback(self, deal: _Subject, t: int) -> None:
        """A "bel mij terug" request from the website; the owner calls back, usually soon."""
        self.emit(t, "callback.requested", deal, "web")
        if self.rng.random() < 0.985:
            done = self._staff(t, 0.3, deal.owner, sigma=0.9, off_hours=0.3)
            self.emit(done, "call.logged", deal, "phone")

    def repeat_order(self, t: int) -> None:
        account = self._account()
        self.order(account, _account_owner(account), t)

    def order(self, account: str, owner: str, t: int) -> None:
        """An order: confirmed, delivered on a workday, then a follow-up call."""
        rng = self.rng
        order = self._subject("order", "O", account, owner)
        amount = _round_to(rng.lognormvariate(math.log(4_000), 0.9), 10)
        self.emit(
            t, "order.placed", order, rng.choice(("web", "web", "email", "phone")), amount=amount
        )
        if rng.random() < 0.01:
            return
        t = self._staff(t, 0.9, owner, sigma=1.0)
        # The date promised on the order confirmation: about four working days out (now and
        # then the CRM field was left empty).
        promised = local_date(self.work.advance(t, 30 * _H), TZ).isoformat()
        promised_date = promised if self.terms.random() > 0.03 else None
        self.emit(t, "order.confirmed", order, "email", promised_date=promised_date)
        t = self.work.advance(t, rng.randint(8, 40) * _H)
        self.emit(t, "order.delivered", order)
        called = None
        if rng.random() < 0.97:
            called = self._staff(t, 3, owner, sigma=1.0)
            self.emit(called, "call.logged", order, "phone")
        self.notes(order, t, rng.randint(0, 1))
        self.nps_survey(order, t, called)

    def case(self, t: int) -> None:
        """A customer case: first reply, maybe a wait on the customer, closed, rarely reopened."""
        rng = self.rng
        agent = rng.choice(SUPPORT_OWNERS)
        case = self._subject("case", "C", self._account(), agent)
        channel = rng.choices(CHANNELS, weights=(5, 3, 3, 2))[0]
        priority = rng.choices(("low", "normal", "high"), weights=(3, 6, 1))[0]
        self.emit(t, "case.opened", case, channel, priority=priority)
        opened = t
        urgency = {"low": 1.3, "normal": 1.0, "high": 0.5}[priority]
        live = channel in ("phone", "chat")
        improving = 1.6 - 1.0 * self._progress(t)
        median = (0.3 if live else 1.3) * urgency * improving
        t = self._staff(t, median, agent, sigma=1.0, off_hours=0.15 if live else 0.03)
        if rng.random() < (0.2 if live else 0.05):
            self.emit(t, "case.closed", case, channel)  # solved at first contact
        else:
            self.emit(t, "case.first_response", case, channel)
            if rng.random() < 0.3:
                t += rng.randint(1, 10) * _M
                self.emit(t, "case.waiting_on_customer", case)
                if rng.random() < 0.1:  # no answer: closed after two weeks
                    self.emit(self.work.advance(t, 80 * _H), "case.closed", case)
                    return
                t = self._customer_after(t, 0, 4)
                self.emit(t, "case.customer_replied", case, "email")
            self.notes(case, t, rng.randint(0, 2))
            if rng.random() < 0.01:
                return
            t = self._staff(t, 6 * urgency, agent, sigma=0.9)
            self.emit(t, "case.closed", case, "email")
        self.case_surveys(case, opened, t)
        if rng.random() < 0.03:
            t = self._customer_after(t, 1, 6)
            self.emit(t, "case.reopened", case, channel)
            self.emit(self._staff(t, 4, agent), "case.closed", case, "email")

    def nps_survey(self, order: _Subject, delivered: int, called: int | None) -> None:
        """Some customers answer the NPS survey a few days after delivery; a timely follow-up
        call makes promoters, none makes detractors."""
        voice = self.voice
        if voice.random() >= 0.25:
            return
        late = called is None or called - delivered > 48 * _H
        score = voice.gauss(6.0 if late else 8.6, 1.6)
        at = delivered + voice.randint(72, 240) * _H
        self.emit(at, "survey.nps", order, "email", score=max(0, min(10, round(score))))

    def case_surveys(self, case: _Subject, opened: int, closed: int) -> None:
        """After a case is closed some customers rate it: CSAT 1-5 and CES 1-7, lower the
        longer it took."""
        voice = self.voice
        days = (closed - opened) / (24 * _H)
        at = closed + voice.randint(1, 48) * _H
        if voice.random() < 0.3:
            score = voice.gauss(4.7 - 0.35 * days, 0.8)
            self.emit(at, "survey.csat", case, "email", score=max(1, min(5, round(score))))
        if voice.random() < 0.15:
            score = voice.gauss(6.3 - 0.4 * days, 1.0)
            self.emit(at, "survey.ces", case, "email", score=max(1, min(7, round(score))))

    def notes(self, subject: _Subject, after: int, count: int) -> None:
        """Notes no promise reads: the noise every real CRM export has."""
        for _ in range(count):
            self.emit(
                self._staff(after, self.rng.uniform(1, 20), subject.owner), "note.added", subject
            )

    # --- output ---

    def emit(
        self, t: int, kind: str, subject: _Subject, channel: str | None = None, **attributes: Any
    ) -> None:
        """Record an event if it falls in the window, at whole seconds as CRMs record them."""
        t -= t % _S
        if self.start_us <= t <= self.end_us:
            self.rows.append((t, len(self.rows), kind, subject, channel, attributes))

    def events(self) -> list[Event]:
        """The recorded events in time order, numbered in that order."""
        self.rows.sort(key=lambda row: row[:2])
        return [
            Event(
                source=SOURCE,
                id=f"ev-{n:06d}",
                occurred_us=t,
                type=kind,
                subject_type=subject.kind,
                subject_id=subject.id,
                account=subject.account,
                owner=subject.owner,
                channel=channel,
                link=subject.link,
                attributes={k: v for k, v in attributes.items() if v is not None},
            )
            for n, (t, _, kind, subject, channel, attributes) in enumerate(self.rows, start=1)
        ]

    # --- time and chance ---

    def _staff(
        self,
        after: int,
        median_h: float,
        owner: str,
        *,
        sigma: float = 1.0,
        off_hours: float = 0.02,
    ) -> int:
        """When `owner` finishes a task that arrived at `after`: working hours, long tail.

        Outside working hours the task waits for the next working morning, except a small
        share (`off_hours`, less at weekends) picked up from home in the evening.
        """
        rng = self.rng
        hours = rng.lognormvariate(math.log(median_h), sigma)
        if owner == SLOW_OWNER:
            hours *= 2
        if not self.work.is_open(after) and rng.random() < off_hours:
            local = datetime.fromtimestamp(after / _S, TZ)
            workday = self._workday(local.date())
            if 7 <= local.hour < 22 and (workday or rng.random() < 0.2):
                return after + int(hours * _H / 3) + _M
        return self.work.advance(after, int(hours * _H) + _M)

    def _customer_time(self, day: date) -> int:
        """A moment on `day` at which a customer gets in touch, following `_HOUR_WEIGHTS`."""
        rng = self.rng
        hour = rng.choices(range(24), cum_weights=_HOUR_CUMULATIVE)[0]
        moment = time(hour, rng.randrange(60), rng.randrange(60))
        return to_us(datetime.combine(day, moment, tzinfo=TZ))

    def _customer_after(self, after: int, min_days: int, max_days: int) -> int:
        """A customer's next move some days after `after`, mostly on a workday."""
        day = local_date(after, TZ) + timedelta(days=self.rng.randint(min_days, max_days))
        if not self._workday(day) and self.rng.random() < 0.85:
            day = self._next_workday(day)
        t = self._customer_time(day)
        return t if t > after else after + self.rng.randint(5, 120) * _M

    def _meeting(self, after: int, min_days: int, max_days: int) -> int:
        """A demo on a workday some days later, on the hour or half hour (logged when over)."""
        day = self._next_workday(
            local_date(after, TZ) + timedelta(self.rng.randint(min_days, max_days))
        )
        start = time(self.rng.choice(_MEETING_HOURS), self.rng.choice((0, 30)))
        return to_us(datetime.combine(day, start, tzinfo=TZ)) + _H

    def _workday(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def _next_workday(self, day: date) -> date:
        while not self._workday(day):
            day += timedelta(days=1)
        return day

    def _busy(self, day: date) -> float:
        """How many customers get in touch on `day`, relative to an ordinary workday."""
        if day in self.holidays:
            factor = _HOLIDAY_FACTOR
        else:
            factor = _DAY_FACTOR.get(day.weekday(), 1.0)
        return factor * _MONTH_FACTOR.get(day.month, 1.0)

    def _progress(self, t: int) -> float:
        """How far into the window `t` is, 0 to 1 (1 after `end`): drives improving promises."""
        return min(1.0, max(0.0, (t - self.start_us) / (self.end_us - self.start_us)))

    def _poisson(self, mean: float) -> int:
        """A Poisson draw (Knuth's method; means here are small)."""
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def _account(self) -> str:
        return self.rng.choices(ACCOUNTS, cum_weights=_ACCOUNT_WEIGHTS)[0]

    def _subject(self, kind: str, prefix: str, account: str, owner: str) -> _Subject:
        self.ids[prefix] += 1
        return _Subject(kind, f"{prefix}-{self.ids[prefix]}", account, owner)


def _account_owner(account: str) -> str:
    """Each account has one account manager; the accounts are dealt out in turn."""
    return SALES_OWNERS[ACCOUNTS.index(account) % len(SALES_OWNERS)]


def _round_to(amount: float, step: int) -> int:
    return max(step, int(round(amount / step)) * step)
