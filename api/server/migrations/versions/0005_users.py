"""users own API keys; the keys that existed become one admin user's

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import latency.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
FIRST_ADMIN = "admin"  # owns every key created before users existed


def upgrade() -> None:
    users = op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", latency.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
    connection = op.get_bind()
    if connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar():
        connection.execute(
            users.insert().values(name=FIRST_ADMIN, admin=True, created_at=latency.tables.utcnow())
        )
        admin = connection.execute(
            sa.text("SELECT id FROM users WHERE name = :name"), {"name": FIRST_ADMIN}
        ).scalar()
        connection.execute(sa.text("UPDATE api_keys SET user_id = :id"), {"id": admin})
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch.create_index(op.f("ix_api_keys_user_id"), ["user_id"])
        batch.create_foreign_key(
            op.f("fk_api_keys_user_id_users"), "users", ["user_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("fk_api_keys_user_id_users"), type_="foreignkey")
        batch.drop_index(op.f("ix_api_keys_user_id"))
        batch.drop_column("user_id")
    op.drop_table("users")
