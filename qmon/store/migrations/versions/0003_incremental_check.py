"""The incremental check's state: subjects changed since the last check, open instances
and when they change by time alone, recently decided instances, and what it is valid for
(see `qmon.alerts.incremental`). An upgraded store starts without state: its first check
evaluates everything, as before.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SUBJECT = ("subject_type", "subject_id")


def upgrade() -> None:
    op.create_table(
        "check_dirty",
        sa.Column("subject_type", sa.String(), primary_key=True),
        sa.Column("subject_id", sa.String(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("claimed", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "check_watch",
        sa.Column("promise_id", sa.String(), primary_key=True),
        sa.Column("subject_type", sa.String(), primary_key=True),
        sa.Column("subject_id", sa.String(), primary_key=True),
        sa.Column("wake_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_check_watch_wake", "check_watch", ["wake_us"])
    op.create_table(
        "check_decided",
        sa.Column("promise_id", sa.String(), primary_key=True),
        sa.Column("subject_type", sa.String(), primary_key=True),
        sa.Column("subject_id", sa.String(), primary_key=True),
        sa.Column("started_us", sa.BigInteger(), primary_key=True),
        sa.Column("decided_us", sa.BigInteger(), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_check_decided_at", "check_decided", ["decided_us"])
    op.create_table(
        "check_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("as_of_us", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for name in ("check_state", "check_decided", "check_watch", "check_dirty"):
        op.drop_table(name)
