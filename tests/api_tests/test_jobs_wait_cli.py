"""``edgenas jobs wait`` outlasts a server that is away (not up yet, or restarting): it asks
again with backoff instead of failing on the first refused connection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from api.server.settings import Settings
from tests.processes import Spawner, free_port
from tests.server import make_api_key, running_server


def test_wait_keeps_asking_until_the_server_answers(spawn: Spawner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edgenas.db'}"
    key = make_api_key(url)
    port = free_port()
    follower = spawn(
        [sys.executable, "-m", "api", "jobs", "wait", "99", "--timeout", "300",
         "--server", f"http://127.0.0.1:{port}", "--api-key", key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert follower.stderr is not None
    first = follower.stderr.readline()  # it has found nobody there, and says it will retry
    assert first.startswith("the server is away (no answer"), first
    with running_server(Settings(database_url=url), port=port):
        _, errors = follower.communicate(timeout=120)
    assert follower.returncode == 2
    assert errors.strip().splitlines()[-1] == "error: no job 99"
