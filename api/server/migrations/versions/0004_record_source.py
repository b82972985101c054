"""latency records say where they came from: an agent, or an imported file

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "latency_records",
        sa.Column("source", sa.String(length=16), nullable=False, server_default="agent"),
    )


def downgrade() -> None:
    with op.batch_alter_table("latency_records") as batch:
        batch.drop_column("source")
