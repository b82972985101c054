"""devices, measurement queue, latency records, api keys

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import latency.tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("runtime", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", latency.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_devices_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_devices_token_hash")),
    )
    op.create_table(
        "onnx_models",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("arch", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_onnx_models")),
    )
    op.create_table(
        "latency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("arch", sa.Text(), nullable=False),
        sa.Column("arch_hash", sa.String(length=16), nullable=False),
        sa.Column("settings_key", sa.String(length=512), nullable=False),
        sa.Column("median_ms", sa.Double(), nullable=False),
        sa.Column("p90_ms", sa.Double(), nullable=False),
        sa.Column("cv", sa.Double(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.Integer(), nullable=False),
        sa.Column("spread_ms", sa.Double(), nullable=False),
        sa.Column("remeasures", sa.Integer(), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("device_facts", sa.JSON(), nullable=False),
        sa.Column("measured_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_latency_records_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_latency_records")),
    )
    with op.batch_alter_table("latency_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_latency_records_lookup", ["device_id", "arch_hash", "settings_key"], unique=False
        )

    op.create_table(
        "measurement_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("arch", sa.Text(), nullable=False),
        sa.Column("arch_hash", sa.String(length=16), nullable=False),
        sa.Column("model_key", sa.String(length=64), nullable=False),
        sa.Column("input_shape", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("settings_key", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", latency.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("created_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_measurement_tasks_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_key"],
            ["onnx_models.key"],
            name=op.f("fk_measurement_tasks_model_key_onnx_models"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["latency_records.id"],
            name=op.f("fk_measurement_tasks_record_id_latency_records"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_tasks")),
    )
    with op.batch_alter_table("measurement_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_measurement_tasks_queue", ["device_id", "state"], unique=False)
        batch_op.create_index(
            "uq_measurement_tasks_open",
            ["device_id", "arch_hash", "settings_key"],
            unique=True,
            sqlite_where=sa.text("state IN ('pending', 'leased')"),
            postgresql_where=sa.text("state IN ('pending', 'leased')"),
        )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", latency.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", latency.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    with op.batch_alter_table("measurement_tasks", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_measurement_tasks_open",
            sqlite_where=sa.text("state IN ('pending', 'leased')"),
            postgresql_where=sa.text("state IN ('pending', 'leased')"),
        )
        batch_op.drop_index("ix_measurement_tasks_queue")

    op.drop_table("measurement_tasks")
    with op.batch_alter_table("latency_records", schema=None) as batch_op:
        batch_op.drop_index("ix_latency_records_lookup")

    op.drop_table("latency_records")
    op.drop_table("onnx_models")
    op.drop_table("devices")
