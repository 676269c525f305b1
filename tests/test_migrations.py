"""Schema migrations: from the oldest revision to the newest on SQLite and PostgreSQL, the
result equals the models; stores made before migrations are adopted by `qmon db upgrade`;
a store at another revision is refused with what to do."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from qmon.events import Event
from qmon.store import Store, migrate
from qmon.store.migrate import SchemaMismatch
from qmon.store.schema import metadata
from tests.clihelp import qmon

#: The store as qmon created it before migrations and before events knew their CRM record
#: or alerts had a webhook: the oldest schema there is in the field.
LEGACY = [
    "CREATE TABLE events (source VARCHAR NOT NULL, event_id VARCHAR NOT NULL,"
    " occurred_us BIGINT NOT NULL, type VARCHAR NOT NULL, subject_type VARCHAR NOT NULL,"
    " subject_id VARCHAR NOT NULL, account VARCHAR, owner VARCHAR, channel VARCHAR,"
    " link VARCHAR, attributes TEXT, PRIMARY KEY (source, event_id))",
    "CREATE INDEX ix_events_role ON events (type, subject_type, subject_id, occurred_us,"
    " owner, channel, account)",
    "CREATE TABLE alerts (promise_id VARCHAR NOT NULL, subject_type VARCHAR NOT NULL,"
    " subject_id VARCHAR NOT NULL, started_us BIGINT NOT NULL, kind VARCHAR NOT NULL,"
    " detected_us BIGINT NOT NULL, route VARCHAR NOT NULL, text TEXT NOT NULL,"
    " blocks TEXT NOT NULL, status VARCHAR NOT NULL, attempts INTEGER NOT NULL,"
    " next_try_us BIGINT NOT NULL, last_error VARCHAR, sent_us BIGINT, slack_channel VARCHAR,"
    " slack_ts VARCHAR, update_pending BOOLEAN NOT NULL,"
    " PRIMARY KEY (promise_id, subject_type, subject_id, started_us, kind))",
    "INSERT INTO events VALUES ('crm', 'e1', 1700000000000000, 'quote.requested', 'deal',"
    " 'D-1', NULL, 'anna', NULL, NULL, NULL)",
    "INSERT INTO alerts VALUES ('quote-24h', 'deal', 'D-1', 1700000000000000, 'breached',"
    " 1700000000000001, '#q', 'late', '[]', 'sent', 1, 0, NULL, 1, 'C1', '1.0', false)",
]


def _engine(url: str):
    return Store.open(url, check_schema=False).engine


def _differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata())


def test_head_is_the_newest_revision():
    assert migrate.revisions()[-1] == migrate.HEAD


def test_oldest_to_newest_equals_the_models_and_keeps_data(database_url):
    engine = _engine(database_url)
    revisions = migrate.revisions()
    migrate.upgrade(engine, revisions[0])
    with engine.begin() as conn:
        conn.execute(text(LEGACY[3].replace("NULL)", "NULL, NULL)")))
    for revision in revisions[1:]:  # one step at a time, as stores in the field will
        assert migrate.upgrade(engine, revision)[1] == revision
    assert _differences(engine) == []
    store = Store.open(database_url)  # current: accepted as is
    assert store.count_events() == 1
    store.close()


def test_every_revision_downgrades_and_upgrades_again(database_url):
    engine = _engine(database_url)
    migrate.upgrade(engine)
    for revision in reversed(migrate.revisions()[:-1]):
        migrate.downgrade(engine, revision)
    migrate.downgrade(engine, "base")
    with engine.connect() as conn:
        assert migrate.state(conn).empty
    migrate.upgrade(engine)
    assert _differences(engine) == []


def test_an_empty_store_is_created_at_the_newest_revision(database_url):
    store = Store.open(database_url)
    with store.engine.connect() as conn:
        assert migrate.state(conn).revision == migrate.HEAD
    assert _differences(store.engine) == []
    store.close()


def test_agents_starting_together_on_an_empty_database_create_it_once(pg_url):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store.open(pg_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def _write_legacy(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        for statement in LEGACY:
            conn.execute(text(statement))
    engine.dispose()


def test_a_store_from_before_migrations_is_adopted_by_db_upgrade(database_url, tmp_path):
    _write_legacy(database_url)
    with pytest.raises(SchemaMismatch, match="run `qmon db upgrade`"):
        Store.open(database_url)
    config = tmp_path / "qmon.yaml"
    config.write_text(f"version: 1\ndatabase: '{database_url}'\n")
    result = qmon("-c", str(config), "check")
    assert result.exit_code == 3 and "qmon db upgrade" in result.output
    assert qmon("-c", str(config), "db", "current").exit_code == 3

    result = qmon("-c", str(config), "db", "upgrade")
    assert result.exit_code == 0, result.output
    # says first that it may take a while (it reads every event), then what it did
    assert result.output.startswith(
        f"upgrading the store's schema from revision (before migrations) to {migrate.HEAD}:")
    assert "stopped, it leaves the store as it was" in result.output
    assert f"to revision {migrate.HEAD}" in result.output
    assert qmon("-c", str(config), "db", "upgrade").output.startswith(
        "the store's schema is up to date"
    )
    assert qmon("-c", str(config), "db", "current").exit_code == 0

    store = Store.open(database_url)
    assert _differences(store.engine) == []
    with store.engine.connect() as conn:
        alert = conn.execute(text("SELECT status, webhook_pending, webhook_attempts FROM alerts"))
        assert alert.one() == ("sent", False, 0)
    store.ingest([Event(source="crm", id="e2", occurred_us=1_700_000_100_000_000,
                        type="quote.sent", subject_type="deal", subject_id="D-1")])  # fmt: skip
    assert store.count_events() == 2
    store.close()


def test_a_store_newer_than_this_qmon_is_refused(database_url, tmp_path):
    engine = _engine(database_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaMismatch, match="newer than this qmon"):
        Store.open(database_url)
    config = tmp_path / "qmon.yaml"
    config.write_text(f"version: 1\ndatabase: '{database_url}'\n")
    result = qmon("-c", str(config), "db", "upgrade")
    assert result.exit_code == 3 and "upgrade qmon" in result.output
