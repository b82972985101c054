"""The deployment files, checked offline (no Docker engine runs here): ``docker-compose.yml``
against the Compose Specification's published schema (vendored by check-jsonschema) and for
its wiring; ``.env.example`` against the settings; the Dockerfiles for what docs/deploy.md
promises of them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.server.settings import Settings

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = {"postgres", "migrate", "api", "worker", "ray-head", "ray-worker", "agent"}
CLIENT_SETTINGS = {"EDGENAS_SERVER", "EDGENAS_API_KEY", "EDGENAS_DEVICE_TOKEN"}


VALIDATE = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]


def compose_schema_errors(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VALIDATE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    checked = compose_schema_errors(COMPOSE)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    typo = tmp_path / "docker-compose.yml"  # the validator is live: a misspelt key fails
    typo.write_text(COMPOSE.read_text().replace("depends_on:", "depend_on:", 1))
    refused = compose_schema_errors(typo)
    assert refused.returncode == 1 and "depend_on" in refused.stdout


def test_the_services_start_in_order_and_share_what_they_must(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == SERVICES
    volumes = set(yaml.safe_load(COMPOSE.read_text())["volumes"])
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in volumes, f"{name} mounts an undeclared volume"
    assert "healthcheck" in services["postgres"]
    assert services["migrate"]["command"] == ["edgenas", "migrate"]
    assert services["api"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "--runners" in services["api"]["command"]
    ray_head = "ray-head:6379"
    assert services["worker"]["environment"]["EDGENAS_RAY_ADDRESS"] == ray_head
    assert f"--address={ray_head}" in " ".join(services["worker"]["entrypoint"])
    assert f"--address={ray_head}" in services["ray-worker"]["command"]
    for ray_node in ("ray-head", "ray-worker", "worker"):  # one cluster token for all
        assert services[ray_node]["environment"]["RAY_AUTH_MODE"] == "token"
    data_users = {"api", "worker", "ray-head", "ray-worker"}
    assert all("edgenas-data:/data" in services[name]["volumes"] for name in data_users)
    assert services["agent"]["profiles"] == ["agent"]
    assert services["agent"]["build"]["dockerfile"] == "Dockerfile.agent"


def test_env_example_holds_every_setting_and_every_variable_compose_reads() -> None:
    example = (ROOT / ".env.example").read_text()
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    settings = {f"EDGENAS_{field.upper()}" for field in Settings.model_fields}
    assert settings | CLIENT_SETTINGS <= named
    read_by_compose = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert read_by_compose <= named
    unknown = {n for n in named if n.startswith("EDGENAS_")} - settings - CLIENT_SETTINGS
    assert unknown <= read_by_compose, f"not settings, not read by compose: {unknown}"


def test_the_images_run_as_a_user_and_the_agent_image_has_no_torch() -> None:
    server = (ROOT / "Dockerfile").read_text()
    agent = (ROOT / "Dockerfile.agent").read_text()
    for dockerfile in (server, agent):
        assert len(re.findall(r"^FROM ", dockerfile, flags=re.MULTILINE)) == 2  # multi-stage
        assert re.search(r"^USER edgenas$", dockerfile, flags=re.MULTILINE)
    assert "/readyz" in server.split("HEALTHCHECK", 1)[1]
    assert "download.pytorch.org/whl/cpu" in server and "'.[server]'" in server
    installs = [line for line in agent.splitlines() if line.startswith("RUN pip install")]
    assert installs == ["RUN pip install '.[agent]'"]
