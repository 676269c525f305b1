"""When things happen at the demo company: the staff's working time, when customers get in
touch, how long tasks take, how busy a day is, and the Poisson draws for the arrivals.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Container
from datetime import date, datetime, time, timedelta
from itertools import accumulate

import holidays

from qmon.demo.cast import SLOW_OWNER, TZ
from qmon.timeutil import local_date, to_us

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

#: Weekends, holidays and summer have fewer arrivals than an ordinary workday (`busy`).
_DAY_FACTOR = {5: 0.12, 6: 0.07}  # Saturday, Sunday
_HOLIDAY_FACTOR = 0.1
_MONTH_FACTOR = {7: 0.85, 8: 0.75, 12: 0.85}

H = 3_600_000_000  # an hour in microseconds
M = 60_000_000
S = 1_000_000


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


class Timing:
    """The company's time model: staff working time and customers' habits, drawing from the
    company's `rng` in the order the journeys ask."""

    def __init__(self, rng: random.Random, start_us: int, end_us: int) -> None:
        self.rng = rng
        self.start_us = start_us
        self.end_us = end_us
        first, last = local_date(start_us, TZ), local_date(end_us, TZ) + timedelta(days=30)
        self.holidays = holidays.country_holidays("NL", years=range(first.year, last.year + 1))
        self.work = _WorkTime(first - timedelta(days=1), last, self.holidays)

    # --- time and chance ---

    def staff(
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
            local = datetime.fromtimestamp(after / S, TZ)
            workday = self._workday(local.date())
            if 7 <= local.hour < 22 and (workday or rng.random() < 0.2):
                return after + int(hours * H / 3) + M
        return self.work.advance(after, int(hours * H) + M)

    def customer_time(self, day: date) -> int:
        """A moment on `day` at which a customer gets in touch, following `_HOUR_WEIGHTS`."""
        rng = self.rng
        hour = rng.choices(range(24), cum_weights=_HOUR_CUMULATIVE)[0]
        moment = time(hour, rng.randrange(60), rng.randrange(60))
        return to_us(datetime.combine(day, moment, tzinfo=TZ))

    def customer_after(self, after: int, min_days: int, max_days: int) -> int:
        """A customer's next move some days after `after`, mostly on a workday."""
        day = local_date(after, TZ) + timedelta(days=self.rng.randint(min_days, max_days))
        if not self._workday(day) and self.rng.random() < 0.85:
            day = self._next_workday(day)
        t = self.customer_time(day)
        return t if t > after else after + self.rng.randint(5, 120) * M

    def meeting(self, after: int, min_days: int, max_days: int) -> int:
        """A demo on a workday some days later, on the hour or half hour (logged when over)."""
        day = self._next_workday(
            local_date(after, TZ) + timedelta(self.rng.randint(min_days, max_days))
        )
        start = time(self.rng.choice(_MEETING_HOURS), self.rng.choice((0, 30)))
        return to_us(datetime.combine(day, start, tzinfo=TZ)) + H

    def _workday(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def _next_workday(self, day: date) -> date:
        while not self._workday(day):
            day += timedelta(days=1)
        return day

    def busy(self, day: date) -> float:
        """How many customers get in touch on `day`, relative to an ordinary workday."""
        if day in self.holidays:
            factor = _HOLIDAY_FACTOR
        else:
            factor = _DAY_FACTOR.get(day.weekday(), 1.0)
        return factor * _MONTH_FACTOR.get(day.month, 1.0)

    def progress(self, t: int) -> float:
        """How far into the window `t` is, 0 to 1 (1 after `end`): drives improving promises."""
        return min(1.0, max(0.0, (t - self.start_us) / (self.end_us - self.start_us)))

    def poisson(self, mean: float) -> int:
        """A Poisson draw (Knuth's method; means here are small)."""
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count
