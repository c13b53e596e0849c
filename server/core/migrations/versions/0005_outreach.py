"""Outreach: visits, their target lists, and the feed entries that carry them to a device.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

Written to match ``server/core/models/outreach.py`` and ``change.visit_id``;
``tests/server/test_migrations.py`` compares the two on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outreach_visit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("desa_kode", sa.String(length=13), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("days", sa.SmallInteger(), nullable=False),
        sa.Column("team", sa.String(length=120), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("target_count", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["desa_kode"], ["region.kode"]),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outreach_visit_desa_kode_visit_date", "outreach_visit",
                    ["desa_kode", "visit_date"])
    op.create_index("ix_outreach_visit_device_id", "outreach_visit", ["device_id"])
    op.create_table(
        "outreach_target",
        sa.Column("visit_id", sa.String(length=36), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["outreach_visit.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("visit_id", "nik"),
    )
    with op.batch_alter_table("change") as batch:
        batch.add_column(sa.Column("visit_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("change") as batch:
        batch.drop_column("visit_id")
    op.drop_table("outreach_target")
    op.drop_index("ix_outreach_visit_device_id", table_name="outreach_visit")
    op.drop_index("ix_outreach_visit_desa_kode_visit_date", table_name="outreach_visit")
    op.drop_table("outreach_visit")
