"""Blank-card ledger, print jobs and priorities, Suket.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Written to match ``server/core/models/blanko.py``; ``tests/server/test_migrations.py`` compares the
two on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "print_job",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("enrollment_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        timestamp("printed_at"),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reprint_of", BIG_ID, nullable=True),
        sa.Column("spoil_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"]),
        sa.ForeignKeyConstraint(["reprint_of"], ["print_job.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_print_job_enrollment_id", "print_job", ["enrollment_id"])
    op.create_table(
        "blanko_entry",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("print_job_id", BIG_ID, nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        timestamp("created_at"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.ForeignKeyConstraint(["print_job_id"], ["print_job.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_blanko_entry_entry_date", "blanko_entry", ["entry_date"])
    op.create_index("ix_blanko_entry_print_job_id", "blanko_entry", ["print_job_id"])
    op.create_table(
        "blanko_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_entry_id", BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "print_priority",
        sa.Column("enrollment_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        timestamp("set_at"),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"]),
        sa.PrimaryKeyConstraint("enrollment_id"),
    )
    op.create_table(
        "suket",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("enrollment_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("renewals", sa.SmallInteger(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        timestamp("created_at"),
        timestamp("superseded_at", nullable=True),
        sa.Column("print_job_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"]),
        sa.ForeignKeyConstraint(["print_job_id"], ["print_job.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_suket_enrollment_id", "suket", ["enrollment_id"])


def downgrade() -> None:
    op.drop_index("ix_suket_enrollment_id", table_name="suket")
    op.drop_table("suket")
    op.drop_table("print_priority")
    op.drop_table("blanko_head")
    op.drop_index("ix_blanko_entry_print_job_id", table_name="blanko_entry")
    op.drop_index("ix_blanko_entry_entry_date", table_name="blanko_entry")
    op.drop_table("blanko_entry")
    op.drop_index("ix_print_job_enrollment_id", table_name="print_job")
    op.drop_table("print_job")
