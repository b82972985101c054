"""The server validates architecture strings without PyTorch (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys

BLOCK_TORCH = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'optuna', 'ray', 'fastapi', 'sqlalchemy'):\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
)


def test_space_strings_spaces_and_profiles_work_without_torch() -> None:
    code = BLOCK_TORCH + (
        "from space import parse_arch\n"
        "from space.presets import search_space\n"
        "from space.profiler import profile_arch\n"
        "from space.references import reference_arch\n"
        "import random\n"
        "s = search_space('mixed')\n"
        "a = s.decode(s.sample(random.Random(0)))\n"
        "print(profile_arch(reference_arch('mobilenet_v2')).params, parse_arch(str(a)).hash)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "3504872"


def test_the_timing_module_needs_no_torch() -> None:
    code = BLOCK_TORCH + "import latency.bench\nprint('ok')\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
