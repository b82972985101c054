"""A network over the service's size caps is refused (422 naming the cap) on every path that
would build or export it, before anything is exported: no model stored, no task queued."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from latency.database import create_db_engine
from latency.tables import MeasurementTask, OnnxModel
from tests.databases import database_url
from tests.server import Server, served

HUGE = "r64_w1.0:conv_k3_c2048|conv_k3_c2048_n4|head"  # 153 million parameters, 619 GMACs
HUGE_SPACE = {  # a space whose one architecture is HUGE
    "kind": "factorized",
    "name": "huge",
    "resolutions": [64],
    "stem": ["conv_k3_c2048"],
    "head": "head",
    "stages": [{"channels": 2048, "layers": 4, "stride": 1, "ops": ["conv"], "skips": ["none"]}],
}
PARAMS_CAP = "the network has 153,119,720 parameters, over the service's cap of 50,000,000"


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Server]:
    """Default caps, but MACs at 2 G so that a whole space at 1024 pixels is too large."""
    with database_url("sqlite", tmp_path) as url, served(url, max_arch_macs=2_000_000_000) as s:
        yield s


def nothing_exported(server: Server) -> bool:
    engine = create_db_engine(server.database_url)
    with sessionmaker(engine)() as session:
        counts = [
            session.scalar(select(func.count()).select_from(t))
            for t in (OnnxModel, MeasurementTask)
        ]
    engine.dispose()
    return counts == [0, 0]


def test_a_huge_network_is_refused_before_export_everywhere(capped: Server) -> None:
    device, _ = capped.register("phone")
    latency = capped.user.post("/v1/latency", json={"arch": HUGE, "device": "phone"})
    assert latency.status_code == 422
    assert latency.json()["error"]["message"] == f"{PARAMS_CAP} (max_arch_params)"
    assert latency.json()["error"]["details"] == {"field": "max_arch_params"}

    calibrate = capped.user.post(
        f"/v1/devices/{device}/calibrate", json={"space": "mnasnet", "resolution": 1024}
    )
    assert calibrate.status_code == 422
    assert "over the service's cap of 2,000,000,000 (max_arch_macs)" in calibrate.text

    job = capped.user.post(
        "/v1/jobs", json={"space": HUGE_SPACE, "devices": ["phone"], "budget": {"trials": 1}}
    )
    assert job.status_code == 422
    message = job.json()["error"]["message"]  # the space takes the data's 28x28x1 images
    assert message.startswith("space: every architecture tried is too large: the network has 15")
    assert message.endswith("parameters, over the service's cap of 50,000,000 (max_arch_params)")
    assert nothing_exported(capped)
    assert capped.user.get("/v1/jobs").json()["total"] == 0
