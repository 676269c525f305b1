"""Error-budget burn alerts: a promise that is breaking so fast it will miss its objective.

A promise with `objective: 95%` may break 5% of its instances: that is its error budget,
counted over a rolling 28 days. The burn rate over a window is the share broken there divided
by that 5%: a burn rate of 1 spends the budget exactly in 28 days. As in SRE multi-window
burn-rate alerting (Google's SRE workbook, "Alerting on SLOs"), an alert needs a high burn in
a long window (it is not a blip) and in a short one (it is still going on):

- fast: burn >= 14.4 over the last day and the last 2 hours (half the budget in ~2 days);
- slow: burn >= 6 over the last 3 days and the last 6 hours (the budget in under 5 days).

An instance counts in a window when it was decided there: kept when it stopped in time,
broken when its deadline passed (an instance cannot break before its deadline, so counting
by start would hide every recent breach of a 24-hour promise). A window with fewer than
`MIN_DECIDED` decided instances says nothing. Each promise is alerted at most once a day per
rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from typing import NamedTuple

from qmon.config import QmonConfig
from qmon.promises.engine import Instance
from qmon.textsafe import slack_escape
from qmon.timeutil import to_us

HOUR_US = 3600_000_000
BUDGET_DAYS = 28
RULES = (  # (name, long window, short window, burn rate)
    ("burn_fast", 24 * HOUR_US, 2 * HOUR_US, 14.4),
    ("burn_slow", 72 * HOUR_US, 6 * HOUR_US, 6.0),
)
MIN_DECIDED = 5

WORDS = {
    "en": ":fire: Error budget burning: {title} ({phase}) breaks {burn:.1f}x faster than its "
    "objective of {objective:.0%} allows over the last {window}; at this pace the {days}-day "
    "budget is gone in {left:.1f} days",
    "nl": ":fire: Foutbudget brandt op: {title} ({phase}) breekt {burn:.1f}x sneller dan de "
    "doelstelling van {objective:.0%} toelaat in de laatste {window}; in dit tempo is het "
    "budget van {days} dagen op in {left:.1f} dagen",
}
WINDOWS = {"en": {24: "day", 72: "3 days"}, "nl": {24: "dag", 72: "3 dagen"}}


class Decision(NamedTuple):
    """An instance decided: its promise, when (`decided_at`), and whether it broke."""

    promise_id: str
    decided_us: int
    breached: bool


def decisions_of(instances: Iterable[Instance]) -> Iterator[Decision]:
    for i in instances:
        if i.status in ("met", "breached"):
            yield Decision(i.promise_id, decided_at(i), i.status == "breached")


@dataclass(frozen=True)
class BurnAlert:
    promise_id: str
    rule: str
    day_us: int  # start of the local day: one alert per promise, rule and day
    text: str

    @property
    def key(self) -> dict[str, object]:
        return {"p": self.promise_id, "t": "promise", "i": self.promise_id,
                "s": self.day_us, "k": self.rule}  # fmt: skip


def burn_alerts(
    config: QmonConfig, decided: Iterable[Decision], as_of_us: int, language: str
) -> Iterator[BurnAlert]:
    by_promise: dict[str, list[Decision]] = {}
    for decision in decided:
        by_promise.setdefault(decision.promise_id, []).append(decision)
    local_day = datetime.fromtimestamp(as_of_us / 1e6, tz=config.timezone).date()
    day_us = to_us(datetime.combine(local_day, time(0), tzinfo=config.timezone))
    for promise in config.promises:
        if promise.objective is None or promise.objective >= 1:
            continue
        budget = 1 - promise.objective
        mine = by_promise.get(promise.id, [])
        for rule, long_us, short_us, threshold in RULES:
            burns = [_burn(mine, as_of_us - w, budget) for w in (long_us, short_us)]
            if any(b is None or b < threshold for b in burns):
                continue
            burn = burns[0]
            assert burn is not None
            text = WORDS[language].format(
                title=slack_escape(promise.title), phase=slack_escape(promise.phase), burn=burn,
                objective=promise.objective, window=WINDOWS[language][long_us // HOUR_US],
                days=BUDGET_DAYS, left=BUDGET_DAYS / burn,
            )  # fmt: skip
            yield BurnAlert(promise.id, rule, day_us, text)
            break  # the fast rule says it all


def decided_at(instance: Instance) -> int:
    """When a decided instance was decided: its deadline if it broke, else its stop."""
    if instance.status == "breached" and instance.deadline_us is not None:
        return instance.deadline_us
    return instance.stopped_us if instance.stopped_us is not None else instance.started_us


def _burn(decided: list[Decision], since_us: int, budget: float) -> float | None:
    window = [d for d in decided if d.decided_us >= since_us]
    if len(window) < MIN_DECIDED:
        return None
    broken = sum(1 for d in window if d.breached)
    return broken / len(window) / budget
