"""Each event's `settled` (`qmon.store.carried.of_rows`): what it carries, on its own row
and in `ix_events_role`, while no other event of its subject shares its instant, so that the
general path reads a deciding event's attributes from the row it scans instead of looking
them up. Filled from `event_attributes` in SQL.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ROLE = ["type", "subject_type", "subject_id", "occurred_us", "event_id", "owner", "channel",
         "account"]  # fmt: skip
#: `qmon.store.carried.SETTLED_BYTES`, as it was for this revision.
_SETTLED_BYTES = 400


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("events", sa.Column("settled", sa.Text(), nullable=True))
    op.drop_index("ix_events_role", table_name="events")  # (written once, below)
    postgres = bind.dialect.name == "postgresql"
    packed = ("json_object_agg(a.name, a.value)::text" if postgres
              else "json_group_object(a.name, a.value)")  # fmt: skip
    size = "octet_length(p)" if postgres else "length(CAST(p AS BLOB))"
    # One pass: what the event carries, unless that is too long or another event of its
    # subject shares its instant.
    own = (f"(SELECT CASE WHEN {size} > {_SETTLED_BYTES} THEN NULL ELSE p END FROM"
           f" (SELECT coalesce({packed}, '{{}}') AS p FROM event_attributes a"
           " WHERE a.source = events.source AND a.event_id = events.event_id) own)")  # fmt: skip
    bind.execute(sa.text(
        "UPDATE events SET settled = CASE WHEN (subject_type, subject_id, occurred_us) IN"
        " (SELECT subject_type, subject_id, occurred_us FROM events"
        " GROUP BY subject_type, subject_id, occurred_us HAVING count(*) > 1)"
        f" THEN NULL ELSE {own} END"))  # fmt: skip
    op.create_index("ix_events_role", "events", [*_ROLE, "settled"])


def downgrade() -> None:
    op.drop_index("ix_events_role", table_name="events")
    op.create_index("ix_events_role", "events", _ROLE)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("settled")
