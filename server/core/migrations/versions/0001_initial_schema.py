"""Initial schema: regions, users, devices, registration codes, enrollments, feed.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Generated with ``flask db migrate`` against a scratch SQLite database, then reviewed by hand:
``UTCDateTime`` columns are plain ``DateTime(timezone=True)`` here (the conversion to UTC is
Python-side), and the boolean default is ``sa.true()`` so it is valid on PostgreSQL too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        timestamp("created_at"),
        timestamp("revoked_at", nullable=True),
        timestamp("last_seen_at", nullable=True),
        sa.Column("first_seq", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("received_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_device_token_hash")),
    )
    op.create_table(
        "region",
        sa.Column("kode", sa.String(length=13), nullable=False),
        sa.Column("nama", sa.String(length=120), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kode", name=op.f("pk_region")),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        timestamp("created_at"),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("username", name=op.f("uq_user_username")),
    )
    op.create_table(
        "change",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_change_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_change_device_id_id", "change", ["device_id", "id"])
    op.create_table(
        "enrollment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        timestamp("captured_at"),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("desa_kode", sa.String(length=13), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("exceptions", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("supersedes", sa.String(length=36), nullable=True),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        timestamp("received_at"),
        timestamp("state_changed_at"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_enrollment_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment")),
        sa.UniqueConstraint("device_id", "seq", name=op.f("uq_enrollment_device_id_seq")),
    )
    for column in ("desa_kode", "nik", "state"):
        op.create_index(op.f(f"ix_enrollment_{column}"), "enrollment", [column])
    op.create_table(
        "registration_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=80), nullable=False),
        timestamp("created_at"),
        timestamp("expires_at"),
        timestamp("used_at", nullable=True),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_registration_code_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_registration_code_code_hash")),
    )
    op.create_table(
        "rejected_push",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=False),
        timestamp("received_at"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_rejected_push_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_push")),
    )
    op.create_index("ix_rejected_push_device_id_seq", "rejected_push", ["device_id", "seq"])
    op.create_table(
        "attachment",
        sa.Column("enrollment_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrollment_id"],
            ["enrollment.id"],
            name=op.f("fk_attachment_enrollment_id_enrollment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("enrollment_id", "role", name=op.f("pk_attachment")),
    )
    op.create_index(op.f("ix_attachment_sha256"), "attachment", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_attachment_sha256"), table_name="attachment")
    op.drop_table("attachment")
    op.drop_index("ix_rejected_push_device_id_seq", table_name="rejected_push")
    op.drop_table("rejected_push")
    op.drop_table("registration_code")
    for column in ("state", "nik", "desa_kode"):
        op.drop_index(op.f(f"ix_enrollment_{column}"), table_name="enrollment")
    op.drop_table("enrollment")
    op.drop_index("ix_change_device_id_id", table_name="change")
    op.drop_table("change")
    op.drop_table("user")
    op.drop_table("region")
    op.drop_table("device")
