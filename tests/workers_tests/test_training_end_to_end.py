"""Training a chosen trial end to end, and searching at int8: real server over HTTP, real
runners on real Ray, a real agent timing the very files made, SQLite and PostgreSQL. The data
is 400 real digits uploaded by the test, so an epoch takes well under a second; what is checked
is the service's behaviour, not the accuracy (benchmarks/final_training.py measures that)."""

from __future__ import annotations

import io
import json
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from safetensors.numpy import load as load_safetensors
from sqlalchemy import select

from latency.database import create_db_engine
from latency.tables import LatencyRecord
from space import parse_arch
from tests.datasets import digits_npz
from tests.processes import Spawner
from tests.server import Server, edgenas
from tests.web_tests.test_sessions import browser, key_of, sign_in
from tests.workers_tests.test_jobs_end_to_end import runner_on, start_worker
from tests.workers_tests.tiny_jobs import SPEC, wait_until

DEVICE = "cpu-1"
CLI = [sys.executable, "-m", "api"]


def searched(server: Server, tmp_path: Path, run: object) -> int:
    """A finished two-trial search on 400 uploaded digits; its job id. ``run`` drives it."""
    upload = digits_npz(tmp_path / "digits.npz", count=400)
    response = server.user.post(
        "/v1/datasets", params={"name": "digits", "format": "npz"}, content=upload.read_bytes()
    )
    assert response.status_code == 201, response.text
    job = server.user.post("/v1/jobs", json={**SPEC, "data": "digits", "budget": {"trials": 2}})
    assert job.status_code == 201, job.text
    run()  # type: ignore[operator]
    assert server.user.get(f"/v1/jobs/{job.json()['id']}").json()["state"] == "succeeded"
    return int(job.json()["id"])


def model(server: Server, model_id: int) -> dict:
    return server.user.get(f"/v1/models/{model_id}").json()


def test_a_trained_trial_gives_fp32_and_int8_files_measured_on_the_device(
    server: Server, agent: subprocess.Popen[str], local_ray: None, tmp_path: Path
) -> None:
    runner = runner_on(server.database_url)
    job_id = searched(server, tmp_path, runner.run_once)
    trial = server.user.get(f"/v1/jobs/{job_id}/pareto").json()["members"][0]
    train = f"/v1/jobs/{job_id}/trials/{trial['number']}/train"
    for bad, field in (
        ({"epochs": 0}, "epochs"),
        ({"augment": ["rotate"]}, "augment"),
        ({"compress": {"share_bits": None}}, "compress"),
        ({"data": "no-such-data"}, "data"),
    ):
        refused = server.user.post(train, json=bad)
        assert refused.status_code == 422 and field in refused.text, refused.text
    assert server.user.post(f"/v1/jobs/{job_id}/trials/99/train").status_code == 404
    compress = {"prune": 0.5, "share_bits": 4, "finetune_epochs": 1}
    request = {"epochs": 2, "compress": compress, "ternary": {"epochs": 1}}
    queued = server.user.post(train, json=request)
    assert queued.status_code == 202, queued.text
    made = queued.json()
    assert made["state"] == "queued" and made["arch"] == trial["arch"]
    training = server.user.get(f"/v1/jobs/{made['job_id']}").json()
    assert training["kind"] == "train" and training["spec"]["devices"] == [DEVICE]

    assert runner.run_once()  # the training job: train, make the files, have them measured
    found = model(server, made["id"])
    assert found["state"] == "succeeded", found
    results = found["results"]
    assert results["epochs"] == 2 and len(results["train_accuracy"]) == 2
    assert results["test_images"] == 40  # a tenth of the data, never searched on
    assert set(results["test_accuracy"]) == {"fp32", "int8"}
    assert found["artifacts"] == ["weights.safetensors", "model.onnx", "model-int8.onnx"]
    stages = results["compression"]
    assert [s["stage"] for s in stages] == ["dense", "pruned", "shared", "huffman"]
    assert stages[-1]["bytes"] < stages[0]["bytes"] and stages[-1]["ratio"] > 1
    assert stages[-1]["test_accuracy"] == stages[-2]["test_accuracy"]  # Huffman is lossless
    with browser(server) as web:  # the web UI lists the training job and shows its page
        assert sign_in(web, key_of(server)).status_code == 303
        listed_page = web.get("/jobs")
        assert listed_page.status_code == 200 and f"/jobs/{made['job_id']}" in listed_page.text
        assert web.get(f"/jobs/{made['job_id']}").status_code == 200

    arch = parse_arch(found["arch"])
    for name, precision in (("model.onnx", "fp32"), ("model-int8.onnx", "int8")):
        response = server.user.get(f"/v1/models/{made['id']}/{name}")
        assert response.status_code == 200
        assert len(response.content) == results["sizes"][name]
        session = ort.InferenceSession(response.content, providers=["CPUExecutionProvider"])
        logits = session.run(None, {"input": np.zeros(arch.input_shape(), np.float32)})[0]
        assert logits.shape == (1, 10)
        timed = results["latency"][DEVICE][precision]
        assert timed["median_ms"] > 0 and timed["runs"] >= 5  # the agent's measurement
    int8_ops = {n.op_type for n in _graph(server, made["id"], "model-int8.onnx")}
    assert {"QuantizeLinear", "DequantizeLinear"} <= int8_ops
    assert (
        results["latency"][DEVICE]["fp32"]["record_id"]
        != (results["latency"][DEVICE]["int8"]["record_id"])
    )

    weights = server.user.get(f"/v1/models/{made['id']}/weights.safetensors").content
    # not a pickle nor torch.save's zip of pickles: a safetensors file, a length, a JSON
    # table of plain tensors, then their bytes
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(weights[8:])  # what follows the length is JSON, not a pickle
    assert not weights.startswith(b"PK")
    length = int.from_bytes(weights[:8], "little")
    header = json.loads(weights[8 : 8 + length])
    assert header["__metadata__"]["arch"] == found["arch"]
    tensors = load_safetensors(weights)
    assert any(name.endswith("weight") for name in tensors)

    listed = server.user.get("/v1/models").json()
    assert [m["id"] for m in listed["items"]] == [made["id"]]
    other = server.user_client("mallory")
    assert other.get(f"/v1/models/{made['id']}").status_code == 404  # owned, like jobs
    assert other.get(f"/v1/models/{made['id']}/model.onnx").status_code == 404
    assert other.get("/v1/models").json()["total"] == 0
    stolen = other.post(f"/v1/jobs/{job_id}/trials/{trial['number']}/train")
    assert stolen.status_code == 404
    missing = server.user.get(f"/v1/models/{made['id']}/model.pkl")
    assert missing.status_code == 404

    ternary = results["ternary"]
    assert ternary["layers"] >= 1 and ternary["ratio"] > 1 and 0 <= ternary["test_accuracy"] <= 1
    again = server.user.post(f"/v1/jobs/{made['job_id']}/trials/0/train")
    assert again.status_code == 409  # a training job has no trials to train
    cancelled = server.user.post(train, json={"epochs": 1}).json()
    assert server.user.post(f"/v1/jobs/{cancelled['job_id']}/cancel").status_code == 200
    assert model(server, cancelled["id"])["state"] == "cancelled"  # queued: at once
    from_the_cli(server, runner, job_id, trial["number"], tmp_path)


def from_the_cli(server: Server, runner: object, job_id: int, trial: int, tmp_path: Path) -> None:
    """``edgenas train --wait`` follows a training a runner drives to its end; ``models``
    lists, shows and downloads; a bad trial is one error line."""
    connection = ["--server", server.url, "--api-key", key_of(server)]
    follow = subprocess.Popen(
        [*CLI, "train", str(job_id), str(trial), "--epochs", "1", "--wait", *connection],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: server.user.get("/v1/models").json()["total"] == 3, what="queued")
        assert runner.run_once()  # type: ignore[attr-defined]
        out, err = follow.communicate(timeout=300)
    finally:
        follow.kill()
    assert follow.returncode == 0, err
    assert "queued: training job" in out and "fp32: test accuracy" in out
    assert f"{DEVICE} " in out.splitlines()[-1]  # int8's measured latency on the device
    model_id = server.user.get("/v1/models").json()["items"][0]["id"]
    jobs = edgenas(server, "jobs", "list").stdout
    assert "\tsucceeded\t1/1 epochs\t" in jobs and "\tsucceeded\t2/2 trials\t" in jobs
    listed = edgenas(server, "models", "list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3
    assert "\tcancelled\t" in listed.stdout
    shown = json.loads(edgenas(server, "models", "show", str(model_id)).stdout)
    assert shown["state"] == "succeeded" and shown["results"]["epochs"] == 1
    target = tmp_path / "int8.onnx"
    saved = edgenas(
        server, "models", "download", str(model_id), "--format", "onnx-int8", "--out", str(target)
    )
    assert saved.returncode == 0
    ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    missing = edgenas(server, "train", str(job_id), "99")
    assert missing.returncode == 2 and missing.stderr.startswith("error:")
    assert f"job {job_id} has no trial 99" in missing.stderr


def _graph(server: Server, model_id: int, name: str) -> list:
    import onnx

    data = server.user.get(f"/v1/models/{model_id}/{name}").content
    return list(onnx.load_model(io.BytesIO(data)).graph.node)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_a_killed_runner_s_training_resumes_from_its_last_checkpoint(
    server: Server, agent: subprocess.Popen[str], spawn: Spawner, tmp_path: Path
) -> None:
    """SIGKILL the runner (its Ray too) after a few epochs; a second runner resumes from the
    newest checkpoint, losing at most the epoch that was in progress."""
    url = server.database_url
    first = start_worker(spawn, url)
    job_id = searched(server, tmp_path, lambda: _finished(server))
    trial = server.user.get(f"/v1/jobs/{job_id}/pareto").json()["members"][0]["number"]
    made = server.user.post(f"/v1/jobs/{job_id}/trials/{trial}/train", json={"epochs": 40})
    model_id = made.json()["id"]
    try:
        wait_until(lambda: (model(server, model_id)["progress"]["epochs_done"] or 0) >= 3, what="3")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
    seen = model(server, model_id)["progress"]["epochs_done"]
    second = start_worker(spawn, url)
    try:
        wait_until(lambda: model(server, model_id)["state"] == "succeeded", what="the training")
    finally:
        second.terminate()
        second.wait(timeout=120)
    results = model(server, model_id)["results"]
    assert seen <= results["resumed_from"] < 40  # resumed, not restarted
    assert results["epochs"] == 40 and len(results["train_accuracy"]) == 40


def _finished(server: Server) -> None:
    wait_until(
        lambda: server.user.get("/v1/jobs").json()["items"][0]["state"] == "succeeded",
        what="the search",
    )


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
def test_an_int8_search_measures_every_int8_point_on_the_device(
    server: Server, agent: subprocess.Popen[str], local_ray: None
) -> None:
    spec = {
        **SPEC,
        "budget": {"trials": 3},
        "precision": ["fp32", "int8"],
        "objective": {"mode": "pareto", "size": True, "early_stop": False},
    }
    submitted = server.user.post("/v1/jobs", json=spec)
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["id"]
    assert runner_on(server.database_url).run_once()
    assert server.user.get(f"/v1/jobs/{job_id}").json()["state"] == "succeeded"

    trials = server.user.get(f"/v1/jobs/{job_id}/trials").json()["items"]
    complete = [t for t in trials if t["state"] == "complete"]
    assert len(complete) == 3
    engine = create_db_engine(server.database_url)
    with engine.connect() as db:  # the agent's own measurements of the int8 files
        timed = {
            (row.arch, row.median_ms)
            for row in db.execute(
                select(LatencyRecord.arch, LatencyRecord.median_ms).where(
                    LatencyRecord.settings_key.contains('"precision":"int8"'),
                    LatencyRecord.artifact.is_not(None),
                )
            )
        }
    engine.dispose()
    for trial in complete:
        int8 = trial["low_precision"]["int8"]
        assert (trial["arch"], int8["latency_ms"][DEVICE]) in timed  # measured, not predicted

    front = server.user.get(f"/v1/jobs/{job_id}/pareto").json()["members"]
    assert {m["precision"] for m in front} == {"fp32", "int8"}
