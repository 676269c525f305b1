"""Making the weekly report and sending it once a week, on time, once.

`qmon report weekly` makes a report on request. The agent calls `send_due` on every tick of
its weekly-report job: the report about last week is due from the configured time in this
week (`schedule.weekly_report`, default Monday 08:00, config time zone) until sent. It is
marked sent (`agent_marks.weekly_report` = that week's start) only after the SMTP server took
it, so a failed send is retried on the next tick, and an agent that was down over the due
time sends it when it comes back, once; a report more than a week overdue is not sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from qmon.config import QmonConfig
from qmon.reports.weekly.figures import IsoWeek, build, last_complete_week
from qmon.reports.weekly.mail import MailError, build_message, send
from qmon.reports.weekly.render import RenderedReport, render
from qmon.store import Store
from qmon.timeutil import to_us

log = logging.getLogger(__name__)

MARK = "weekly_report"


def make(config: QmonConfig, store: Store, week: IsoWeek, as_of_us: int, *,
         charts: bool = True) -> RenderedReport:  # fmt: skip
    return render(config, build(config, store, week, as_of_us), charts=charts)


def mail(config: QmonConfig, report: RenderedReport) -> None:
    """Send a report to `notify.email`; raises `MailError`."""
    spec = config.notify.email
    if spec is None:
        raise MailError("notify.email is not configured: there is nowhere to send the report")
    send(build_message(report, spec), spec)


def due_week(config: QmonConfig, store: Store, now_us: int) -> IsoWeek | None:
    """The week whose report is due now and not yet sent, if any."""
    tz = config.timezone
    weekday, hour, minute = config.schedule.weekly_report
    week = last_complete_week(now_us, tz)
    due_day = week.shift(1).monday() + timedelta(days=weekday)
    due_us = to_us(datetime.combine(due_day, time(hour, minute), tzinfo=tz))
    if now_us < due_us or store.marks().get(MARK, -1) >= week.start_us(tz):
        return None
    return week


def send_due(config: QmonConfig, store: Store, now_us: int) -> IsoWeek | None:
    """Send the due report, if any; returns the week sent. `MailError` propagates (the
    agent logs it and the next tick tries again)."""
    week = due_week(config, store, now_us)
    if week is None:
        return None
    mail(config, make(config, store, week, now_us))
    store.mark(MARK, week.start_us(config.timezone))
    log.info("weekly report %s sent", week)
    return week
