"""Which sources have stored events of which types (`event_sources`): a promise fed only by
stale sources is found from this small table instead of a scan of its events, which on a
store of millions of events costs seconds per check and per metrics scrape while a source is
down. Filled from the events already stored, once.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_sources",
        sa.Column("type", sa.String(), primary_key=True),
        sa.Column("source", sa.String(), primary_key=True),
    )
    op.execute("INSERT INTO event_sources (type, source) SELECT DISTINCT type, source FROM events")


def downgrade() -> None:
    op.drop_table("event_sources")
