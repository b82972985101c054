"""`pip install edgenas[agent]` must stay free of the training and server stack."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

HEAVY = {"torch", "torchvision", "optuna", "ray", "fastapi", "sqlalchemy", "onnx", "uvicorn"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_agent_install_pulls_no_heavy_dependency() -> None:
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    agent = _names(project["dependencies"]) | _names(project["optional-dependencies"]["agent"])
    assert "onnxruntime" in agent and "httpx" in agent and "pydantic" in agent
    assert not agent & HEAVY


def test_torch_is_pinned_exactly() -> None:
    server = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in server["optional-dependencies"]["server"]
    everything = str(server)
    assert "torchvision" not in everything
