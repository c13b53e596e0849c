"""Reconciliation: population registry, cases, the audit chain, device areas, user API tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Written to match ``server/core/models/{resident,case,audit}.py`` and the new columns of ``device``,
``registration_code``, ``user`` and ``enrollment``; ``tests/server/test_migrations.py`` compares
the two on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def text(name: str, length: int, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "resident",
        text("nik", 16, nullable=False),
        text("nama", 120, nullable=False),
        text("tempat_lahir", 60),
        sa.Column("tanggal_lahir", sa.Date(), nullable=False),
        text("jenis_kelamin", 16, nullable=False),
        text("golongan_darah", 16),
        text("alamat", 200),
        text("rt", 3),
        text("rw", 3),
        text("desa_kode", 13, nullable=False),
        text("agama", 40),
        text("status_perkawinan", 40),
        text("pekerjaan", 80),
        text("kewarganegaraan", 8),
        sa.Column("recorded", sa.Boolean(), nullable=False),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("nik", name=op.f("pk_resident")),
    )
    op.create_index(op.f("ix_resident_desa_kode"), "resident", ["desa_kode"])
    op.create_table(
        "case",
        sa.Column("id", sa.Integer(), nullable=False),
        text("kind", 32, nullable=False),
        text("key", 200, nullable=False),
        text("state", 16, nullable=False),
        text("explanation", 2000, nullable=False),
        text("desa_kode", 13),
        text("team", 80),
        text("device_id", 36),
        timestamp("opened_at"),
        timestamp("resolved_at", nullable=True),
        text("resolved_by", 64),
        text("resolution", 20),
        text("resolution_reason", 500),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"],
                                name=op.f("fk_case_device_id_device")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case")),
        sa.UniqueConstraint("key", name=op.f("uq_case_key")),
    )
    op.create_index(op.f("ix_case_kind"), "case", ["kind"])
    op.create_index(op.f("ix_case_state"), "case", ["state"])
    op.create_index(op.f("ix_case_desa_kode"), "case", ["desa_kode"])
    op.create_table(
        "case_record",
        sa.Column("case_id", sa.Integer(), nullable=False),
        text("enrollment_id", 36, nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"], ondelete="CASCADE",
                                name=op.f("fk_case_record_case_id_case")),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"],
                                name=op.f("fk_case_record_enrollment_id_enrollment")),
        sa.PrimaryKeyConstraint("case_id", "enrollment_id", name=op.f("pk_case_record")),
    )
    op.create_index(op.f("ix_case_record_enrollment_id"), "case_record", ["enrollment_id"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        timestamp("at"),
        text("actor", 80, nullable=False),
        text("action", 32, nullable=False),
        text("record_id", 36),
        sa.Column("case_id", sa.Integer(), nullable=True),
        text("from_state", 20),
        text("to_state", 20),
        text("reason", 500),
        sa.Column("detail", sa.JSON(), nullable=True),
        text("prev_hash", 64, nullable=False),
        text("hash", 64, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(op.f("ix_audit_event_record_id"), "audit_event", ["record_id"])
    op.create_index(op.f("ix_audit_event_case_id"), "audit_event", ["case_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        text("last_hash", 64, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    with op.batch_alter_table("device") as batch:
        batch.add_column(text("kecamatan_kode", 8))
    with op.batch_alter_table("registration_code") as batch:
        batch.add_column(text("kecamatan_kode", 8))
    with op.batch_alter_table("user") as batch:
        batch.add_column(text("api_token_hash", 64))
        batch.create_unique_constraint(op.f("uq_user_api_token_hash"), ["api_token_hash"])
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(text("state_reason", 500))
        batch.create_index(op.f("ix_enrollment_supersedes"), ["supersedes"])


def downgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_index(op.f("ix_enrollment_supersedes"))
        batch.drop_column("state_reason")
    with op.batch_alter_table("user") as batch:
        batch.drop_constraint(op.f("uq_user_api_token_hash"), type_="unique")
        batch.drop_column("api_token_hash")
    with op.batch_alter_table("registration_code") as batch:
        batch.drop_column("kecamatan_kode")
    with op.batch_alter_table("device") as batch:
        batch.drop_column("kecamatan_kode")
    op.drop_table("audit_head")
    op.drop_index(op.f("ix_audit_event_case_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_record_id"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index(op.f("ix_case_record_enrollment_id"), table_name="case_record")
    op.drop_table("case_record")
    op.drop_index(op.f("ix_case_desa_kode"), table_name="case")
    op.drop_index(op.f("ix_case_state"), table_name="case")
    op.drop_index(op.f("ix_case_kind"), table_name="case")
    op.drop_table("case")
    op.drop_index(op.f("ix_resident_desa_kode"), table_name="resident")
    op.drop_table("resident")
