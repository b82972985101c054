"""``edgenas agent`` refuses bad set-ups with one clear line, not a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.isolation import agent_cli_without_heavy


def agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_cli_without_heavy(), "agent", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("config_text", "message"),
    [(None, "give --token"), ("{not json", "cannot read"), ('{"server": 1}', "cannot read")],
)
def test_missing_or_broken_config(tmp_path: Path, config_text: str | None, message: str) -> None:
    config = tmp_path / "agent.json"
    if config_text is not None:
        config.write_text(config_text)
    result = agent("--config", str(config))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_execution_provider_this_onnxruntime_lacks(tmp_path: Path) -> None:
    result = agent("--token", "edev_x", "--provider", "TensorrtExecutionProvider")
    assert result.returncode == 2 and "not available here" in result.stderr
