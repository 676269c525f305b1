"""Writeback: the values qmon keeps on CRM records (`writeback_records`) and the ledger of
the tasks it creates for owners (`writeback_tasks`); see `qmon.writeback`. An upgraded store
starts empty: the first check with `writeback:` configured fills them.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "writeback_records",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("object_type", sa.String(), primary_key=True),
        sa.Column("record_id", sa.String(), primary_key=True),
        sa.Column("subject_type", sa.String(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("desired", sa.Text(), nullable=False),
        sa.Column("written", sa.Text(), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("changed_us", sa.BigInteger(), nullable=False),
        sa.Column("written_us", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_us", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_writeback_due", "writeback_records", ["source", "pending", "next_try_us"])
    op.create_index("ix_writeback_subject", "writeback_records", ["subject_type", "subject_id"])
    op.create_table(
        "writeback_tasks",
        sa.Column("promise_id", sa.String(), primary_key=True),
        sa.Column("subject_type", sa.String(), primary_key=True),
        sa.Column("subject_id", sa.String(), primary_key=True),
        sa.Column("started_us", sa.BigInteger(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("object_type", sa.String(), nullable=False),
        sa.Column("record_id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False, unique=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("due_us", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.String(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.String(), nullable=True),
        sa.Column("update_pending", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_us", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("writeback_tasks")
    op.drop_index("ix_writeback_subject", table_name="writeback_records")
    op.drop_index("ix_writeback_due", table_name="writeback_records")
    op.drop_table("writeback_records")
