"""Syncing CRM sources into the store: the part that is the same for every CRM.

For each stream of each source: read from the stored cursor minus a lookback, store every page
together with the new cursor in one transaction, and mark the stream synced when it ends.
Because a page and its cursor commit together, a sync killed at any moment resumes after its
last committed page: nothing lost, and what is read twice is replaced, not doubled.

Rules for the cursor (the high-water mark of the CRM's modification stamps):
- it never moves past the start of the sync that read it (`min(page high water, started)`),
  so records modified while the sync ran are read again next time;
- the next sync reads from `cursor - lookback`: records that share the last stamp, or that
  the CRM made visible late, are read again rather than missed;
- `--since DATE` later than the cursor leaves the cursor alone (records between them were not
  read); `--full` reads everything and sets the cursor as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from qmon.config import QmonConfig
from qmon.connectors.base import ApiUsage, SourceLimitReached, SyncError
from qmon.errors import InputError, Problem
from qmon.store import Store
from qmon.store.store import RecordCounts
from qmon.timeutil import now_us

DEFAULT_LOOKBACK_US = 10 * 60 * 1_000_000
"""How far before the cursor a sync starts reading again, unless a source sets `lookback`."""


@dataclass
class StreamReport:
    """What one stream's sync did, counted in CRM records."""

    stream: str
    fetched: int = 0
    counts: RecordCounts = field(default_factory=RecordCounts)
    complete: bool = False


@dataclass
class SourceReport:
    """One source's sync: its streams, API usage and the error that stopped it, if any."""

    source: str
    streams: list[StreamReport] = field(default_factory=list)
    usage: ApiUsage = field(default_factory=ApiUsage)
    error: SyncError | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def quota_stop(self) -> bool:
        """Stopped because the API limit (or this sync's share of it) was reached."""
        return isinstance(self.error, SourceLimitReached)

    def total(self) -> StreamReport:
        """All streams added up."""
        total = StreamReport("all")
        for report in self.streams:
            total.fetched += report.fetched
            total.counts.add(report.counts)
        total.complete = all(r.complete for r in self.streams)
        return total


@dataclass
class SyncReport:
    sources: list[SourceReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources)


class SyncProgress(Protocol):
    """What a sync tells its onlooker (the CLI's progress bars) as it goes."""

    def stream_started(self, source: str, stream: str) -> None: ...

    def page_stored(self, source: str, stream: str, records: int) -> None: ...

    def stream_finished(self, source: str, stream: str) -> None: ...


def run_sync(
    config: QmonConfig,
    store: Store,
    *,
    sources: Sequence[str] | None = None,
    full: bool = False,
    since_us: int | None = None,
    progress: SyncProgress | None = None,
    clock: Callable[[], int] = now_us,
) -> SyncReport:
    """Sync the named sources (default: all configured), one after the other.

    A source that fails is reported and the others still run; nothing is half-applied
    (pages are atomic) and a failed source's cursors stay at its last committed page.

    Raises:
        InputError: a named source is not configured (nothing was synced).
    """
    names = list(sources) if sources else list(config.sources)
    unknown = [name for name in names if name not in config.sources]
    if unknown:
        known = ", ".join(config.sources) or "none are configured"
        raise InputError(
            [
                Problem(str(config.path), None, f"unknown source '{n}' (sources: {known})")
                for n in unknown
            ]
        )
    report = SyncReport()
    for name in names:
        report.sources.append(_sync_source(config, store, name, full, since_us, progress, clock))
    return report


def _sync_source(
    config: QmonConfig,
    store: Store,
    name: str,
    full: bool,
    since_us: int | None,
    progress: SyncProgress | None,
    clock: Callable[[], int],
) -> SourceReport:
    source = config.sources[name]
    lookback = getattr(source.spec, "lookback", None)
    lookback_us = DEFAULT_LOOKBACK_US if lookback is None else lookback
    report = SourceReport(name)
    began = time.perf_counter()
    try:
        connector = source.connect()
    except SyncError as exc:
        report.error = exc
        return report
    try:
        for stream in connector.streams():
            stream_report = StreamReport(stream.name)
            report.streams.append(stream_report)
            if progress:
                progress.stream_started(name, stream.name)
            started = clock()
            cursor = store.cursor(name, stream.name)
            read_from, moves_cursor = _read_from(cursor, full, since_us, lookback_us)
            for page in stream.read(read_from):
                position = None
                if moves_cursor and page.high_water_us is not None:
                    position = min(page.high_water_us, started)
                counts = store.apply_page(name, stream.name, page.changes, position)
                stream_report.fetched += len(page.changes)
                stream_report.counts.add(counts)
                if progress:
                    progress.page_stored(name, stream.name, len(page.changes))
            store.mark_synced(name, stream.name, clock())
            stream_report.complete = True
            if progress:
                progress.stream_finished(name, stream.name)
    except SyncError as exc:
        report.error = exc
    finally:
        report.usage = connector.usage()
        connector.close()
        report.seconds = time.perf_counter() - began
    return report


def _read_from(
    cursor: int | None, full: bool, since_us: int | None, lookback_us: int
) -> tuple[int | None, bool]:
    """Where a stream starts reading, and whether its pages may move the cursor."""
    if since_us is not None:
        # Reading from a later date than the cursor leaves a gap: keep the cursor before it.
        return since_us, cursor is None or since_us <= cursor
    if full or cursor is None:
        return None, True
    return cursor - lookback_us, True
