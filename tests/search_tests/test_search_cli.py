"""``edgenas search run`` end to end: real digits, real training, real ONNX Runtime latency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from search.pareto import dominates

CLI = [sys.executable, "-m", "api", "search", "run"]
TINY = ["--space", "shufflenet", "--epochs", "1", "--train-images", "200", "--latency-runs", "5"]


def test_a_small_search_writes_its_front_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [
            *CLI,
            *TINY,
            *("--trials", "3", "--strategy", "random", "--out", str(out)),
            *("--zero-cost", "naswot", "--zero-cost-action", "rank"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Pareto front" in done.stdout
    results = json.loads((out / "results.json").read_text())
    assert len(results["trials"]) == 3 and results["front"]
    assert all(t["zero_cost"] is not None for t in results["trials"])  # ranked, all trained
    points = [(t["accuracy"], t["latency_ms"]["local"]) for t in results["trials"]]
    for member in results["front"]:
        mine = (member["accuracy"], member["latency_ms"]["local"])
        assert not any(dominates(p, mine, (True, False)) for p in points)
    assert "plotly" in (out / "pareto.html").read_text()[:100_000].lower()
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "pixel"], "'local' only"),
        (["--data", "/nonexistent"], "not found"),
        (["--mode", "mnas"], "needs targets_ms"),
        (["--strategy", "annealing"], "--strategy 'annealing'"),
        (["--space", "nasnet"], "nasnet"),
        (["--zero-cost", "magic"], "--zero-cost 'magic'"),
        (["--zero-cost", "synflow", "--zero-cost-action", "often"], "--zero-cost-action 'often'"),
        (["--trials", "20000"], "--trials 20000"),
        (["--mode", "pareto", "--strategy", "rl"], "use objective.mode 'mnas'"),
    ],
)
def test_bad_arguments_are_one_clear_line(args: list[str], message: str) -> None:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
