"""`qmon purge`: deleting what happened before a cut, and the cut that keeps it out, part of
`Store`."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from qmon.store.bookkeeping import set_mark
from qmon.store.writer import _NOTE_SOURCE

#: The agent mark holding `qmon purge`'s cut: events older than it are never stored again.
PURGED_BEFORE = "purged_before"


class Purging:
    """`qmon purge --before` and its cut (a part of `qmon.store.Store`)."""

    engine: Engine

    def purge_before(self, cut_us: int, *, dry_run: bool = False) -> dict[str, int]:
        """Delete events that happened before `cut_us` and the alerts about instances that
        started before it, in one transaction, and remember the cut so that a later import
        or full sync does not store such events again. Returns rows deleted per table (with
        `dry_run`, what would be deleted)."""
        # Source alerts are about qmon's own syncs, not customers; an episode still going on
        # would be alerted again if its row went.
        where = {"events": "occurred_us < :cut",
                 "alerts": "started_us < :cut AND subject_type <> 'source'",
                 "writeback_tasks": "started_us < :cut",
                 "instance_facts": "started_us < :cut"}  # fmt: skip
        with self.engine.begin() as conn:
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table} WHERE {cond}"),
                                    {"cut": cut_us}).scalar_one()
                for table, cond in where.items()
            }  # fmt: skip
            if dry_run:
                return counts
            for table, cond in where.items():
                conn.execute(text(f"DELETE FROM {table} WHERE {cond}"), {"cut": cut_us})
            # What the purged events carried (each row has its event's instant).
            conn.execute(text("DELETE FROM event_attributes WHERE occurred_us < :cut"),
                         {"cut": cut_us})
            # Instances lost their early events: the next check evaluates everything again.
            conn.execute(text("DELETE FROM check_state"))
            conn.execute(text("DELETE FROM event_sources"))
            conn.execute(text(_NOTE_SOURCE.format(
                rows="SELECT DISTINCT type, source FROM events WHERE true")))  # fmt: skip
            floor = purge_floor(conn)
            if floor is None or cut_us > floor:
                set_mark(conn, PURGED_BEFORE, cut_us)
        return counts

    def purge_cut(self) -> int | None:
        """The cut of `qmon purge --before` (events older than it are not stored), or None."""
        with self.engine.connect() as conn:
            return purge_floor(conn)

    def lower_purge_cut(self, cut_us: int | None) -> int | None:
        """Lower the purge cut to `cut_us`, or remove it (None); returns the cut it had.

        Nothing is deleted and nothing comes back: events purged before stay gone until a
        later import or full sync stores them again, which the lower cut now lets through.

        Raises:
            ValueError: `cut_us` is above the present cut (raising it is `purge_before`).
        """
        with self.engine.begin() as conn:
            floor = purge_floor(conn)
            if cut_us is not None and floor is not None and cut_us > floor:
                raise ValueError("is later than the present cut")
            if cut_us is None or floor is None:
                conn.execute(text("DELETE FROM agent_marks WHERE name = :n"),
                             {"n": PURGED_BEFORE})  # fmt: skip
            if cut_us is not None and floor is not None:
                set_mark(conn, PURGED_BEFORE, cut_us)
        return floor


def purge_floor(conn: Connection) -> int | None:
    """The cut of `qmon purge --before` (events older than it are not stored), or None."""
    return conn.execute(
        text("SELECT at_us FROM agent_marks WHERE name = :n"), {"n": PURGED_BEFORE}
    ).scalar_one_or_none()
