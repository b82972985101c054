"""What the job tests share: a tiny but real job spec, and waiting on the API."""

from __future__ import annotations

import time
from collections.abc import Callable

SPEC = {
    "name": "tiny",
    "space": "shufflenet",
    "data": "mnist5k",
    "devices": ["cpu-1"],
    "proxy": {"epochs": 1, "train_images": 300},
    "strategy": {"name": "random"},
    "measurement": {"runs": 5, "rounds": 1, "quiet_wait_seconds": 0},
}


def wait_until(condition: Callable[[], bool], timeout: float = 300, what: str = "") -> None:
    """Poll an observable condition (the job's state over the API) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
