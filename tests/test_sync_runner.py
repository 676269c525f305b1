"""The CRM-independent half of a sync: records replacing their events, cursors, resume.

The connector here is an in-memory CRM (a list of records with modification stamps) that
pages like a real one; the CRM-specific halves are tested against their fake servers, and the
shared conformance suite runs all of them through `qmon sync`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qmon.config import load_config
from qmon.connectors.base import (
    ApiUsage,
    Page,
    RecordChange,
    SourceLimitReached,
    SourceUnreachable,
)
from qmon.connectors.registry import SourceConfig
from qmon.events import Event
from qmon.store import Store
from qmon.sync import DEFAULT_LOOKBACK_US, run_sync

S = 1_000_000  # one second in microseconds


def ev(record: str, what: str, t: int, type_: str = "case.opened", **kw) -> Event:
    return Event(
        source="crm",
        id=f"{record}/{what}",
        occurred_us=t,
        type=type_,
        subject_type="case",
        subject_id=record.split("/")[-1],
        record=record,
        **kw,
    )


# --- Store.apply_page ---------------------------------------------------------------------------


def test_records_replace_their_events_as_a_set(database_url):
    store = Store.open(database_url)
    first = [
        RecordChange("Case/1", [ev("Case/1", "opened", 10), ev("Case/1", "closed", 20)]),
        RecordChange("Case/2", [ev("Case/2", "opened", 30)]),
    ]
    counts = store.apply_page("crm", "Case", first, 100)
    assert (counts.new, counts.updated, counts.deleted, counts.unchanged) == (2, 0, 0, 0)
    assert store.cursor("crm", "Case") == 100

    # Case/1 re-opened: its close event goes; Case/2 read again unchanged; Case/3 deleted
    # before qmon ever saw it.
    second = [
        RecordChange("Case/1", [ev("Case/1", "opened", 10)]),
        RecordChange("Case/2", [ev("Case/2", "opened", 30)]),
        RecordChange("Case/3", deleted=True),
    ]
    counts = store.apply_page("crm", "Case", second, None)
    assert (counts.new, counts.updated, counts.deleted, counts.unchanged) == (0, 1, 0, 2)
    assert store.cursor("crm", "Case") == 100  # None keeps the cursor
    assert store.record_events("crm") == {"Case/1": ["Case/1/opened"], "Case/2": ["Case/2/opened"]}

    counts = store.apply_page("crm", "Case", [RecordChange("Case/2", deleted=True)], 200)
    assert (counts.deleted, store.cursor("crm", "Case")) == (1, 200)
    assert store.record_events("crm") == {"Case/1": ["Case/1/opened"]}
    assert store.count_events() == 1


def test_an_attribute_change_is_an_update(database_url):
    store = Store.open(database_url)
    store.apply_page("crm", "Case", [RecordChange("Case/1", [ev("Case/1", "o", 1, owner="a")])], 5)
    counts = store.apply_page(
        "crm", "Case", [RecordChange("Case/1", [ev("Case/1", "o", 1, owner="b")])], 6
    )
    assert counts.updated == 1
    rows = list(store.role_events(["case.opened"], 10))
    assert rows[0][4] == "b"


def test_a_record_twice_in_a_page_keeps_the_later_read(database_url):
    store = Store.open(database_url)
    page = [
        RecordChange("Case/1", [ev("Case/1", "opened", 1)]),
        RecordChange("Case/1", [ev("Case/1", "opened", 2)]),
    ]
    assert store.apply_page("crm", "Case", page, 1).new == 1
    assert [r[2] for r in store.role_events(["case.opened"], 10)] == [2]


# --- run_sync -----------------------------------------------------------------------------------


@dataclass
class MemoryCrm:
    """Records with modification stamps, served oldest first in pages of `page_size`."""

    records: dict[str, tuple[int, list[tuple[str, int]] | None]] = field(default_factory=dict)
    page_size: int = 2
    reads: list[int | None] = field(default_factory=list)
    fail_after_pages: int | None = None
    error: type[Exception] = SourceUnreachable

    def put(self, record: str, modified: int, events: list[tuple[str, int]] | None) -> None:
        """`events` None marks the record deleted."""
        self.records[record] = (modified, events)


class MemoryStream:
    name = "Case"

    def __init__(self, crm: MemoryCrm) -> None:
        self.crm = crm

    def read(self, since_us: int | None) -> Iterator[Page]:
        self.crm.reads.append(since_us)
        rows = sorted(
            (m, key, evs)
            for key, (m, evs) in self.crm.records.items()
            if since_us is None or m >= since_us
        )
        for n, start in enumerate(range(0, len(rows), self.crm.page_size)):
            if self.crm.fail_after_pages is not None and n >= self.crm.fail_after_pages:
                raise self.crm.error("the CRM went away")
            part = rows[start : start + self.crm.page_size]
            changes = [
                RecordChange(key, deleted=True)
                if evs is None
                else RecordChange(key, [ev(key, what, t) for what, t in evs])
                for _, key, evs in part
            ]
            yield Page(changes, high_water_us=part[-1][0])


class MemoryConnector:
    source = "crm"

    def __init__(self, crm: MemoryCrm) -> None:
        self.crm = crm
        self.closed = False

    def streams(self):
        return [MemoryStream(self.crm)]

    def usage(self) -> ApiUsage:
        return ApiUsage(calls=len(self.crm.reads))

    def check(self):
        return []

    def close(self) -> None:
        self.closed = True


class MemorySource(SourceConfig):
    def connect(self):  # type: ignore[override]
        return MemoryConnector(self.spec)


def make_config(tmp_path: Path, database_url: str, crm: MemoryCrm):
    path = tmp_path / "qmon.yaml"
    path.write_text(f"version: 1\ndatabase: {database_url}\n")
    config = load_config(path)
    config.sources["crm"] = MemorySource("crm", "memory", crm, None)
    return config


@pytest.fixture
def crm() -> MemoryCrm:
    crm = MemoryCrm()
    for i in range(5):
        crm.put(f"Case/{i}", 100 * S + i * S, [("opened", i)])
    return crm


def test_sync_pages_commit_with_the_cursor_and_resume_after_a_failure(tmp_path, database_url, crm):
    config = make_config(tmp_path, database_url, crm)
    store = Store.open(config.database_url)
    crm.fail_after_pages = 2  # two pages land, then the CRM fails
    report = run_sync(config, store, clock=lambda: 1000 * S)
    assert not report.ok and isinstance(report.sources[0].error, SourceUnreachable)
    assert report.sources[0].streams[0].fetched == 4
    assert len(store.record_events("crm")) == 4
    assert store.cursor("crm", "Case") == 103 * S  # the last committed page's high water

    crm.fail_after_pages = None
    report = run_sync(config, store, clock=lambda: 1000 * S)
    assert report.ok
    assert crm.reads[-1] == 103 * S - DEFAULT_LOOKBACK_US
    assert sorted(store.record_events("crm")) == [f"Case/{i}" for i in range(5)]
    assert store.count_events() == 5
    total = report.sources[0].total()
    assert (total.counts.new, total.counts.unchanged) == (1, 4)  # re-read, not doubled


def test_cursor_never_passes_the_start_of_the_sync(tmp_path, database_url, crm):
    config = make_config(tmp_path, database_url, crm)
    store = Store.open(config.database_url)
    crm.put("Case/late", 5000 * S, [("opened", 9)])  # stamped after the sync began
    run_sync(config, store, clock=lambda: 1000 * S)
    assert store.cursor("crm", "Case") == 1000 * S
    [state] = store.sync_state("crm")
    assert (state.stream, state.synced_us) == ("Case", 1000 * S)


def test_deletes_remove_events_and_full_rereads_everything(tmp_path, database_url, crm):
    config = make_config(tmp_path, database_url, crm)
    store = Store.open(config.database_url)
    run_sync(config, store, clock=lambda: 1000 * S)
    crm.put("Case/2", 900 * S, None)
    report = run_sync(config, store, clock=lambda: 1000 * S)
    assert report.sources[0].total().counts.deleted == 1
    assert "Case/2" not in store.record_events("crm")
    run_sync(config, store, full=True, clock=lambda: 1000 * S)
    assert crm.reads[-1] is None
    assert store.count_events() == 4


def test_since_after_the_cursor_leaves_the_cursor_alone(tmp_path, database_url, crm):
    config = make_config(tmp_path, database_url, crm)
    store = Store.open(config.database_url)
    crm.fail_after_pages = 1
    run_sync(config, store, clock=lambda: 1000 * S)
    assert store.cursor("crm", "Case") == 101 * S
    crm.fail_after_pages = None
    run_sync(config, store, since_us=104 * S, clock=lambda: 1000 * S)
    assert store.cursor("crm", "Case") == 101 * S  # records 102, 103 were not read yet
    run_sync(config, store, clock=lambda: 1000 * S)
    assert store.count_events() == 5 and store.cursor("crm", "Case") == 104 * S


def test_a_limit_stop_is_reported_as_such(tmp_path, database_url, crm):
    config = make_config(tmp_path, database_url, crm)
    store = Store.open(config.database_url)
    crm.fail_after_pages, crm.error = 1, SourceLimitReached
    report = run_sync(config, store, clock=lambda: 1000 * S)
    assert report.sources[0].quota_stop and not report.ok
    assert report.sources[0].streams[0].complete is False
