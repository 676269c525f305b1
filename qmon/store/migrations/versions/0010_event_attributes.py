"""The attributes events carry, one row each (`event_attributes`, filled from the stored
events), and the event id in the indexes by role and by subject: a promise that reads
attributes then finds a subject's value at each decision instant by index
(`qmon.store.subjects`) instead of reading and parsing every event of the subject.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ROLE = ["type", "subject_type", "subject_id", "occurred_us"]
_CONTEXT = ["owner", "channel", "account"]
_SUBJECT = ["subject_type", "subject_id", "occurred_us"]
_BATCH = 20_000
_CODE_POINT = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    from qmon.store.carried import ATTRIBUTE_COLUMNS, attribute_rows
    from qmon.store.schema import EVENT_COLUMNS

    op.create_table(
        "event_attributes",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("event_id", _CODE_POINT, primary_key=True),
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("subject_type", sa.String(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("occurred_us", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
    )
    bind = op.get_bind()
    insert = sa.text(f"INSERT INTO event_attributes ({', '.join(ATTRIBUTE_COLUMNS)}) VALUES"
                     f" ({', '.join(':' + c for c in ATTRIBUTE_COLUMNS)})")  # fmt: skip
    select = sa.text(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"
                     " WHERE attributes IS NOT NULL")  # fmt: skip
    events = bind.execute(select.execution_options(stream_results=True))
    while batch := events.fetchmany(_BATCH):
        rows = [dict(zip(ATTRIBUTE_COLUMNS, r, strict=True)) for r in attribute_rows(batch)]
        if rows:
            bind.execute(insert, rows)
    op.create_index("ix_event_attributes_at", "event_attributes",
                    ["subject_type", "subject_id", "name", "occurred_us", "event_id", "source",
                     "value"])  # fmt: skip
    if bind.dialect.name == "postgresql":  # ids in code-point order (README), by index
        op.alter_column("events", "event_id", type_=_CODE_POINT, existing_nullable=False)
    op.drop_index("ix_events_role", table_name="events")
    op.create_index("ix_events_role", "events", [*_ROLE, "event_id", *_CONTEXT])
    op.drop_index("ix_events_subject", table_name="events")
    op.create_index("ix_events_subject", "events", [*_SUBJECT, "event_id", *_CONTEXT])


def downgrade() -> None:
    op.drop_index("ix_events_subject", table_name="events")
    op.create_index("ix_events_subject", "events", _SUBJECT)
    op.drop_index("ix_events_role", table_name="events")
    op.create_index("ix_events_role", "events", [*_ROLE, *_CONTEXT])
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("events", "event_id", type_=sa.String(), existing_nullable=False)
    op.drop_index("ix_event_attributes_at", table_name="event_attributes")
    op.drop_table("event_attributes")
