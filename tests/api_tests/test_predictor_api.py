"""Importing a lab's measurements and reading the device predictor's report, over real HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from latency.measurement_csv import read_latency_csv
from latency.predictor import LatencyPredictor
from tests.isolation import start_agent
from tests.processes import Spawner
from tests.server import Server, edgenas

FBNET_FILE = Path(__file__).parents[1] / "fixtures" / "fbnet_latency_300.csv"


def latency_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return edgenas(server, "latency", *args)


def test_import_then_report_matches_a_local_fit(server: Server, tmp_path: Path) -> None:
    device_id, _ = server.register("xeon-gold")
    done = latency_cli(
        server, "import", str(FBNET_FILE), "--device", "xeon-gold", "--column", "gold_6240_ms"
    )
    assert done.returncode == 0, done.stderr
    assert "imported 300 measurements into xeon-gold (300 architectures in all)" in done.stdout

    report = server.user.get(f"/v1/devices/{device_id}/predictor", timeout=300).json()
    rows = read_latency_csv(FBNET_FILE.read_text(), "gold_6240_ms")
    local = LatencyPredictor.fit([r.arch for r in rows], [r.ms for r in rows])
    assert report["ready"] and report["measurements"] == 300 and report["imported"] == 300
    assert report["model"] == local.model_name
    assert report["cross_validated"] == pytest.approx(local.report.to_dict())

    shown = latency_cli(server, "predictor-report", "xeon-gold")
    assert shown.returncode == 0, shown.stderr
    assert f"cross-validated MAPE {100 * local.report.mape:.2f}%" in shown.stdout
    assert "300 measured architectures (300 imported)" in shown.stdout


def test_import_errors_name_the_row_and_import_nothing(server: Server, tmp_path: Path) -> None:
    device_id, _ = server.register("phone")
    lines = FBNET_FILE.read_text().splitlines()
    bad = [
        *lines[:4],
        lines[4].replace("k3_e", "k7_e", 1),
        lines[5].rsplit(",", 4)[0] + ",-5,1,1,1",
    ]
    path = tmp_path / "lab.csv"
    path.write_text("\n".join(bad) + "\n")
    done = latency_cli(
        server, "import", str(path), "--device", "phone", "--column", "samsung_a50_ms"
    )
    assert done.returncode == 2
    assert "2 bad rows: row 4: fbnet.op='k7_e" in done.stderr
    assert "row 5: latency -5 must be a positive number" in done.stderr
    assert "Traceback" not in done.stderr
    report = server.user.get(f"/v1/devices/{device_id}/predictor").json()
    assert report == {
        "device": "phone",
        "measurements": 0,
        "imported": 0,
        "layers": 0,
        "ready": False,
        "message": "the predictor needs at least 5 measured architectures; this device has 0",
        "model": None,
        "cross_validated": None,
    }
    not_ready = latency_cli(server, "predictor-report", "phone")
    assert not_ready.returncode == 2 and "needs at least 5" in not_ready.stderr


def test_bad_import_requests_get_422(server: Server) -> None:
    device_id, _ = server.register("cpu")
    url = f"/v1/devices/{device_id}/measurements"
    bad_arch = server.user.post(
        url, json={"source": "x", "measurements": [{"arch": "r32_w1.0:nope|head", "latency_ms": 1}]}
    )
    assert bad_arch.status_code == 422 and "measurements[0].arch" in bad_arch.text
    negative = server.user.post(
        url,
        json={
            "source": "x",
            "measurements": [{"arch": "r32_w1.0:conv_k3_c8|head", "latency_ms": -1}],
        },
    )
    assert negative.status_code == 422
    too_many = server.user.post(
        url,
        json={
            "source": "x",
            "measurements": [{"arch": "r32_w1.0:conv_k3_c8|head", "latency_ms": 1}] * 501,
        },
    )
    assert too_many.status_code == 422
    assert (
        server.user.post(
            "/v1/devices/999/measurements",
            json={
                "source": "x",
                "measurements": [{"arch": "r32_w1.0:conv_k3_c8|head", "latency_ms": 1}],
            },
        ).status_code
        == 404
    )
    assert server.user.get("/v1/devices/999/predictor").status_code == 404


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)  # a minute of timing: once
def test_calibration_measures_a_spread_of_the_space_and_its_layers(
    server: Server, spawn: Spawner
) -> None:
    """The shufflenet space at 32x32 has 100 distinct layers: with the 8 networks, 108 probes
    and networks are queued, timed by a real agent, and the layers make the device's table.
    (The queue's SQL runs on PostgreSQL in the other calibration and queue tests.)"""
    device_id, device = server.register("laptop")
    token = device.headers["Authorization"].removeprefix("Bearer ")
    agent = start_agent(spawn, "--server", server.url, "--max-tasks", "108", token=token)
    calibrate = ["calibrate", "laptop", "--space", "shufflenet", "--count", "8"]
    try:
        done = latency_cli(server, *calibrate, "--resolution", "32", "--wait", "600")
        agent_output = agent.communicate(timeout=120)[0]
    finally:
        agent.kill()
    assert done.returncode == 0, done.stderr
    assert (
        "8 architectures and 100 layers chosen: 108 queued for laptop, 0 already measured"
    ) in done.stdout
    assert "108 measured, 0 failed, 0 still waiting" in done.stdout
    assert "rounds interleaved" in agent_output  # the agent timed waiting tasks together
    report = server.user.get(f"/v1/devices/{device_id}/predictor", timeout=300).json()
    assert report["ready"] and (report["measurements"], report["imported"]) == (8, 0)
    assert report["layers"] == 100  # probes are the layer table, not training networks
    again = server.user.post(
        f"/v1/devices/{device_id}/calibrate",
        json={"space": "shufflenet", "count": 8, "resolution": 32},
    )
    assert again.status_code == 202
    assert again.json() == {
        "architectures": 8,
        "layers": 100,
        "already_measured": 108,
        "task_ids": [],
    }
    without_layers = {"space": "mnasnet", "count": 3, "resolution": 32, "layers": False}
    queued = server.user.post(f"/v1/devices/{device_id}/calibrate", json=without_layers).json()
    assert (queued["architectures"], queued["layers"], len(queued["task_ids"])) == (3, 0, 3)


def test_calibrating_twice_before_an_agent_comes_shares_the_open_tasks(server: Server) -> None:
    device_id, _ = server.register("laptop")
    body = {"space": "shufflenet", "count": 2, "resolution": 32}
    first = server.user.post(f"/v1/devices/{device_id}/calibrate", json=body, timeout=120)
    second = server.user.post(f"/v1/devices/{device_id}/calibrate", json=body, timeout=120)
    assert first.status_code == second.status_code == 202, first.text
    queued = first.json()
    assert (queued["architectures"], queued["layers"], queued["already_measured"]) == (2, 100, 0)
    assert len(set(queued["task_ids"])) == 102
    assert second.json() == queued  # nothing exported or queued twice


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"space": "nasnet"}, "nasnet"),
        ({"count": 101}, "count"),
        ({"resolution": 4}, "resolution"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_calibration_requests_get_422(server: Server, body: dict, message: str) -> None:
    device_id, _ = server.register("laptop")
    response = server.user.post(f"/v1/devices/{device_id}/calibrate", json=body)
    assert response.status_code == 422 and message in response.text, response.text
    assert server.user.post("/v1/devices/999/calibrate", json={}).status_code == 404
