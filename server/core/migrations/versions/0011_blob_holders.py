"""Which device sent each blob's bytes: a file is "held" only for the devices that sent it,
and which earlier registration a laptop registered again had (its uploads count for it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Written to match ``server/core/models/blob.py``; ``tests/server/core/test_migrations.py``
compares the two on SQLite and PostgreSQL. Existing blobs get as holders the devices whose
finished uploads of them received bytes; a device that only named a hash (and was answered
"already held") is not one, and is asked for the bytes the next time a record of it names them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("previous_device_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key("fk_device_previous_device_id_device", "device",
                                 ["previous_device_id"], ["id"])
    op.create_table(
        "blob_holder",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_blob_holder_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blob.sha256"], name=op.f("fk_blob_holder_sha256_blob")
        ),
        sa.PrimaryKeyConstraint("sha256", "device_id", name=op.f("pk_blob_holder")),
    )
    op.execute(
        "INSERT INTO blob_holder (sha256, device_id, created_at) "
        "SELECT upload.sha256, upload.device_id, MIN(upload.updated_at) FROM upload "
        "JOIN blob ON blob.sha256 = upload.sha256 "
        "WHERE upload.state = 'finished' AND upload.received_bytes > 0 "
        "GROUP BY upload.sha256, upload.device_id"
    )


def downgrade() -> None:
    op.drop_table("blob_holder")
    with op.batch_alter_table("device") as batch:
        batch.drop_constraint("fk_device_previous_device_id_device", type_="foreignkey")
        batch.drop_column("previous_device_id")
