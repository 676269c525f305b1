"""The store as it was when qmon adopted migrations: events, sync cursors, the alerts
ledger, agent marks and the actions log.

Stores created by qmon before migrations have no version table; for them this revision
creates only what is missing (tables, and the columns added before migrations existed:
`events.record` and the alerts' webhook state), so `qmon db upgrade` adopts them in place.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG = sa.BigInteger()


def _tables() -> dict[str, list[sa.Column]]:
    return {
        "events": [
            sa.Column("source", sa.String(), primary_key=True),
            sa.Column("event_id", sa.String(), primary_key=True),
            sa.Column("occurred_us", BIG, nullable=False),
            sa.Column("type", sa.String(), nullable=False),
            sa.Column("subject_type", sa.String(), nullable=False),
            sa.Column("subject_id", sa.String(), nullable=False),
            sa.Column("account", sa.String(), nullable=True),
            sa.Column("owner", sa.String(), nullable=True),
            sa.Column("channel", sa.String(), nullable=True),
            sa.Column("link", sa.String(), nullable=True),
            sa.Column("attributes", sa.Text(), nullable=True),
            sa.Column("record", sa.String(), nullable=True),
        ],
        "sync_cursors": [
            sa.Column("source", sa.String(), primary_key=True),
            sa.Column("stream", sa.String(), primary_key=True),
            sa.Column("position_us", BIG, nullable=True),
            sa.Column("synced_us", BIG, nullable=True),
        ],
        "alerts": [
            sa.Column("promise_id", sa.String(), primary_key=True),
            sa.Column("subject_type", sa.String(), primary_key=True),
            sa.Column("subject_id", sa.String(), primary_key=True),
            sa.Column("started_us", BIG, primary_key=True),
            sa.Column("kind", sa.String(), primary_key=True),
            sa.Column("detected_us", BIG, nullable=False),
            sa.Column("route", sa.String(), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("blocks", sa.Text(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_try_us", BIG, nullable=False),
            sa.Column("last_error", sa.String(), nullable=True),
            sa.Column("sent_us", BIG, nullable=True),
            sa.Column("slack_channel", sa.String(), nullable=True),
            sa.Column("slack_ts", sa.String(), nullable=True),
            sa.Column("update_pending", sa.Boolean(), nullable=False),
            sa.Column("webhook_pending", sa.Boolean(), nullable=False),
            sa.Column("webhook_attempts", sa.Integer(), nullable=False),
            sa.Column("webhook_next_try_us", BIG, nullable=True),
        ],
        "agent_marks": [
            sa.Column("name", sa.String(), primary_key=True),
            sa.Column("at_us", BIG, nullable=False),
        ],
        "actions": [
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("promise_id", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("day", sa.String(), nullable=False),
            sa.Column("created_us", BIG, nullable=False),
        ],
    }


#: Columns that stores made before migrations may lack, with the value existing rows get.
_LATE_COLUMNS = {
    "events": {"record": None},
    "alerts": {"webhook_pending": sa.false(), "webhook_attempts": "0",
               "webhook_next_try_us": None},
}  # fmt: skip


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, columns in _tables().items():
        if name not in existing:
            op.create_table(name, *columns)
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in columns:
            if column.name in have:
                continue
            default = _LATE_COLUMNS.get(name, {}).get(column.name)
            column.server_default = None if default is None else sa.DefaultClause(default)
            op.add_column(name, column)
    indexes = set()
    if "events" in existing:
        indexes = {i["name"] for i in inspector.get_indexes("events")}
    if "ix_events_role" not in indexes:
        op.create_index(
            "ix_events_role", "events",
            ["type", "subject_type", "subject_id", "occurred_us", "owner", "channel", "account"],
        )  # fmt: skip
    if "ix_events_record" not in indexes:
        op.create_index(
            "ix_events_record", "events", ["source", "record"],
            sqlite_where=sa.text("record IS NOT NULL"),
            postgresql_where=sa.text("record IS NOT NULL"),
        )  # fmt: skip


def downgrade() -> None:
    for name in reversed(list(_tables())):
        op.drop_table(name)
