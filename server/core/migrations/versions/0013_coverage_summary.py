"""Coverage summary at province scale, and the indexes the office pages need at 1 M records.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

``coverage_region`` / ``coverage_arrival`` / ``coverage_refresh``: today's coverage figures per
desa, kecamatan and kabupaten, the trend's arrivals per region and day, and what the summary
holds; written by the ``refresh_coverage`` job (``server/coverage/summary.py``), read by the
coverage pages instead of a recount of the whole registry. Indexes: the newest record state
change and the newest registry write (is the summary behind?), records per state and device
(the dashboard's files still awaited), open cases per kind and in id order. Written to match
``server/core/models/coverage.py``; ``tests/server/core/test_migrations.py`` compares the two.
The first refresh is queued by the first coverage view after the upgrade (until it has run,
coverage is counted live).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_region",
        sa.Column("kode", sa.String(length=13), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("wajib", sa.Integer(), nullable=False),
        sa.Column("recorded_siak", sa.Integer(), nullable=False),
        sa.Column("turning_17", sa.Integer(), nullable=False),
        sa.Column("jemput_received", sa.Integer(), nullable=False),
        sa.Column("jemput_complete", sa.Integer(), nullable=False),
        sa.Column("jemput_needs_fix", sa.Integer(), nullable=False),
        sa.Column("jemput_needs_review", sa.Integer(), nullable=False),
        sa.Column("jemput_verified", sa.Integer(), nullable=False),
        sa.Column("jemput_approved", sa.Integer(), nullable=False),
        sa.Column("jemput_suket_issued", sa.Integer(), nullable=False),
        sa.Column("jemput_printed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kode", name=op.f("pk_coverage_region")),
    )
    op.create_table(
        "coverage_arrival",
        sa.Column("kode", sa.String(length=13), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kode", "day", name=op.f("pk_coverage_arrival")),
    )
    op.create_table(
        "coverage_refresh",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("residents_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("milliseconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_refresh")),
    )
    op.create_index("ix_enrollment_state_changed_at", "enrollment", ["state_changed_at"])
    op.create_index("ix_resident_updated_at", "resident", ["updated_at"])
    op.create_index("ix_enrollment_state_device_id", "enrollment", ["state", "device_id"])
    op.create_index("ix_case_state_kind", "case", ["state", "kind"])
    op.create_index("ix_case_state_id", "case", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_case_state_id", table_name="case")
    op.drop_index("ix_case_state_kind", table_name="case")
    op.drop_index("ix_enrollment_state_device_id", table_name="enrollment")
    op.drop_index("ix_resident_updated_at", table_name="resident")
    op.drop_index("ix_enrollment_state_changed_at", table_name="enrollment")
    op.drop_table("coverage_refresh")
    op.drop_table("coverage_arrival")
    op.drop_table("coverage_region")
