"""Where ``edgenas agent --register`` keeps the server URL and device token (mode 0600)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel

DEFAULT_PATH = Path.home() / ".config" / "edgenas" / "agent.json"


class AgentConfig(BaseModel):
    server: str
    token: str
    device: str


def save_config(config: AgentConfig, path: Path = DEFAULT_PATH) -> Path:
    """Write the file readable by its owner only (it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(config.model_dump(), indent=2))
    os.chmod(path, 0o600)
    return path


def load_config(path: Path = DEFAULT_PATH) -> AgentConfig:
    return AgentConfig.model_validate_json(path.read_text())
