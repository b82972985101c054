"""``edgenas space`` commands, run as a user would (the installed console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort

EDGENAS = [sys.executable, "-m", "api"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGENAS, *args], capture_output=True, text=True, timeout=120)


def test_show_json_reports_totals_and_layers() -> None:
    result = run("space", "show", "mobilenet_v2", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["params"] == 3_504_872
    assert data["arch"].startswith("r224_w1.0:conv_k3_c32_s2_relu6|")
    assert sum(row["params"] for row in data["layers"]) == data["params"]
    assert sum(row["macs"] for row in data["layers"]) == data["macs"]


def test_show_table_with_overrides() -> None:
    result = run("space", "show", "squeezenet1_1", "--resolution", "64", "--classes", "10")
    assert result.returncode == 0, result.stderr
    assert "r64_w1.0_n10:" in result.stdout.replace("\n", "")
    assert "total" in result.stdout


def test_sample_is_reproducible_and_valid() -> None:
    first = run("space", "sample", "mixed", "-n", "3", "--seed", "7").stdout.split()
    again = run("space", "sample", "mixed", "-n", "3", "--seed", "7").stdout.split()
    other = run("space", "sample", "mixed", "-n", "3", "--seed", "8").stdout.split()
    assert first == again and len(first) == 3 and first != other


def test_export_writes_a_loadable_model(tmp_path: Path) -> None:
    target = tmp_path / "m.onnx"
    result = run("space", "export", "shufflenet_v2_x0_5", "--resolution", "64", "-o", str(target))
    assert result.returncode == 0, result.stderr
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 64, 64]


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    cases = [
        ("space", "show", "r224_w1.0:conv_k3_c30|ir_e6_k3_g4_c32|head"),
        ("space", "show", "resnet50"),
        ("space", "sample", "darts"),
        ("space", "sample", "mnasnet", "-n", "0"),
        ("space", "export", "mobilenet_v2", "-o", str(tmp_path / "missing" / "m.onnx")),
        ("space", "show", "mobilenet_v2", "--resolution", "4"),
        ("space", "tour", "--runs", "0"),
    ]
    for args in cases:
        result = run(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert "error:" in result.stderr


def test_tour_times_every_reference_network() -> None:
    from api.cli.tour import reference_tour
    from space.references import reference_names

    rows = list(reference_tour(runs=2, threads=1))
    assert {row["name"] for row in rows} >= set(reference_names())
    assert all(row["median_ms"] > 0 and row["params"] > 0 for row in rows)
