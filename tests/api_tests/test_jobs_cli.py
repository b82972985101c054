"""``edgenas jobs``: YAML and JSON specs over real HTTP, and clear errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.server import Server, edgenas

YAML_SPEC = """
name: from yaml
space: mnasnet
devices: [cpu-1]
budget:
  trials: 3
"""


def jobs(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return edgenas(server, "jobs", *args)


def test_submit_yaml_list_show_and_cancel(server: Server, tmp_path: Path) -> None:
    server.register("cpu-1")
    spec = tmp_path / "job.yaml"
    spec.write_text(YAML_SPEC)
    submitted = jobs(server, "submit", str(spec))
    assert submitted.returncode == 0 and "job 1 queued: from yaml" in submitted.stdout
    listed = jobs(server, "list", "--state", "queued")
    assert listed.stdout.split("\t")[:2] == ["1", "queued"]
    shown = json.loads(jobs(server, "show", "1").stdout)
    assert shown["spec"]["budget"] == {"trials": 3}  # stored as submitted
    assert "cancelled" in jobs(server, "cancel", "1").stdout
    again = jobs(server, "cancel", "1")
    assert again.returncode == 2 and "already cancelled" in again.stderr
    empty = jobs(server, "pareto", "1")  # no trial ran: an empty front, not an error
    assert empty.returncode == 0 and "Pareto front of job 1" in empty.stdout


def test_bad_spec_files_are_one_clear_line(server: Server, tmp_path: Path) -> None:
    server.register("cpu-1")
    cases = {
        "broken.yaml": ("space: [unclosed", "not valid YAML"),
        "list.json": ('["mnasnet"]', "must be a mapping"),
        "device.json": ('{"devices": ["pixel-9"]}', "devices.0: no registered device 'pixel-9'"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        done = jobs(server, "submit", str(tmp_path / name))
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    missing = jobs(server, "submit", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
