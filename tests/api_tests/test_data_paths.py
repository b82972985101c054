"""A job's ``data`` may name a server path only under ``EDGENAS_DATA_ROOTS``, and everything
else gets the same message, whether or not the path exists; a folder too large to train on is
refused from its listing, before one image is decoded (the server's memory is measured)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.processes import Spawner, free_port
from tests.server import make_api_key, wait_until_serving

JOB = {"space": "shufflenet", "devices": ["phone"], "budget": {"trials": 2}}
TOO_MANY = 300_000  # search.data_limits.MAX_IMAGES is 200,000


def peak_memory_kib(pid: int) -> int:
    """The process's resident-set high-water mark (``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A data root with a usable folder, a symlink that leads out of it and a huge folder."""
    root = tmp_path / "root"
    for name in ("circle", "square"):
        (root / "shapes" / name).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (32, 32), color=i * 30).save(root / "shapes" / name / f"{i}.png")
    (root / "escape").symlink_to("/etc")
    tiny = io.BytesIO()
    Image.new("L", (1, 1)).save(tiny, format="PNG")
    for name in ("a", "b"):
        folder = root / "huge" / name
        folder.mkdir(parents=True)
        for i in range(TOO_MANY // 2):
            descriptor = os.open(folder / f"{i}.png", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(descriptor, tiny.getvalue())
            os.close(descriptor)
    yield root
    shutil.rmtree(root / "huge")  # pytest keeps recent temporary folders: not 300,000 files


def test_server_paths_only_under_a_root_and_huge_folders_refused_unread(
    tmp_path: Path, root: Path, spawn: Spawner
) -> None:
    url = f"sqlite:///{tmp_path / 'edgenas.db'}"
    key, port = make_api_key(url), free_port()
    serve = spawn(
        [sys.executable, "-m", "api", "serve", "--runners", "0", "--port", str(port)],
        env={
            **os.environ,
            "EDGENAS_DATABASE_URL": url,
            "EDGENAS_DATA_ROOTS": str(root),
            "EDGENAS_DATA_DIR": str(tmp_path / "uploads"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=120
    )
    wait_until_serving(client)
    assert client.post("/v1/devices", json={"name": "phone"}).status_code == 201

    def submit(data: str) -> httpx.Response:
        return client.post("/v1/jobs", json={**JOB, "data": data})

    outside = [
        "/etc/passwd",
        "/etc/nope",
        "/",
        f"{root}/../../../etc/passwd",
        f"{root}/escape/passwd",
        "relative/path",
        "no-upload-of-this-name",
    ]
    messages = {data: submit(data) for data in outside}
    assert {r.status_code for r in messages.values()} == {422}
    assert len({r.json()["error"]["message"] for r in messages.values()}) == 1
    assert "/etc" not in messages["/etc/passwd"].text

    accepted = submit(f"{root}/shapes")
    assert accepted.status_code == 201, accepted.text
    assert submit(f"{root}/escape/../shapes").status_code == 422  # resolved: /etc/../shapes

    before = peak_memory_kib(serve.pid)
    huge = submit(f"{root}/huge")
    grown = peak_memory_kib(serve.pid) - before
    assert huge.status_code == 422, huge.text
    message = huge.json()["error"]["message"]
    assert message == "data: huge: more than 200,000 images; at most 200,000 are supported"
    assert grown < 32 * 1024, f"the server's peak memory grew by {grown} KiB"
