"""Sealed records and files (protocol 2): an enrollment keeps the hash of the sealed bytes it
arrived as and the office key they were sealed to; an upload keeps its key and plaintext size.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Written to match ``server/core/models/enrollment.py`` and ``blob.py``;
``tests/server/core/test_migrations.py`` compares the two on SQLite and PostgreSQL. Every new
column is nullable: records and uploads of protocol 1 have none of them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment") as batch:
        batch.add_column(sa.Column("sealed_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("upload") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("plain_size", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload") as batch:
        batch.drop_column("plain_size")
        batch.drop_column("key_id")
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("key_id")
        batch.drop_column("sealed_sha256")
