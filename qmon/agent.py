"""`qmon run`: the agent. Syncs, checks and sends the weekly report on the configured
schedule, one agent per store.

APScheduler runs the jobs in the config's time zone, each job coalesced (runs missed while
the agent was down are caught up once, not many times) and never overlapping itself. Every
job starts once right away, so an agent that was down catches up at start.

One agent acts on a store at a time: on PostgreSQL it holds an advisory lock on a connection
of its own for as long as it runs (released by the server if the agent dies); on SQLite an
exclusive `flock` on a file beside the database (released by the kernel likewise). A second
agent stops at once with exit code 3. SIGTERM and SIGINT stop the agent after the job that
is running, which is safe at any moment anyway: every job commits as it goes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text

from qmon.alerts.check import run_check
from qmon.config import QmonConfig
from qmon.errors import QmonError
from qmon.exit_codes import ExitCode
from qmon.reports.weekly.delivery import send_due
from qmon.store import Store
from qmon.sync import run_sync
from qmon.timeutil import now_us

log = logging.getLogger(__name__)

#: The advisory lock an agent takes: one per store, i.e. per schema (several stores may share
#: a database).
LOCK_KEY_SQL = "hashtext('qmon agent ' || current_schema())"


class JobObserver(Protocol):
    """Told when each agent job finishes (e.g. `qmon.ops.metrics`)."""

    def job_finished(self, name: str, seconds: float, ok: bool) -> None: ...


class AgentBusy(QmonError):
    """Another agent already acts on this store."""

    exit_code = ExitCode.SOURCE_FAILED


@contextmanager
def agent_lock(store: Store) -> Iterator[None]:
    """Hold the store's agent lock for the duration, or raise `AgentBusy`."""
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            got = conn.execute(text(f"SELECT pg_try_advisory_lock({LOCK_KEY_SQL})")).scalar()
            conn.commit()
            if not got:
                raise AgentBusy("another qmon agent is running on this database; exit")
            try:
                yield
            finally:
                conn.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY_SQL})"))
                conn.commit()
        return
    database = store.engine.url.database or "qmon"
    path = f"{database}.agent.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AgentBusy(f"another qmon agent is running on this store ({path})") from None
        yield
    finally:
        handle.close()


def _weekly_trigger(config: QmonConfig) -> Any:
    """On time at the configured weekday and hour, and at every check interval in between so
    that a report the SMTP server did not take is retried (`send_due` sends it once)."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    weekday, hour, minute = config.schedule.weekly_report
    return OrTrigger([
        CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=config.timezone),
        IntervalTrigger(seconds=config.schedule.check / 1e6, timezone=config.timezone),
    ])  # fmt: skip


def run_agent(
    config: QmonConfig, store: Store, *, stop: threading.Event | None = None,
    on_job: Callable[[str, Any], None] | None = None, metrics: JobObserver | None = None,
) -> None:  # fmt: skip
    """Run until SIGTERM/SIGINT (or `stop` is set). `on_job` sees each job's result;
    `metrics` is told each job's duration and outcome."""
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = stop or threading.Event()
    sync_us, check_us = config.schedule.sync, config.schedule.check

    def job(name: str, work: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            started = time.monotonic()
            try:
                result = work()
            except Exception:  # a failed job is logged; the next run tries again
                log.exception("%s failed", name)
                if metrics:
                    metrics.job_finished(name, time.monotonic() - started, False)
                return
            log.info("%s done", name)
            if metrics:
                metrics.job_finished(name, time.monotonic() - started, True)
            if on_job:
                on_job(name, result)

        return run

    with agent_lock(store):
        scheduler = BackgroundScheduler(timezone=config.timezone)
        defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        first = datetime.now(config.timezone)
        if config.sources:
            scheduler.add_job(job("sync", lambda: run_sync(config, store)), "interval",
                              seconds=sync_us / 1e6, next_run_time=first, id="sync",
                              **defaults)  # fmt: skip
        scheduler.add_job(job("check", lambda: run_check(config, store, now_us())), "interval",
                          seconds=check_us / 1e6, next_run_time=first, id="check",
                          **defaults)  # fmt: skip
        if config.notify.email is not None:
            scheduler.add_job(job("weekly_report", lambda: send_due(config, store, now_us())),
                              _weekly_trigger(config), next_run_time=first,
                              id="weekly_report", **defaults)  # fmt: skip
        for sig in (signal.SIGTERM, signal.SIGINT):
            if threading.current_thread() is threading.main_thread():
                signal.signal(sig, lambda *_: stop.set())
        scheduler.start()
        log.info("qmon agent %s started", os.getpid())
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            log.info("qmon agent stopped")
