"""The store's tables, declared once with SQLModel and used by both SQLite and PostgreSQL:
here the events and what comes with them (their attributes, the sources' cursors and types),
in `qmon.store.schema_state` what qmon keeps beside them; `TABLES` lists them all."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Text, text
from sqlmodel import Field, SQLModel

from qmon.events import ROW_COLUMNS
from qmon.store.schema_state import (  # (the models register on import)
    ActionRow,
    AgentJob,
    AgentMark,
    AlertRow,
    CheckDecided,
    CheckDirty,
    CheckState,
    CheckWatch,
    InstanceFact,
    WebLoginFailure,
    WebRevocation,
    WritebackRecord,
    WritebackTask,
)

#: Event ids compare by code point on PostgreSQL too (README "Promise semantics"), so that
#: an index gives the order in which the id sorting last wins.
_CODE_POINT = String().with_variant(String(collation="C"), "postgresql")


class EventRow(SQLModel, table=True):
    """One canonical event (see `qmon.events.Event`).

    `occurred_us` is microseconds since the Unix epoch in UTC: exact, compact and compared the
    same way on every database. `attributes` is JSON text. The index `ix_events_role` serves
    the engine's one query per promise: events of a few types, grouped by subject, in time
    order (at one instant in id order); it covers every column that query reads, `settled`
    too. The index `ix_events_subject` finds a subject's latest owner, channel or account at
    an instant (`qmon.store.subjects`) without reading the table.

    `settled` is not part of the event: it is the store's note that the event settles its
    subject's attributes at its own instant (`qmon.store.carried.of_rows`), so that a
    promise deciding on this event reads them from the row instead of looking them up.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index(
            "ix_events_role",
            "type",
            "subject_type",
            "subject_id",
            "occurred_us",
            "event_id",
            "owner",
            "channel",
            "account",
            "settled",
        ),
        # A subject's events of any type, for promises that read its attributes.
        Index("ix_events_subject", "subject_type", "subject_id", "occurred_us", "event_id",
              "owner", "channel", "account"),
        # Replacing a CRM record's events as a set; partial, so file imports pay nothing.
        Index(
            "ix_events_record",
            "source",
            "record",
            sqlite_where=text("record IS NOT NULL"),
            postgresql_where=text("record IS NOT NULL"),
        ),
    )

    source: str = Field(primary_key=True)
    event_id: str = Field(sa_column=Column(_CODE_POINT, primary_key=True))
    occurred_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str
    subject_type: str
    subject_id: str
    account: str | None = None
    owner: str | None = None
    channel: str | None = None
    link: str | None = None
    attributes: str | None = Field(default=None, sa_column=Column(Text))
    record: str | None = None
    settled: str | None = Field(default=None, sa_column=Column(Text))


#: Column order used by every bulk statement.
EVENT_COLUMNS: tuple[str, ...] = ROW_COLUMNS

class EventAttributeRow(SQLModel, table=True):
    """One attribute an event carries (a key of its JSON `attributes` with a value, as
    `qmon.events.attribute_text` gives it), beside the event's subject and instant.

    Written with the events, in the same transaction, by every write path (and removed with
    them): the index `ix_event_attributes_at` is how a promise that reads attributes finds a
    subject's value at an instant, the latest at or before it (ties: the id sorting last), in
    one index probe per decision instead of reading and parsing the subject's events.
    """

    __tablename__ = "event_attributes"
    __table_args__ = (
        Index("ix_event_attributes_at", "subject_type", "subject_id", "name", "occurred_us",
              "event_id", "source", "value"),
    )

    source: str = Field(primary_key=True)
    event_id: str = Field(sa_column=Column(_CODE_POINT, primary_key=True))
    name: str = Field(primary_key=True)
    subject_type: str
    subject_id: str
    occurred_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))


class SyncCursor(SQLModel, table=True):
    """Where one stream of one source resumes (see `qmon.connectors.base`).

    `position_us` is the stream's high-water mark: every record modified before it has been
    stored. It is written in the same transaction as the page it covers, so a sync killed at
    any moment resumes exactly after its last committed page. `synced_us` is when the stream
    last completed a sync, for data-health reports.
    """

    __tablename__ = "sync_cursors"

    source: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    position_us: int | None = Field(default=None, sa_column=Column(BigInteger))
    synced_us: int | None = Field(default=None, sa_column=Column(BigInteger))


class EventSource(SQLModel, table=True):
    """A source that has stored events of a type: written with the events, in the same
    transaction, never removed but by `qmon purge` (which rebuilds it). It tells which
    sources feed a promise (`stale_promises`) without reading its events."""

    __tablename__ = "event_sources"

    type: str = Field(primary_key=True)
    source: str = Field(primary_key=True)


#: Every table of the store; `qmon/store/migrations` creates and changes them.
TABLES = (EventRow, EventAttributeRow, SyncCursor, EventSource, AlertRow, AgentMark, ActionRow,
          AgentJob, CheckDirty, CheckWatch, CheckDecided, CheckState, WritebackRecord,
          WritebackTask, InstanceFact, WebRevocation, WebLoginFailure)  # fmt: skip


def metadata() -> MetaData:
    """The models' metadata, which the newest migration must equal (a test checks)."""
    return SQLModel.metadata
