"""The demo company's journeys: deals, quotes, orders, cases, surveys and key accounts, each
subject's whole story drawn in turn and recorded as events in the window.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta
from itertools import accumulate
from typing import Any

from qmon.demo.cast import (
    ACCOUNTS,
    CHANNELS,
    CRM_URL,
    KEY_ACCOUNTS,
    SALES_OWNERS,
    SOURCE,
    SUPPORT_OWNERS,
    TZ,
)
from qmon.demo.timing import H, M, S, Timing
from qmon.events import Event
from qmon.timeutil import local_date

_ACCOUNT_WEIGHTS = tuple(accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(ACCOUNTS))))

#: Arrivals per ordinary workday; weekends, holidays and summer have fewer.
_NEW_DEALS, _NEW_CASES, _REPEAT_ORDERS = 10.0, 13.0, 3.5


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


class Company:
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
        self.timing = Timing(rng, start_us, end_us)
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
            busy = self.timing.busy(day)
            arrivals = [
                (self.timing.customer_time(day), kind)
                for kind, rate in enumerate((_NEW_DEALS, _NEW_CASES, _REPEAT_ORDERS))
                for _ in range(self.timing.poisson(rate * busy))
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
            t = self.start_us + terms.randint(0, 20) * 24 * H
            self.emit(self.timing.staff(t, 2, company.owner), "account.became_key", company,
                      tier="key")  # fmt: skip
            lost_at = self.end_us - 30 * 24 * H if n == KEY_ACCOUNTS - 1 else None
            while True:
                t = self.timing.work.advance(t, int(terms.gauss(17, 5) * 7.5) * H)
                if lost_at is not None and t > lost_at:
                    self.emit(self.timing.staff(lost_at, 2, company.owner), "account.lost", company,
                              tier="lost")  # fmt: skip
                    lost_at = None
                if t > self.end_us:
                    break
                kind = "meeting.held" if terms.random() < 0.3 else "call.logged"
                self.emit(self.timing.staff(t, 1, company.owner), kind, company, "phone")

    def deal(self, t: int) -> None:
        """A lead: maybe a callback and a demo, usually a quote (or two), sometimes an order."""
        rng = self.rng
        account = self._account()
        deal = self._subject("deal", "D", account, _account_owner(account))
        channel = rng.choices(CHANNELS, weights=(3, 3, 4, 1))[0]
        self.emit(t, "deal.created", deal, channel)
        if rng.random() < 0.4:
            self.callback(deal, t + rng.randint(1, 15) * M)
        t = self.timing.staff(t, 3, deal.owner)
        self.emit(t, "deal.stage_changed", deal)
        self.notes(deal, t, rng.randint(0, 3))
        if rng.random() < 0.45:
            t = self.timing.meeting(t, 2, 10)
            self.emit(t, "demo.held", deal)
            if rng.random() < 0.98:
                done = self.timing.staff(t, 3.5, deal.owner, sigma=1.1)
                kind = rng.choice(("email.sent", "call.logged"))
                self.emit(done, kind, deal, "email" if kind == "email.sent" else "phone")
        if rng.random() < 0.65:
            sent = self.quotes(deal, t, channel)
            if sent is None:
                return
            self.emit(self.timing.staff(sent, 1, deal.owner), "deal.stage_changed", deal)
            if rng.random() < 0.1:
                self.callback(deal, self.timing.customer_after(sent, 1, 5))
            outcome = rng.random()
            if outcome < 0.6:
                decided = self.timing.customer_after(sent, 2, 15)
                self.emit(decided, "deal.stage_changed", deal)
                if outcome < 0.35:
                    self.order(deal.account, deal.owner, self.timing.customer_after(decided, 0, 3))

    def quotes(self, deal: _Subject, after: int, channel: str) -> int | None:
        """One quote cycle, sometimes a revised second one; when the last was sent, if ever."""
        rng = self.rng
        amount = _round_to(rng.lognormvariate(math.log(9_000), 0.8), 50)
        t = after
        for cycle in range(2 if rng.random() < 0.15 else 1):
            asked = (
                self.timing.customer_after(t, 0, 3)
                if cycle == 0
                else self.timing.customer_after(t, 2, 10)
            )
            self.emit(asked, "quote.requested", deal, channel)
            improving = 1.6 - 1.0 * self.timing.progress(asked)
            sent = self.timing.staff(asked, 2.0 * improving, deal.owner, sigma=0.9, off_hours=0.1)
            chased = asked + rng.randint(20, 30) * H
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
            done = self.timing.staff(t, 0.3, deal.owner, sigma=0.9, off_hours=0.3)
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
        t = self.timing.staff(t, 0.9, owner, sigma=1.0)
        # The date promised on the order confirmation: about four working days out (now and
        # then the CRM field was left empty).
        promised = local_date(self.timing.work.advance(t, 30 * H), TZ).isoformat()
        promised_date = promised if self.terms.random() > 0.03 else None
        self.emit(t, "order.confirmed", order, "email", promised_date=promised_date)
        t = self.timing.work.advance(t, rng.randint(8, 40) * H)
        self.emit(t, "order.delivered", order)
        called = None
        if rng.random() < 0.97:
            called = self.timing.staff(t, 3, owner, sigma=1.0)
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
        improving = 1.6 - 1.0 * self.timing.progress(t)
        median = (0.3 if live else 1.3) * urgency * improving
        t = self.timing.staff(t, median, agent, sigma=1.0, off_hours=0.15 if live else 0.03)
        if rng.random() < (0.2 if live else 0.05):
            self.emit(t, "case.closed", case, channel)  # solved at first contact
        else:
            self.emit(t, "case.first_response", case, channel)
            if rng.random() < 0.3:
                t += rng.randint(1, 10) * M
                self.emit(t, "case.waiting_on_customer", case)
                if rng.random() < 0.1:  # no answer: closed after two weeks
                    self.emit(self.timing.work.advance(t, 80 * H), "case.closed", case)
                    return
                t = self.timing.customer_after(t, 0, 4)
                self.emit(t, "case.customer_replied", case, "email")
            self.notes(case, t, rng.randint(0, 2))
            if rng.random() < 0.01:
                return
            t = self.timing.staff(t, 6 * urgency, agent, sigma=0.9)
            self.emit(t, "case.closed", case, "email")
        self.case_surveys(case, opened, t)
        if rng.random() < 0.03:
            t = self.timing.customer_after(t, 1, 6)
            self.emit(t, "case.reopened", case, channel)
            self.emit(self.timing.staff(t, 4, agent), "case.closed", case, "email")

    def nps_survey(self, order: _Subject, delivered: int, called: int | None) -> None:
        """Some customers answer the NPS survey a few days after delivery; a timely follow-up
        call makes promoters, none makes detractors."""
        voice = self.voice
        if voice.random() >= 0.25:
            return
        late = called is None or called - delivered > 48 * H
        score = voice.gauss(6.0 if late else 8.6, 1.6)
        at = delivered + voice.randint(72, 240) * H
        self.emit(at, "survey.nps", order, "email", score=max(0, min(10, round(score))))

    def case_surveys(self, case: _Subject, opened: int, closed: int) -> None:
        """After a case is closed some customers rate it: CSAT 1-5 and CES 1-7, lower the
        longer it took."""
        voice = self.voice
        days = (closed - opened) / (24 * H)
        at = closed + voice.randint(1, 48) * H
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
                self.timing.staff(after, self.rng.uniform(1, 20), subject.owner),
                "note.added",
                subject,
            )

    # --- output ---

    def emit(
        self, t: int, kind: str, subject: _Subject, channel: str | None = None, **attributes: Any
    ) -> None:
        """Record an event if it falls in the window, at whole seconds as CRMs record them."""
        t -= t % S
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

    # --- accounts and subject numbers ---

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
