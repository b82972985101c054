"""ONNX Runtime timing of a real exported model."""

from __future__ import annotations

import pytest

from latency.bench import Timing, time_onnx
from space.export import export_onnx_bytes
from space.references import reference_arch


def test_times_a_real_model() -> None:
    model = export_onnx_bytes(reference_arch("shufflenet_v2_x0_5"))
    timing = time_onnx(model, runs=5, warmup=1)
    assert timing.runs == 5
    assert 0 < timing.median_ms <= timing.p90_ms
    assert timing.cv >= 0


def test_statistics_from_samples() -> None:
    timing = Timing.from_samples([1.0, 2.0, 3.0, 4.0, 10.0])
    assert timing.median_ms == 3.0
    assert timing.p90_ms == pytest.approx(7.6)
    assert timing.cv == pytest.approx(3.1622776 / 4.0)


@pytest.mark.parametrize(("runs", "warmup"), [(0, 1), (10_001, 1), (5, -1)])
def test_bad_run_counts_are_refused(runs: int, warmup: int) -> None:
    model = export_onnx_bytes(reference_arch("squeezenet1_1"))
    with pytest.raises(ValueError, match=r"runs|warmup"):
        time_onnx(model, runs=runs, warmup=warmup)
