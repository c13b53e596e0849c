"""Operator PINs wrap keys: PIN hashes go, the PIN-derived key (sealed) and a device data key come.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Written to match ``server/core/models/operator.py`` and ``device.py``;
``tests/server/core/test_migrations.py`` compares the two on SQLite and PostgreSQL. An existing
PIN hash cannot become a key: every operator needs a new PIN after this (operator-pin).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operator") as batch:
        batch.drop_column("pin_hash")
        batch.add_column(sa.Column("pin_salt", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("pin_key_kid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("pin_key_sealed", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("kdf_opslimit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("kdf_memlimit", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("data_key_kid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("data_key_sealed", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.drop_column("data_key_sealed")
        batch.drop_column("data_key_kid")
    with op.batch_alter_table("operator") as batch:
        for column in ("kdf_memlimit", "kdf_opslimit", "pin_key_sealed", "pin_key_kid",
                       "pin_salt"):
            batch.drop_column(column)
        batch.add_column(sa.Column("pin_hash", sa.String(length=200), nullable=False,
                                   server_default=""))
