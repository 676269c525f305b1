"""When the generic webhook took an alert (`alerts.webhook_sent_us`), so that alerts sent
can be counted per channel (`qmon_alerts_sent_total{channel="webhook"}`). Alerts delivered
before this revision have no stamp: the ledger did not keep it.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as alerts:
        alerts.add_column(sa.Column("webhook_sent_us", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as alerts:
        alerts.drop_column("webhook_sent_us")
