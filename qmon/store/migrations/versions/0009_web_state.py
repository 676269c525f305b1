"""What every `qmon serve` worker process must agree on: signed-out sessions
(`web_revocations`) and recent failed sign-ins (`web_login_failures`), so that a sign-out and
the sign-in limit hold whichever process a request reaches (`qmon serve --workers`).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_revocations",
        sa.Column("sid", sa.String(), primary_key=True),
        sa.Column("until_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_web_revocations_until", "web_revocations", ["until_us"])
    op.create_table(
        "web_login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_web_login_failures_key", "web_login_failures", ["key", "at_us"])
    op.create_index("ix_web_login_failures_at", "web_login_failures", ["at_us"])


def downgrade() -> None:
    op.drop_index("ix_web_login_failures_at", table_name="web_login_failures")
    op.drop_index("ix_web_login_failures_key", table_name="web_login_failures")
    op.drop_table("web_login_failures")
    op.drop_index("ix_web_revocations_until", table_name="web_revocations")
    op.drop_table("web_revocations")
