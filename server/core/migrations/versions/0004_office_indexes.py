"""Office pages: indexes for arrivals by time and a state's records in id order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

The dashboard counts records received today and this week, and the records list pages through
one state in id order; without these both read the whole enrollment table (~1 s at 130,000
records on SQLite). ``(state, id)`` serves every lookup by state, so the single-column state
index goes: one index less to update on every push and every state change.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_enrollment_received_at", "enrollment", ["received_at"])
    op.create_index("ix_enrollment_state_id", "enrollment", ["state", "id"])
    op.drop_index("ix_enrollment_state", table_name="enrollment")


def downgrade() -> None:
    op.create_index("ix_enrollment_state", "enrollment", ["state"])
    op.drop_index("ix_enrollment_state_id", table_name="enrollment")
    op.drop_index("ix_enrollment_received_at", table_name="enrollment")
