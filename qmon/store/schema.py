"""The store's tables, declared once with SQLModel and used by both SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel


class EventRow(SQLModel, table=True):
    """One canonical event (see `qmon.events.Event`).

    `occurred_us` is microseconds since the Unix epoch in UTC: exact, compact and compared the
    same way on every database. `attributes` is JSON text. The index `ix_events_role` serves
    the engine's one query per promise: events of a few types, grouped by subject, in time
    order; it covers every column that query reads.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index(
            "ix_events_role",
            "type",
            "subject_type",
            "subject_id",
            "occurred_us",
            "owner",
            "channel",
            "account",
        ),
    )

    source: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    occurred_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    type: str
    subject_type: str
    subject_id: str
    account: str | None = None
    owner: str | None = None
    channel: str | None = None
    link: str | None = None
    attributes: str | None = Field(default=None, sa_column=Column(Text))


#: Column order used by every bulk statement.
EVENT_COLUMNS: tuple[str, ...] = (
    "source",
    "event_id",
    "occurred_us",
    "type",
    "subject_type",
    "subject_id",
    "account",
    "owner",
    "channel",
    "link",
    "attributes",
)
