"""Office sessions that can be ended everywhere at once, and failed logins counted in the
database (per user name and per client address).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Written to match ``server/core/models/user.py``; ``tests/server/core/test_migrations.py``
compares the two on SQLite and PostgreSQL. Sessions signed before this version carry no session
token: their users log in once more.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "office_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_office_session_user_id", "office_session", ["user_id"])
    op.create_table(
        "login_failure",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_failure")
    op.drop_index("ix_office_session_user_id", table_name="office_session")
    op.drop_table("office_session")
