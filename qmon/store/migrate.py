"""Schema migrations: Alembic, shipped in the package (`qmon/store/migrations`).

Every change to `qmon.store.schema` comes with a revision there; a test upgrades from the
oldest revision to the newest on SQLite and PostgreSQL and checks the result equals the
models. `Store.open` creates an empty store at the newest revision by itself and refuses a
store at another one with what to do (`qmon db upgrade`, or a newer qmon), so an agent never
writes to a schema it does not know. `qmon db upgrade` adopts stores made before migrations
(no version table) through the first revision, which creates only what they lack.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from qmon.errors import QmonError
from qmon.exit_codes import ExitCode

#: The newest revision; a test checks it is the head of `qmon/store/migrations/versions`.
HEAD = "0011"
#: Alembic's own table, one row: the store's revision.
VERSION_TABLE = "alembic_version"
#: Serialises migrations of one store (schema) on PostgreSQL: agents started together on an
#: empty database do not both create it.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('qmon migrate ' || current_schema()))"


class SchemaMismatch(QmonError):
    """The store's schema is not the one this qmon writes: upgrade it, or upgrade qmon."""

    exit_code = ExitCode.SOURCE_FAILED


@dataclass(frozen=True)
class SchemaState:
    """Where a store's schema stands: `revision` None with `tables` is a store made before
    migrations; no tables at all is an empty store."""

    revision: str | None
    tables: frozenset[str]

    @property
    def empty(self) -> bool:
        return not (self.tables & _QMON_TABLES)

    @property
    def current(self) -> bool:
        return self.revision == HEAD

    @property
    def newer(self) -> bool:
        """Made by a newer qmon: a revision this one does not know."""
        return self.revision is not None and self.revision not in revisions()

    def mismatch(self) -> SchemaMismatch:
        """The error for a store at another revision: what to do about it, in words."""
        if self.newer:
            return SchemaMismatch(
                f"the store's schema is at revision {self.revision}, newer than this qmon "
                f"knows ({HEAD}): upgrade qmon"
            )
        return SchemaMismatch(
            f"the store's schema is at revision {self.revision or 'from before migrations'};"
            f" this qmon needs {HEAD}: run `qmon db upgrade` (back up the database first)"
        )


_QMON_TABLES = frozenset({"events", "sync_cursors", "alerts", "agent_marks", "actions"})


def state(conn: Connection) -> SchemaState:
    tables = frozenset(inspect(conn).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return SchemaState(revision, tables)


def ensure_current(engine: Engine) -> None:
    """Create an empty store at the newest revision; accept one at it; refuse any other.

    Raises:
        SchemaMismatch: the store is older (run `qmon db upgrade`) or newer (upgrade qmon).
    """
    with engine.connect() as conn:
        found = state(conn)
    if found.current:
        return
    if found.empty:
        upgrade(engine)
        return
    raise found.mismatch()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the store to `revision` in one transaction; returns (before, after)."""
    from alembic import command

    with engine.begin() as conn:
        _begin_ddl(conn)
        before = state(conn).revision
        config = _alembic_config(conn)
        command.upgrade(config, revision)
        after = state(conn).revision
    return before, after


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade to `revision` (for tests of the migrations; not offered on the CLI)."""
    from alembic import command

    with engine.begin() as conn:
        _begin_ddl(conn)
        command.downgrade(_alembic_config(conn), revision)


def _begin_ddl(conn: Connection) -> None:
    """Make the migration one transaction: on PostgreSQL under the migration lock; on SQLite
    with an explicit BEGIN, since the driver begins a transaction only before DML and would
    run each CREATE TABLE on its own (a migration killed half-way would leave half a schema).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text(_LOCK_SQL))
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def revisions() -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _alembic_config(conn: Connection | None):  # noqa: ANN202 - alembic is imported lazily
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "qmon.store:migrations")
    config.attributes["connection"] = conn
    return config
