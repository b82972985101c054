"""browser sessions of the web UI, each tied to the API key it signed in with

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import latency.tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", latency.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", latency.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_hash"],
            ["api_keys.key_hash"],
            name=op.f("fk_web_sessions_key_hash_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_key_hash"), "web_sessions", ["key_hash"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_sessions_key_hash"), table_name="web_sessions")
    op.drop_table("web_sessions")
