"""An index of events by subject and time (`ix_events_subject`): promises that read a
subject's attributes (`when`, `targets`, `deadline`) read every event of the subject that
carries one, of any type, so `qmon explain` and the incremental check find a subject's
events by index instead of scanning the table.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_subject", "events", ["subject_type", "subject_id", "occurred_us"])


def downgrade() -> None:
    op.drop_index("ix_events_subject", table_name="events")
