"""`qmon run`: the agent. Syncs each source, checks and sends the weekly report on the
configured schedule.

**Jobs and claims.** The work is a set of jobs: `sync:<source>` per configured source,
`check`, and `weekly_report` with `notify.email`. Each has a row in `agent_jobs` saying when
it is next due. Every `TICK_S` seconds (sooner for shorter intervals) an agent tries each
job: it claims the row and runs the job only if it is due, then moves `due_us` on and
commits; a failed job is due again at its next interval, as if it had run.

**Several agents on one PostgreSQL.** The claim is `SELECT ... FOR UPDATE SKIP LOCKED`,
held in an open transaction for as long as the job runs: a second agent skips a job that is
running, and after it finished finds it not due, so no sync or check runs twice and no alert
is sent twice. Agents share the work (two sources sync in parallel on two agents). When an
agent dies its connection closes, the server rolls its transaction back and releases the
row; the job is still due, and the next agent to tick (within `TICK_S`) runs it. TCP
keepalives on the claiming connection let the server notice a vanished host within about
half a minute, not hours. No agent-to-agent protocol: PostgreSQL's row locks are the protocol.

**One agent on SQLite.** SQLite has one writer and no row locks; an agent holds an exclusive
`flock` on a file beside the database (released by the kernel if it dies) and a second
agent stops at once with exit code 3.

SIGTERM and SIGINT stop the agent after the job that is running, which is safe at any moment
anyway: every job commits as it goes. A database that goes away (restarted, failed over)
fails the jobs of the moment; the next tick reconnects (the pool pings connections first).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
from qmon.timeutil import from_us, now_us, to_us

log = logging.getLogger(__name__)

#: How often, at most, an agent looks for due jobs: the bound on taking over a dead agent's.
TICK_S = 15.0

#: Keepalives on the claiming connection, so that the server drops a vanished agent's claim
#: in about 10 + 5 * 3 seconds.
_KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
               "SET tcp_keepalives_count = 3")  # fmt: skip


class JobObserver(Protocol):
    """Told when each agent job finishes (e.g. `qmon.ops.metrics`)."""

    def job_finished(self, name: str, seconds: float, ok: bool) -> None: ...


class AgentBusy(QmonError):
    """Another agent already acts on this (SQLite) store."""

    exit_code = ExitCode.SOURCE_FAILED


@dataclass
class Job:
    """One kind of work: what it does, and when it is next due after a run at `now_us`."""

    name: str
    work: Callable[[], Any]
    next_due: Callable[[int], int]
    tick_s: float


def job_names(config: QmonConfig) -> list[str]:
    """The jobs the config asks for: a sync per source, the check, the weekly report."""
    names = [f"sync:{name}" for name in config.sources]
    names.append("check")
    if config.notify.email is not None:
        names.append("weekly_report")
    return names


def agent_jobs(config: QmonConfig, store: Store) -> list[Job]:
    """The jobs of `job_names`, ready to run."""
    schedule = config.schedule
    check_tick = min(TICK_S, schedule.check / 1e6)

    def job(name: str) -> Job:
        if name.startswith("sync:"):
            source = name.removeprefix("sync:")
            return Job(name, lambda: run_sync(config, store, sources=[source]),
                       _every(schedule.sync), min(TICK_S, schedule.sync / 1e6))  # fmt: skip
        if name == "check":
            return Job(name, lambda: run_check(config, store, now_us()), _every(schedule.check),
                       check_tick)  # fmt: skip
        return Job(name, lambda: send_due(config, store, now_us()), _weekly_due(config),
                   check_tick)  # fmt: skip

    return [job(name) for name in job_names(config)]


def _every(interval_us: int) -> Callable[[int], int]:
    return lambda started_us: started_us + interval_us


def _weekly_due(config: QmonConfig) -> Callable[[int], int]:
    """On time at the configured weekday and hour, and at every check interval in between so
    that a report the SMTP server did not take is retried (`send_due` sends it once)."""
    from apscheduler.triggers.cron import CronTrigger

    weekday, hour, minute = config.schedule.weekly_report
    cron = CronTrigger(day_of_week=weekday, hour=hour, minute=minute, timezone=config.timezone)

    def next_due(started_us: int) -> int:
        moment = from_us(started_us).astimezone(config.timezone)
        on_time = to_us(cron.get_next_fire_time(None, moment))
        return min(on_time, started_us + config.schedule.check)

    return next_due


def agent_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_claimed(store: Store, job: Job, agent: str) -> tuple[bool, Any]:
    """Run `job` if it is due and no other agent is running it; returns (ran, result).

    The job's row must exist (`add_jobs`). Raises what the job raised, or `JobIncomplete` for
    a job that ran but left work undone, after recording it (`agent_jobs.error`) and moving
    the job's due time on."""
    with store.engine.connect() as conn:
        postgres = store.dialect == "postgresql"
        if postgres:
            for statement in _KEEPALIVES:
                conn.execute(text(statement))
        lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
        due = conn.execute(
            text(f"SELECT due_us FROM agent_jobs WHERE name = :n{lock}"), {"n": job.name}
        ).scalar_one_or_none()
        started = now_us()
        if due is None or due > started:  # running elsewhere, or not due yet
            conn.rollback()
            return False, None
        if not postgres:  # SQLite has one writer: hold no transaction while the job writes
            conn.rollback()
        error, result = None, None
        try:
            result = job.work()
        except Exception as exc:
            error = exc
        problem = _problem(error, result)
        conn.execute(
            text(
                "UPDATE agent_jobs SET due_us = :due, agent = :a, started_us = :s,"
                " finished_us = :f, error = :e WHERE name = :n"
            ),
            {"due": job.next_due(started), "a": agent, "s": started, "f": now_us(),
             "e": problem, "n": job.name},
        )  # fmt: skip
        conn.commit()
    if error is not None:
        raise error
    if problem is not None:
        raise JobIncomplete(problem, result)
    return True, result


class JobIncomplete(Exception):
    """A job ran to its end but did not get everything done: a source failed to sync, or
    alerts could not be delivered (they stay queued). Logged and counted as a failed run."""

    def __init__(self, problem: str, result: Any) -> None:
        super().__init__(problem)
        self.result = result


def _problem(error: Exception | None, result: Any) -> str | None:
    """What went wrong in a job, in words (never a secret: qmon's errors carry none)."""
    if error is not None:
        return f"{type(error).__name__}: {error}"[:2000]
    failed = [f"{s.source}: {s.error}" for s in getattr(result, "sources", []) if not s.ok]
    failed += list(getattr(result, "failed", []))
    return "; ".join(dict.fromkeys(failed))[:2000] or None  # each problem once


def add_jobs(store: Store, jobs: list[Job]) -> None:
    """Give each job its row in `agent_jobs`, due at once if it is new (an agent starting
    next to others, or after a config change, adds only what is missing)."""
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO agent_jobs (name, due_us) VALUES (:n, 0) ON CONFLICT DO NOTHING"),
            [{"n": job.name} for job in jobs],
        )


@contextmanager
def agent_lock(store: Store) -> Iterator[None]:
    """On SQLite, hold the store's agent lock for the duration, or raise `AgentBusy`. On
    PostgreSQL agents share the store through job claims: nothing to hold."""
    if store.dialect == "postgresql":
        yield
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


def run_agent(
    config: QmonConfig, store: Store, *, stop: threading.Event | None = None,
    on_job: Callable[[str, Any], None] | None = None, metrics: JobObserver | None = None,
) -> None:  # fmt: skip
    """Run until SIGTERM/SIGINT (or `stop` is set). `on_job` sees each job's result;
    `metrics` is told each job's duration and outcome."""
    from apscheduler.schedulers.background import BackgroundScheduler

    stop = stop or threading.Event()
    me = agent_name()

    def tick(job: Job) -> Callable[[], None]:
        def run() -> None:
            started = time.monotonic()
            try:
                ran, result = run_claimed(store, job, me)
            except JobIncomplete as exc:  # it ran; what it could not do, the next run retries
                log.warning("%s incomplete: %s", job.name, exc)
                if metrics:
                    metrics.job_finished(job.name, time.monotonic() - started, False)
                if on_job:
                    on_job(job.name, exc.result)
                return
            except QmonError as exc:  # said in words (an SMTP refusal...): one line will do
                log.warning("%s failed: %s", job.name, exc)
                if metrics:
                    metrics.job_finished(job.name, time.monotonic() - started, False)
                return
            except Exception:  # a failed job is logged; its next run tries again
                log.exception("%s failed", job.name)
                if metrics:
                    metrics.job_finished(job.name, time.monotonic() - started, False)
                return
            if not ran:
                return
            log.info("%s done", job.name)
            if metrics:
                metrics.job_finished(job.name, time.monotonic() - started, True)
            if on_job:
                on_job(job.name, result)

        return run

    with agent_lock(store):
        scheduler = BackgroundScheduler(timezone=config.timezone)
        first = datetime.now(config.timezone)
        jobs = agent_jobs(config, store)
        add_jobs(store, jobs)
        for job in jobs:
            scheduler.add_job(tick(job), "interval", seconds=job.tick_s, next_run_time=first,
                              id=job.name, coalesce=True, max_instances=1,
                              misfire_grace_time=None)  # fmt: skip
        for sig in (signal.SIGTERM, signal.SIGINT):
            if threading.current_thread() is threading.main_thread():
                signal.signal(sig, lambda *_: stop.set())
        scheduler.start()
        log.info("qmon agent %s started", me)
        try:
            stop.wait()
        finally:
            scheduler.shutdown(wait=True)
            log.info("qmon agent %s stopped", me)
