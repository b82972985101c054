"""A job holds its devices by id: a device deleted and registered again under its name is
another device, and the job's measurements fail with a clear error instead of using it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from api.server.database import upgrade_database
from edgenas.callers import SERVICE
from edgenas.errors import NotFoundError
from latency.database import create_db_engine
from latency.device_predictor import DevicePredictors
from latency.devices import delete_device, register_device
from latency.protocol import MeasurementSettings
from space import parse_arch
from workers.predicted_latency import PredictedLatency
from workers.queued_latency import QueuedLatency

ARCH = parse_arch("r32_w1.0_n10:conv_k3_c8_s2|head")


def test_a_replaced_device_is_not_the_jobs_device(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'edgenas.db'}")
    upgrade_database(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    options = {"owner_id": None, "kind": "cpu", "runtime": "onnxruntime", "provider": "CPU"}
    with sessions.begin() as session:
        old, _ = register_device(session, name="phone", **options)
    with sessions.begin() as session:
        delete_device(session, old.id, SERVICE)
        new, _ = register_device(session, name="phone", **options)
    assert new.id != old.id
    settings = MeasurementSettings()
    sources = [
        QueuedLatency(sessions, {"phone": old.id}, settings),
        PredictedLatency(
            sessions, {"phone": old.id}, settings, DevicePredictors(), "hybrid"
        ).estimate,
    ]
    for source in sources:
        with pytest.raises(NotFoundError, match=f"'phone' \\(id {old.id}\\) was deleted"):
            source(ARCH)
    engine.dispose()
