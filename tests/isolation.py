"""Run Python with the server and training stack made unimportable.

Proves that what a device installs with ``edgenas[agent]`` (and what the server does without
PyTorch) really works without the heavy packages, not just that pyproject omits them.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import Spawner

HEAVY = (
    "torch",
    "torchvision",
    "onnx",
    "optuna",
    "ray",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic_settings",
)

_BLOCKER = (
    "import sys\n"
    "class _Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in {blocked!r}:\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, _Block())\n"
)


def python_without(code: str, blocked: tuple[str, ...] = HEAVY) -> list[str]:
    """An argv that runs ``code`` in a fresh interpreter where ``blocked`` cannot be imported."""
    return [sys.executable, "-c", _BLOCKER.format(blocked=blocked) + code]


def agent_cli_without_heavy() -> list[str]:
    """The ``edgenas`` command line as a device with only the ``agent`` extra would run it."""
    return python_without("from api.cli import main\nmain()\n")


def start_agent(
    spawn: Spawner, *args: str, token: str | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """``edgenas agent`` as a device with only the agent extra would run it, given its device
    ``token`` through the environment (``spawn`` kills it, and what it started, when the test
    ends)."""
    secret = {"EDGENAS_DEVICE_TOKEN": token} if token else {}
    return spawn(
        [*agent_cli_without_heavy(), "agent", "--wait", "5", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **secret, **(env or {})},
    )
