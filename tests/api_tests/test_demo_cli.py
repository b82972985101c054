"""``edgenas demo --serve-after``: the demo prints its web UI's address and key, runs its
search, and keeps the UI up until Ctrl-C, which stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import Spawner

ADDRESS = re.compile(r"serving the web UI at (http://\S+)/ until Ctrl-C")
KEY = re.compile(r"sign in with the API key (\S+)")


def test_the_demo_serves_its_web_ui_after_the_search_until_interrupted(
    tmp_path: Path, spawn: Spawner
) -> None:
    demo = spawn(
        [
            sys.executable,
            "-m",
            "api",
            "demo",
            "--trials",
            "2",
            "--out",
            str(tmp_path),
            "--serve-after",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # as from a terminal: Ctrl-C interrupts (test workers start their children with
        # SIGINT ignored, which Python would keep ignoring)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: list[str] = []
    assert demo.stdout is not None
    for line in demo.stdout:  # ends when the demo prints its address (or exits)
        lines.append(line)
        if ADDRESS.search(line):
            break
    printed = "".join(lines)
    address, key = ADDRESS.search(printed), KEY.search(printed)
    assert address and key, printed
    assert "first trial done after" in printed and "demo finished" in printed
    with httpx.Client(base_url=address.group(1), timeout=30, follow_redirects=True) as browser:
        form = browser.get("/signin")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        jobs = browser.post("/signin", data={"api_key": key.group(1), "csrf_token": token.group(1)})
        assert jobs.status_code == 200 and "succeeded" in jobs.text
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=120) == 0
    rest = demo.stdout.read()
    assert "stopping" in rest
    try:
        httpx.get(address.group(1) + "/healthz", timeout=5)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the demo's server still answers after Ctrl-C")
