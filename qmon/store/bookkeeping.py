"""The store's bookkeeping: each CRM stream's sync cursor and the agent's marks (when a check,
a sync or `qmon purge` last ran), part of `Store`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from qmon.store.schema import SyncCursor


class Bookkeeping:
    """Sync cursors and agent marks (a part of `qmon.store.Store`)."""

    engine: Engine

    def cursor(self, source: str, stream: str) -> int | None:
        """The stream's high-water mark (UTC microseconds), None if it never synced."""
        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT position_us FROM sync_cursors WHERE source = :s AND stream = :t"),
                {"s": source, "t": stream},
            ).scalar_one_or_none()

    def mark_synced(self, source: str, stream: str, synced_us: int) -> None:
        """Record that the stream completed a sync at `synced_us`."""
        with self.engine.begin() as conn:
            self._save_cursor(conn, source, stream, synced_us=synced_us)

    def sync_state(self, source: str | None = None) -> list[SyncCursor]:
        """Every stream's cursor and last completed sync, optionally for one source."""
        sql = "SELECT source, stream, position_us, synced_us FROM sync_cursors"
        params: dict[str, Any] = {}
        if source is not None:
            sql += " WHERE source = :s"
            params["s"] = source
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY source, stream"), params).all()
        return [
            SyncCursor(source=r[0], stream=r[1], position_us=r[2], synced_us=r[3]) for r in rows
        ]

    def mark(self, name: str, at_us: int) -> None:
        """Record that `name` (e.g. `check`) completed at `at_us`."""
        with self.engine.begin() as conn:
            set_mark(conn, name, at_us)

    def marks(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return dict(conn.execute(text("SELECT name, at_us FROM agent_marks")).all())

    def _save_cursor(
        self,
        conn: Connection,
        source: str,
        stream: str,
        *,
        position_us: int | None = None,
        synced_us: int | None = None,
    ) -> None:
        column = "position_us" if position_us is not None else "synced_us"
        value = position_us if position_us is not None else synced_us
        conn.execute(
            text(
                f"INSERT INTO sync_cursors (source, stream, {column}) VALUES (:s, :t, :v) "
                f"ON CONFLICT (source, stream) DO UPDATE SET {column} = excluded.{column}"
            ),
            {"s": source, "t": stream, "v": value},
        )


def set_mark(conn: Connection, name: str, at_us: int) -> None:
    conn.execute(
        text(
            "INSERT INTO agent_marks (name, at_us) VALUES (:n, :t)"
            " ON CONFLICT (name) DO UPDATE SET at_us = excluded.at_us"
        ),
        {"n": name, "t": at_us},
    )
