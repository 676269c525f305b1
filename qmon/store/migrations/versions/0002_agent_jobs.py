"""Agent jobs: several agents on one PostgreSQL share syncs, checks and reports by claiming
each job's row (`SELECT ... FOR UPDATE SKIP LOCKED`); see `qmon.agent`.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_jobs",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("due_us", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("started_us", sa.BigInteger(), nullable=True),
        sa.Column("finished_us", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("agent_jobs")
