"""``edgenas agent`` refuses bad set-ups with one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.isolation import agent_cli_without_heavy


def agent(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    secret = {"EDGENAS_DEVICE_TOKEN": token} if token else {}
    return subprocess.run(
        [*agent_cli_without_heavy(), "agent", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **secret},
    )


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        (None, "set EDGENAS_DEVICE_TOKEN"),
        ("{not json", "cannot read"),
        ('{"server": 1}', "cannot read"),
    ],
)
def test_missing_or_broken_config(tmp_path: Path, config_text: str | None, message: str) -> None:
    config = tmp_path / "agent.json"
    if config_text is not None:
        config.write_text(config_text)
        config.chmod(0o600)
    result = agent("--config", str(config))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_execution_provider_this_onnxruntime_lacks(tmp_path: Path) -> None:
    result = agent("--provider", "TensorrtExecutionProvider", token="edev_x")
    assert result.returncode == 2 and "not available here" in result.stderr


def test_a_token_file_others_may_read_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "agent.json"
    config.write_text('{"server": "http://127.0.0.1:1", "token": "edev_x", "device": "pc"}')
    config.chmod(0o644)
    result = agent("--config", str(config))
    assert result.returncode == 2
    assert f"make it private first (chmod 600 {config})" in result.stderr
