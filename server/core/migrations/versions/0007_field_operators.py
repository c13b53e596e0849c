"""Field operators who log in to a team's laptop offline with a PIN.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Written to match ``server/core/models/operator.py``; ``tests/server/test_migrations.py``
compares the two on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("nama", sa.String(length=120), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pin_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_index("ix_operator_team", "operator", ["team"])


def downgrade() -> None:
    op.drop_index("ix_operator_team", table_name="operator")
    op.drop_table("operator")
