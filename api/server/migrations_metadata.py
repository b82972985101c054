"""Every package's table metadata, as Alembic and the drift test see it."""

from __future__ import annotations

from api.server.tables import ApiBase
from latency.tables import LatencyBase
from workers.tables import WorkersBase

TARGET_METADATA = [LatencyBase.metadata, WorkersBase.metadata, ApiBase.metadata]
