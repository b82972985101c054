"""Uploaded data sets over real HTTP, on SQLite and PostgreSQL: an upload is streamed to disk,
validated in full and hashed before it is kept; a job names it; it cannot be deleted while a
job reads it; a refused or oversized upload leaves no file behind."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.databases import database_url
from tests.datasets import digits_npz
from tests.server import Server, edgenas, served

JOB = {"space": "shufflenet", "devices": ["phone"], "budget": {"trials": 2}}


def kept_files(server: Server) -> list[str]:
    return sorted(os.listdir(server.data_dir))


def test_an_upload_is_validated_hashed_used_by_a_job_and_deleted(
    server: Server, tmp_path: Path
) -> None:
    path = digits_npz(tmp_path / "digits.npz")
    response = server.user.post(
        "/v1/datasets", params={"name": "digits", "format": "npz"}, content=path.read_bytes()
    )
    assert response.status_code == 201, response.text
    dataset = response.json()
    assert dataset["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (dataset["images"], dataset["resolution"], dataset["channels"]) == (200, 28, 1)
    assert dataset["classes"] == [str(i) for i in range(10)]
    assert dataset["size_bytes"] == path.stat().st_size
    assert len(kept_files(server)) == 1
    assert [d["name"] for d in server.user.get("/v1/datasets").json()] == ["digits"]
    assert server.user.get(f"/v1/datasets/{dataset['id']}").json() == dataset

    server.register("phone")
    job = server.user.post("/v1/jobs", json={**JOB, "data": "digits"})
    assert job.status_code == 201, job.text
    busy = server.user.delete(f"/v1/datasets/{dataset['id']}")
    assert busy.status_code == 409 and f"job {job.json()['id']}" in busy.json()["error"]["message"]
    server.user.post(f"/v1/jobs/{job.json()['id']}/cancel")
    assert server.user.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
    assert kept_files(server) == []
    assert server.user.get(f"/v1/datasets/{dataset['id']}").status_code == 404
    gone = server.user.post("/v1/jobs", json={**JOB, "data": "digits"})
    assert gone.status_code == 422 and gone.json()["error"]["message"].startswith("data: give")


@pytest.mark.parametrize(
    ("params", "body", "status", "message"),
    [
        ({"name": "junk", "format": "npz"}, b"not a zip at all", 422, "body: junk: not a readable"),
        (
            {"name": "junk", "format": "zip"},
            b"PK\x05\x06" + bytes(18),
            422,
            "body: junk: no images",
        ),
        ({"name": "empty", "format": "npz"}, b"", 422, "body: the upload is empty"),
        ({"name": "x", "format": "tar"}, b"data", 422, "query.format"),
        ({"name": "../x", "format": "npz"}, b"data", 422, "query.name"),
        ({"name": "mnist5k", "format": "npz"}, b"data", 409, "bundled data set's name"),
    ],
)
def test_a_refused_upload_says_why_and_leaves_no_file(
    server: Server, params: dict, body: bytes, status: int, message: str
) -> None:
    response = server.user.post("/v1/datasets", params=params, content=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert kept_files(server) == []


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[Server]:
    """At most 64 KiB per upload and one data set per user."""
    with (
        database_url("sqlite", tmp_path) as url,
        served(url, max_dataset_bytes=64 * 1024, max_datasets_per_user=1) as running,
    ):
        yield running


def test_uploads_over_the_limit_are_a_413_declared_or_chunked(
    small_server: Server, tmp_path: Path
) -> None:
    big = tmp_path / "big.npz"
    np.savez(big, images=np.zeros((100, 28, 28), np.uint8), labels=np.arange(100) % 2)
    assert big.stat().st_size > 64 * 1024
    params = {"name": "big", "format": "npz"}
    declared = small_server.user.post("/v1/datasets", params=params, content=big.read_bytes())
    chunks = (big.read_bytes()[i : i + 8192] for i in range(0, big.stat().st_size, 8192))
    chunked = small_server.user.post("/v1/datasets", params=params, content=chunks)
    for response in (declared, chunked):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["message"] == "request body over 65,536 bytes"
    assert kept_files(small_server) == []
    small = digits_npz(tmp_path / "small.npz", count=20)
    params = {"name": "small", "format": "npz"}
    assert small_server.user.post("/v1/datasets", params=params, content=small.read_bytes())
    second = small_server.user.post(
        "/v1/datasets", params={"name": "more", "format": "npz"}, content=small.read_bytes()
    )
    assert second.status_code == 409 and "the most allowed" in second.json()["error"]["message"]
    taken = small_server.user.post("/v1/datasets", params=params, content=small.read_bytes())
    assert taken.status_code == 409 and "already have" in taken.json()["error"]["message"]


def test_the_cli_uploads_a_folder_lists_and_deletes(server: Server, tmp_path: Path) -> None:
    for label, name in enumerate(("circle", "square")):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(3):
            image = Image.new("RGB", (12, 12), color=(label * 200, i * 40, 0))
            image.save(tmp_path / "shapes" / name / f"{i}.png")
    uploaded = edgenas(server, "datasets", "upload", str(tmp_path / "shapes"))
    assert uploaded.returncode == 0, uploaded.stderr
    assert "shapes: 6 images, 2 classes, 12x12x3" in uploaded.stdout
    listed = edgenas(server, "datasets", "list")
    assert listed.stdout.startswith(uploaded.stdout.split()[2] + "\tshapes: 6 images")
    again = edgenas(server, "datasets", "upload", str(tmp_path / "shapes"))
    assert again.returncode == 2
    assert again.stderr.strip() == "error: you already have a data set named 'shapes'"
    dataset_id = uploaded.stdout.split()[2]
    assert edgenas(server, "datasets", "delete", dataset_id).returncode == 0
    assert edgenas(server, "datasets", "list").stdout == ""
    assert kept_files(server) == []
