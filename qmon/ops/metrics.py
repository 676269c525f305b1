"""Prometheus metrics of `qmon run --metrics-port PORT`, served at `/metrics`.

Two kinds, in one registry:

- **What this agent did**, counted in the process: each job's runs, failures and duration
  (`qmon_job_*`), fed by the agent through `job_finished` (`qmon.agent.JobObserver`).
- **What the store says**, read at scrape time by `StoreCollector` with the functions of
  `qmon status` (`qmon.reports.status.collect`): sync and check lag, the alert outbox, alerts
  sent, promises not evaluated, each job's last outcome. Every agent on a database therefore
  reports the same values, and they survive restarts. The store is read at most once per
  `max_age` seconds however many scrapers ask, and again as soon as a job of this agent ends.
  A scrape never fails because of the store: when it cannot be read, `qmon_store_up` is 0,
  the store's metrics are left out and a warning is logged (once, until it can be read again).

docs/operations.md lists every metric with its labels.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import text

from qmon import __version__
from qmon.alerts.sources import is_stale
from qmon.config import QmonConfig
from qmon.ops.logs import redact
from qmon.reports.status import collect
from qmon.store import Store
from qmon.timeutil import now_us

log = logging.getLogger(__name__)

#: Job durations: from a check on a small store to a first full sync.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
DEFAULT_MAX_AGE_S = 10.0

_DEPTH_SQL = text(
    "SELECT"
    " coalesce(sum(CASE WHEN status = 'pending' OR update_pending THEN 1 ELSE 0 END), 0),"
    " coalesce(sum(CASE WHEN webhook_pending THEN 1 ELSE 0 END), 0)"
    " FROM alerts"
)
_SENT_SQL = text(
    "SELECT kind, count(*) FILTER (WHERE status = 'sent'),"
    " count(*) FILTER (WHERE webhook_sent_us IS NOT NULL) FROM alerts GROUP BY kind"
)


def _lag(now: int, at_us: int | None) -> float:
    return math.inf if at_us is None else max(0.0, (now - at_us) / 1e6)


class StoreCollector:
    """The store's metrics, read when scraped (a prometheus_client custom collector)."""

    def __init__(self, config: QmonConfig, store: Store, max_age: float = DEFAULT_MAX_AGE_S):
        self.config, self.store, self.max_age = config, store, max_age
        self._lock = threading.Lock()
        self._read_at: float | None = None  # monotonic, of the cached read
        self._cached: list[Metric] = []
        self._up = True  # whether the last read worked: a failure is logged when it starts
        self._seconds = 0.0  # how long the last read took

    def invalidate(self) -> None:
        """Read the store again at the next scrape (a job just changed it)."""
        self._read_at = None

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            fresh = self._read_at is not None and time.monotonic() - self._read_at < self.max_age
            if not fresh:
                started = time.monotonic()
                try:
                    self._cached = list(self._read())
                    self._read_at = time.monotonic()
                    if not self._up:
                        log.warning("metrics: the store can be read again")
                    self._up = True
                except Exception as exc:  # a scrape must never fail, nor stop the agent
                    self._cached, self._read_at = [], None
                    if self._up:
                        log.warning("metrics: cannot read the store: %s", _reason(exc))
                    self._up = False
                self._seconds = time.monotonic() - started
        yield _gauge("qmon_store_up", "1 if the store could be read for these metrics, else 0.",
                     1 if self._up else 0)  # fmt: skip
        yield _gauge("qmon_store_read_seconds",
                     "How long the last read of the store for these metrics took.",
                     self._seconds)  # fmt: skip
        yield from self._cached

    def _read(self) -> Iterable[Metric]:
        now = now_us()
        status = collect(self.config, self.store, now)
        with self.store.engine.connect() as conn:
            slack_depth, webhook_depth = conn.execute(_DEPTH_SQL).one()
            sent = {kind: (slack, hook) for kind, slack, hook in conn.execute(_SENT_SQL)}

        lag = GaugeMetricFamily("qmon_sync_lag_seconds",
                                "Seconds since every stream of the source last completed a sync"
                                " (+Inf: never).", labels=["source"])  # fmt: skip
        stale = GaugeMetricFamily("qmon_source_stale",
                                  "1 if the source is stale by qmon's rule (no complete sync in"
                                  " three sync intervals), else 0.", labels=["source"])  # fmt: skip
        for name, last in status.sources.items():
            lag.add_metric([name], _lag(now, last))
            stale.add_metric([name], 1 if is_stale(self.config, last, now) else 0)
        yield lag
        yield stale
        yield _gauge("qmon_check_lag_seconds",
                     "Seconds since a check (of any agent on the store) last ran (+Inf: never).",
                     _lag(now, status.last_check_us))  # fmt: skip

        failed = GaugeMetricFamily("qmon_job_last_failed",
                                   "1 if the job's last run, by any agent on the store, failed.",
                                   labels=["job"])  # fmt: skip
        overdue = GaugeMetricFamily("qmon_job_overdue_seconds",
                                    "Seconds the job is past its due time (0: not due yet);"
                                    " grows while it runs or while no agent takes it.",
                                    labels=["job"])  # fmt: skip
        for job in status.jobs:  # qmon status read `agent_jobs`
            failed.add_metric([job["name"]], 0 if job["error"] is None else 1)
            if job["finished_us"] is not None:  # before its first run a job is due since "ever"
                overdue.add_metric([job["name"]], max(0.0, (now - job["due_us"]) / 1e6))
        yield failed
        yield overdue

        yield _gauge("qmon_outbox_alerts_waiting",
                     "Alerts with a delivery still to make (as `qmon status`).",
                     status.alerts_waiting)  # fmt: skip
        depth = GaugeMetricFamily("qmon_outbox_depth",
                                  "Deliveries waiting in the alert outbox, per channel (Slack:"
                                  " posts and in-place updates).", labels=["channel"])  # fmt: skip
        depth.add_metric(["slack"], int(slack_depth))
        depth.add_metric(["webhook"], int(webhook_depth))
        yield depth
        oldest = status.oldest_waiting_us
        yield _gauge("qmon_outbox_oldest_age_seconds",
                     "Seconds since the oldest waiting alert was detected (0: none waits).",
                     0.0 if oldest is None else _lag(now, oldest))  # fmt: skip
        sent_family = CounterMetricFamily("qmon_alerts_sent",
                                          "Alerts delivered, per channel, from the alert ledger.",
                                          labels=["channel", "kind"])  # fmt: skip
        for kind in sorted(set(sent) | {"breached", "at_risk"}):
            slack_sent, hook_sent = sent.get(kind, (0, 0))
            sent_family.add_metric(["slack", kind], int(slack_sent))
            sent_family.add_metric(["webhook", kind], int(hook_sent))
        yield sent_family

        stale_ones = set(status.stale_promises)
        missing = set(status.not_evaluated)
        count = GaugeMetricFamily("qmon_promises_not_evaluated",
                                  "Promises not evaluated: with no kept or broken instance"
                                  " (no_data), or fed only by stale sources (stale_source).",
                                  labels=["reason"])  # fmt: skip
        count.add_metric(["no_data"], len(missing - stale_ones))
        count.add_metric(["stale_source"], len(missing & stale_ones))
        yield count
        per_promise = GaugeMetricFamily("qmon_promise_not_evaluated",
                                        "1 if the promise is not evaluated (no data, or stale"
                                        " sources only), else 0.",
                                        labels=["promise", "phase"])  # fmt: skip
        for promise in self.config.promises:
            per_promise.add_metric([promise.id, promise.phase], 1 if promise.id in missing else 0)
        yield per_promise


class AgentMetrics:
    """The agent's registry: its own job counters and histograms, the store's collector and
    the process's (CPU, memory, open files, GC). It is the agent's `JobObserver`."""

    def __init__(
        self, config: QmonConfig, store: Store, *, max_age: float = DEFAULT_MAX_AGE_S,
        jobs: Iterable[str] = (),
    ) -> None:  # fmt: skip
        disable_created_metrics()  # no `_created` series beside each counter: only noise here
        self.registry = CollectorRegistry()
        self.runs = Counter("qmon_job_runs", "Agent job runs that ended (ok or failed).",
                            ["job"], registry=self.registry)  # fmt: skip
        self.failures = Counter("qmon_job_failures", "Agent job runs that failed.",
                                ["job"], registry=self.registry)  # fmt: skip
        self.duration = Histogram("qmon_job_duration_seconds",
                                  "How long agent job runs took (check: detect and deliver).",
                                  ["job"], buckets=DURATION_BUCKETS,
                                  registry=self.registry)  # fmt: skip
        for job in jobs:  # zero from the start, so that rate() and increase() see the first
            self.runs.labels(job)
            self.failures.labels(job)
            self.duration.labels(job)
        Info("qmon_build", "qmon's version.", registry=self.registry).info({"version": __version__})
        self.store_collector = StoreCollector(config, store, max_age)
        self.registry.register(self.store_collector)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def job_finished(self, name: str, seconds: float, ok: bool) -> None:
        self.runs.labels(name).inc()
        if not ok:
            self.failures.labels(name).inc()
        self.duration.labels(name).observe(seconds)
        self.store_collector.invalidate()

    def serve(self, host: str, port: int) -> Any:
        """Serve `/metrics` on host:port from a daemon thread; returns the server (`shutdown()`
        and `server_close()` it). Raises OSError when the port cannot be had."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _reason(exc: BaseException) -> str:
    """The error in one line, without SQL or a password."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return redact(f"{type(cause).__name__}: {first}" if first else type(cause).__name__)
