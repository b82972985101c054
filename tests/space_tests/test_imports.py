"""Import boundaries that docs/architecture.md promises, checked in a fresh interpreter."""

from __future__ import annotations

import subprocess

from tests.isolation import python_without

# The API validates job specs with the search engine (torch) and reads studies (Optuna); Ray
# belongs to the runners, which the API process starts only when asked (``serve --runners``).
SERVER_WITHOUT_RAY = ("ray", "torchvision")


def test_space_strings_spaces_and_profiles_work_without_torch() -> None:
    code = (
        "from space import parse_arch\n"
        "from space.presets import search_space\n"
        "from space.profiler import profile_arch\n"
        "from space.references import reference_arch\n"
        "import random\n"
        "s = search_space('mixed')\n"
        "a = s.decode(s.sample(random.Random(0)))\n"
        "print(profile_arch(reference_arch('mobilenet_v2')).params, parse_arch(str(a)).hash)\n"
    )
    result = subprocess.run(python_without(code), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "3504872"


def test_the_server_app_starts_without_ray() -> None:
    code = (
        "from api.server.app import create_app\n"
        "from api.server.settings import Settings\n"
        "create_app(Settings(database_url='sqlite://'))\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        python_without(code, SERVER_WITHOUT_RAY), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_agent_and_its_cli_need_only_the_agent_extra() -> None:
    code = (
        "import latency.agent, latency.backends, latency.bench, latency.agent_config\n"
        "import api.client.agent_command, api.client.latency_requests\n"
        "from api.cli import app\n"
        "from typer.testing import CliRunner\n"
        "result = CliRunner().invoke(app, ['agent', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('ok')\n"
    )
    result = subprocess.run(python_without(code), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
