"""Blobs and tus uploads: the biometric files a record names, and how they arrive.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Written to match ``server/core/models/blob.py``; ``tests/server/test_migrations.py``
compares the two on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blob")),
    )
    op.create_table(
        "upload",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_bytes", sa.BigInteger(), server_default="0", nullable=False),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("expires_at"),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_upload_device_id_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload")),
    )
    op.create_index("ix_upload_device_id_sha256", "upload", ["device_id", "sha256"])
    op.create_index("ix_upload_state_expires_at", "upload", ["state", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_upload_state_expires_at", table_name="upload")
    op.drop_index("ix_upload_device_id_sha256", table_name="upload")
    op.drop_table("upload")
    op.drop_table("blob")
