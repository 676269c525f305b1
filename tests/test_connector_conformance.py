"""One behaviour suite that every CRM connector passes (see `tests/conformance.py`).

Each test runs against the real client library and a fake CRM server on 127.0.0.1, through
`run_sync` or the `qmon sync` command, and checks the store: every live record's events are
there once, deleted records have none, cursors move, failures are retried or leave a state
that the next sync completes without loss or duplicates -- also after a SIGKILL.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from qmon.config import load_config
from qmon.store import Store
from qmon.sync import run_sync
from tests.clihelp import qmon
from tests.conformance import SourceHarness

HARNESSES = {
    "salesforce": "tests.harness_salesforce:SalesforceHarness",
    "hubspot": "tests.harness_hubspot:HubSpotHarness",
}
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=list(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[SourceHarness]:
    module, _, name = HARNESSES[request.param].partition(":")
    with getattr(importlib.import_module(module), name)() as h:
        yield h


def write_config(tmp_path: Path, harness: SourceHarness, database_url: str | None = None) -> Path:
    path = tmp_path / "qmon.yaml"
    data = {
        "version": 1,
        "database": database_url or f"sqlite:///{tmp_path / 'qmon.db'}",
        "sources": {harness.source: harness.source_config()},
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sync(path: Path, **kwargs):
    config = load_config(path)
    store = Store.open(config.database_url)
    try:
        report = run_sync(config, store, **kwargs)
        return report, store.record_events(next(iter(config.sources)))
    finally:
        store.close()


def assert_consistent(stored: dict[str, list[str]], harness: SourceHarness) -> None:
    """Every live record's events are stored, under ids derived from the record, and nothing
    else (no deleted record, no duplicate)."""
    assert set(stored) == harness.live_records()
    for record, event_ids in stored.items():
        assert event_ids, record
        assert len(event_ids) == len(set(event_ids))
        assert all(event_id.startswith(record + "/") for event_id in event_ids)


def test_full_sync_pages_through_everything(tmp_path, harness, database_url):
    harness.create(11, at=T0)  # more than a few pages at the harness's small page size
    harness.create(4, at=T0 + timedelta(minutes=5))
    path = write_config(tmp_path, harness, database_url)
    result = qmon("--config", path, "sync")
    assert result.exit_code == 0, result.output
    assert harness.source in result.stdout
    config = load_config(path)
    store = Store.open(config.database_url)
    assert_consistent(store.record_events(harness.source), harness)
    for stream in store.sync_state(harness.source):
        assert stream.synced_us is not None
    store.close()


def test_an_incremental_sync_reads_only_changes(tmp_path, harness):
    harness.create(6, at=T0 - timedelta(hours=1))
    records = harness.create(3, at=T0)
    path = write_config(tmp_path, harness)
    report, stored = sync(path)
    assert report.ok and report.sources[0].total().counts.new == 9
    report, _ = sync(path)
    total = report.sources[0].total()
    assert report.ok and (total.counts.new, total.counts.updated, total.counts.deleted) == (0, 0, 0)
    # Only the records within the lookback before the cursor are read again.
    assert total.fetched == 3

    harness.change(records[0], at=datetime.now(UTC) - timedelta(seconds=1))
    report, stored = sync(path)
    total = report.sources[0].total()
    assert report.ok and total.counts.updated == 1 and total.counts.new == 0
    assert_consistent(stored, harness)


def test_deleted_records_lose_their_events(tmp_path, harness):
    records = harness.create(5, at=T0)
    path = write_config(tmp_path, harness)
    sync(path)
    harness.delete(records[1], at=datetime.now(UTC) - timedelta(seconds=1))
    report, stored = sync(path)
    assert report.ok and report.sources[0].total().counts.deleted == 1
    assert records[1] not in stored
    assert_consistent(stored, harness)


def test_transient_server_errors_are_retried(tmp_path, harness):
    harness.create(4, at=T0)
    path = write_config(tmp_path, harness)
    harness.fail_next(2, 503)
    report, stored = sync(path)
    assert report.ok, report.sources[0].error
    assert_consistent(stored, harness)


def test_a_sync_that_fails_midway_resumes_without_loss_or_duplicates(tmp_path, harness):
    harness.create(9, at=T0)
    harness.create(9, at=T0 + timedelta(minutes=1))
    path = write_config(tmp_path, harness)

    class FailAfterFirstPage:
        pages = 0

        def stream_started(self, source, stream):
            pass

        def page_stored(self, source, stream, records):
            self.pages += 1
            if self.pages == 1:
                harness.fail_next(100, 500)  # outlasts every retry

        def stream_finished(self, source, stream):
            pass

    report, stored = sync(path, progress=FailAfterFirstPage())
    assert not report.ok
    assert 0 < len(stored) < len(harness.live_records())
    harness.clear_faults()  # the CRM is back
    report, stored = sync(path)
    assert report.ok, report.sources[0].error
    assert_consistent(stored, harness)


def test_a_killed_sync_resumes_without_loss_or_duplicates(tmp_path, harness):
    harness.create(40, at=T0)
    harness.create(40, at=T0 + timedelta(minutes=1))
    path = write_config(tmp_path, harness)
    db = Path(load_config(path).database_url.removeprefix("sqlite:///"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QMON_CONFIG": str(path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qmon", "sync"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if _stored_events(db) > 0:
            break
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    report, stored = sync(path)
    assert report.ok, report.sources[0].error
    assert_consistent(stored, harness)


@pytest.mark.parametrize("fault", ["repeat_cursor", "stall_paging"])
def test_a_server_that_pages_in_a_loop_stops_the_stream_with_exit_3(tmp_path, harness, fault):
    records = harness.create(11, at=T0)
    harness.create(4, at=T0 + timedelta(minutes=5))
    path = write_config(tmp_path, harness)
    assert qmon("--config", path, "sync").exit_code == 0
    _, before = sync(path)
    harness.delete(records[0], at=datetime.now(UTC) - timedelta(seconds=2))
    harness.change(records[1], at=datetime.now(UTC) - timedelta(seconds=2))
    getattr(harness, fault)()
    calls, began = harness.request_count(), time.monotonic()

    result = qmon("--config", path, "sync")

    assert time.monotonic() - began < 5
    assert harness.request_count() - calls <= 12  # a few pages, not the fake's 50 loops
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith(harness.source)]
    assert len(lines) == 1, result.stderr
    loop = re.fullmatch(
        rf"{harness.source}: (HubSpot|Salesforce) (\w+): .+ ("
        r"gave the next-page cursor '.+' a second time|"
        r"answered an empty page that still offers the next-page cursor '.+'|"
        r"did not advance: the next page would start at '.+', not past '.+'"
        r"); the stream stopped rather than page forever \(what was stored is kept and the "
        r"next sync resumes from there\)",
        lines[0],
    )
    assert loop is not None, lines[0]
    assert f"{loop.group(2)} (stopped)" in result.stdout
    secrets = [v for k, v in _flat(harness.source_config()) if "token" in k or "secret" in k]
    assert secrets and not any(secret in result.output for secret in secrets)

    harness.clear_faults()  # the CRM pages correctly again: nothing was skipped
    report, stored = sync(path)
    assert report.ok, report.sources[0].error
    assert_consistent(stored, harness)
    assert stored[records[1]] != before[records[1]]  # the change before the loop is read


def _flat(config: dict, prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def _stored_events(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            return con.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        return 0


# --- The file connector, where the suite applies: re-reading is harmless, a killed import
# leaves nothing half-done, and running it again completes it.


def test_file_import_is_idempotent_and_a_killed_import_leaves_nothing_half_done(tmp_path):
    rows = [
        f"e-{n},2026-11-{1 + n % 28:02d}T09:{n % 60:02d}:00Z,quote.requested,deal,D-{n}"
        for n in range(150_000)
    ]
    data = tmp_path / "events.csv"
    data.write_text("id,occurred_at,type,subject_type,subject_id\n" + "\n".join(rows) + "\n")
    path = tmp_path / "qmon.yaml"
    path.write_text(f"version: 1\ndatabase: sqlite:///{tmp_path / 'qmon.db'}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QMON_CONFIG": str(path)}
    proc = subprocess.Popen([sys.executable, "-m", "qmon", "import", str(data)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1.0)  # somewhere in the middle of reading and writing
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _stored_events(tmp_path / "qmon.db") in (0, 150_000)  # all or nothing
    for _ in range(2):
        result = qmon("--config", path, "import", data)
        assert result.exit_code == 0, result.output
    assert "0 inserted, 0 updated, 150,000 unchanged" in result.stdout
    assert _stored_events(tmp_path / "qmon.db") == 150_000
