"""devices, measurement tasks and jobs have owners; devices can be shared; names are unique
per owner; a job holds its devices by id

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Objects made before users existed get no owner: they are admins' (edgenas.callers).
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.drop_constraint("uq_devices_name", type_="unique")
        batch.create_unique_constraint("uq_devices_owner_name", ["owner_id", "name"])
        batch.create_index(op.f("ix_devices_owner_id"), ["owner_id"])
    with op.batch_alter_table("measurement_tasks") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("device_ids", sa.JSON(), nullable=True))
        batch.create_index(op.f("ix_jobs_owner_id"), ["owner_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(op.f("ix_jobs_owner_id"))
        batch.drop_column("device_ids")
        batch.drop_column("owner_id")
    with op.batch_alter_table("measurement_tasks") as batch:
        batch.drop_column("owner_id")
    with op.batch_alter_table("devices") as batch:
        batch.drop_index(op.f("ix_devices_owner_id"))
        batch.drop_constraint("uq_devices_owner_name", type_="unique")
        batch.create_unique_constraint("uq_devices_name", ["name"])
        batch.drop_column("shared")
        batch.drop_column("owner_id")
