"""The dashboard's figures: every promise instance as of the last check (`instance_facts`,
see `qmon.figures`). An upgraded store starts without them: the next check with `serve:`
configured fills them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_facts",
        sa.Column("promise_id", sa.String(), primary_key=True),
        sa.Column("subject_type", sa.String(), primary_key=True),
        sa.Column("subject_id", sa.String(), primary_key=True),
        sa.Column("started_us", sa.BigInteger(), primary_key=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("stopped_us", sa.BigInteger(), nullable=True),
        sa.Column("deadline_us", sa.BigInteger(), nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("elapsed_us", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_us", sa.BigInteger(), nullable=False),
        sa.Column("allowed_us", sa.BigInteger(), nullable=True),
        sa.Column("target", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("account", sa.String(), nullable=True),
    )
    op.create_index("ix_instance_facts_start", "instance_facts", ["promise_id", "started_us"])
    op.create_index("ix_instance_facts_subject", "instance_facts", ["subject_type", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_instance_facts_subject", table_name="instance_facts")
    op.drop_index("ix_instance_facts_start", table_name="instance_facts")
    op.drop_table("instance_facts")
