"""`qmon purge --before DATE`: old events and their alerts go, nothing else; what a later
import brings back from before the date is not stored again. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from qmon.store import Store
from tests.clihelp import qmon

EVENTS = """id,occurred_at,type,subject_type,subject_id
a1,2025-12-31T22:59:59Z,quote.requested,deal,D1
a2,2026-01-01T09:00:00+01:00,quote.sent,deal,D1
b1,2026-01-01T00:00:00+01:00,quote.requested,deal,D2
b2,2026-01-05T00:00:00+01:00,quote.sent,deal,D2
"""


def _setup(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "qmon.yaml"
    config.write_text(
        f"""version: 1
database: {database_url}
timezone: Europe/Amsterdam
promises:
  - {{id: quote-24h, phase: sales, start: quote.requested, stop: quote.sent, within: 24h}}
"""
    )
    (tmp_path / "events.csv").write_text(EVENTS)
    assert qmon("--config", config, "import", tmp_path / "events.csv").exit_code == 0
    store = Store.open(database_url)
    with store.engine.begin() as conn:
        for subject, started in (("D1", 1767221999000000), ("D2", 1767222000000000)):
            conn.execute(
                text(
                    "INSERT INTO alerts (promise_id, subject_type, subject_id, started_us, kind,"
                    " detected_us, route, text, blocks, status, attempts, next_try_us,"
                    " update_pending, webhook_pending, webhook_attempts, webhook_next_try_us)"
                    " VALUES ('quote-24h', 'deal', :i, :s, 'breached', :s, '', 't', '[]',"
                    " 'sent', 0, 0, false, false, 0, 0)"
                ),
                {"i": subject, "s": started},
            )
    store.close()
    return config


def _ids(database_url: str) -> tuple[list[str], list[str]]:
    store = Store.open(database_url)
    with store.engine.connect() as conn:
        events = conn.execute(text("SELECT event_id FROM events ORDER BY event_id")).scalars()
        alerts = conn.execute(text("SELECT subject_id FROM alerts ORDER BY subject_id")).scalars()
        found = list(events), list(alerts)
    store.close()
    return found


def test_purge_removes_old_events_and_alerts_at_local_midnight(tmp_path, database_url):
    config = _setup(tmp_path, database_url)
    shown = qmon("--config", config, "purge", "--before", "2026-01-01")
    assert shown.exit_code == 0
    assert "would remove 1 events" in shown.stdout and "1 alerts" in shown.stdout
    assert _ids(database_url) == (["a1", "a2", "b1", "b2"], ["D1", "D2"])  # nothing yet

    done = qmon("--config", config, "purge", "--before", "2026-01-01", "--yes")
    assert done.exit_code == 0, done.output
    assert "removed 1 events before 2026-01-01 (2025-12-31T23:00:00Z)" in done.stdout
    # Midnight in Amsterdam is 23:00 UTC: a1 (22:59:59Z) goes, b1 (23:00:00Z) stays.
    assert _ids(database_url) == (["a2", "b1", "b2"], ["D2"])
    audit = json.loads(qmon("--config", config, "audit", "--format", "json").stdout)
    assert audit["promises"][0]["met"] == 0 and audit["promises"][0]["breached"] == 1

    again = qmon("--config", config, "import", tmp_path / "events.csv")
    assert again.exit_code == 0
    assert "1 older than the purge date (not stored)" in again.stdout
    assert _ids(database_url)[0] == ["a2", "b1", "b2"]


def test_purge_needs_a_date(tmp_path, database_url):
    config = _setup(tmp_path, database_url)
    bad = qmon("--config", config, "purge", "--before", "last year", "--yes")
    assert bad.exit_code == 2 and "not a date (YYYY-MM-DD)" in bad.output


def test_a_full_sync_does_not_bring_purged_events_back(tmp_path, database_url):
    from qmon.connectors.base import RecordChange
    from qmon.events import Event

    config = _setup(tmp_path, database_url)
    assert qmon("--config", config, "purge", "--before", "2026-01-01", "--yes").exit_code == 0
    store = Store.open(database_url)
    old = Event("crm", "x1", 1767000000000000, "quote.requested", "deal", "D9", record="deals/9")
    new = Event("crm", "x2", 1767300000000000, "quote.sent", "deal", "D9", record="deals/9")
    counts = store.apply_page("crm", "deals", [RecordChange("deals/9", [old, new])], None)
    assert counts.new == 1
    assert store.record_events("crm") == {"deals/9": ["x2"]}
    store.close()


def test_purge_keeps_alerts_about_sources(tmp_path, database_url):
    config = _setup(tmp_path, database_url)
    store = Store.open(database_url)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (promise_id, subject_type, subject_id, started_us, kind,"
                " detected_us, route, text, blocks, status, attempts, next_try_us,"
                " update_pending, webhook_pending, webhook_attempts, webhook_next_try_us)"
                " VALUES ('source:hubspot', 'source', 'hubspot', 0, 'stale', 0, '', 't', '[]',"
                " 'sent', 0, 0, false, false, 0, 0)"
            )
        )
    store.close()
    assert qmon("--config", config, "purge", "--before", "2026-01-01", "--yes").exit_code == 0
    assert _ids(database_url)[1] == ["D2", "hubspot"]


def test_which_sources_have_which_types_follows_writes_and_purges(database_url):
    """`event_sources` (what `stale_promises` reads instead of the events) is noted with
    every kind of write, and rebuilt by a purge."""
    from qmon.connectors.base import RecordChange
    from qmon.events import Event

    store = Store.open(database_url)
    store.ingest([Event("file", "f1", 1_000_000, "quote.requested", "deal", "D1")])
    store.apply_page("hubspot", "tickets", [RecordChange("tickets/1", [Event(
        "hubspot", "t1", 5_000_000, "case.opened", "case", "1", record="tickets/1")])],
        None)  # fmt: skip

    def pairs() -> set[tuple[str, str]]:
        with store.engine.connect() as conn:
            return set(map(tuple, conn.execute(text("SELECT type, source FROM event_sources"))))

    assert pairs() == {("quote.requested", "file"), ("case.opened", "hubspot")}
    store.purge_before(2_000_000)
    assert pairs() == {("case.opened", "hubspot")}
    store.close()
