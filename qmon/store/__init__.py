"""The canonical event store: one table of events, on SQLite or PostgreSQL.

`Store` is the one way in. Bulk paths (import, evaluation) go through the database driver
directly with batched statements or COPY; no ORM object is built per row.
"""

from qmon.store.store import IngestCounts, Store

__all__ = ["IngestCounts", "Store"]
