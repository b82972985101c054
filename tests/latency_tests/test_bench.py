"""ONNX Runtime timing of a real exported model."""

from __future__ import annotations

import time

import pytest

from latency import bench
from latency.bench import QuietCheck, Timing, measure, measure_many, time_onnx
from latency.protocol import MeasurementSettings
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


def test_measurement_protocol_runs_rounds_and_reports_spread() -> None:
    model = export_onnx_bytes(reference_arch("shufflenet_v2_x0_5"))
    settings = MeasurementSettings(
        runs=8, rounds=3, warmup_runs=2, warmup_seconds=0.0, cv_threshold=10.0
    )  # a threshold no timing reaches: no re-measure even while other tests load the machine
    result = measure(model, settings)
    assert (result.runs, result.rounds, result.threads) == (24, 3, 1)
    assert result.provider == "CPUExecutionProvider"
    assert 0 < result.median_ms <= result.p90_ms
    assert result.spread_ms >= 0 and result.remeasures == 0


def test_noisy_measurements_are_repeated_up_to_the_limit() -> None:
    model = export_onnx_bytes(reference_arch("squeezenet1_1"))
    settings = MeasurementSettings(
        runs=3, rounds=1, warmup_runs=0, warmup_seconds=0.0, cv_threshold=1e-9, max_remeasures=2
    )
    assert measure(model, settings).remeasures == 2


def test_the_quiet_check_learns_the_usual_speed_and_flags_slower_probes() -> None:
    check = QuietCheck(spacing_seconds=0)
    assert check.is_quiet(0.05) and check.baseline_ms > 0  # the first probe is the baseline
    usual = check.baseline_ms
    check._recent.extend([usual / 2] * 20)  # as if the machine had been twice as fast
    assert not check.is_quiet(0.05)
    assert not check.wait_until_quiet(0.05, deadline=time.monotonic())
    check._recent.append(usual / 100)  # a freak fast probe does not move the baseline
    assert check.baseline_ms == usual / 2


def test_rounds_on_a_busy_machine_are_repeated_until_the_wait_runs_out() -> None:
    busy = QuietCheck()
    busy._recent.extend([1.0] * 100)
    busy.probe_ms = lambda: 2.0  # type: ignore[method-assign]  # never calms down
    model = export_onnx_bytes(reference_arch("shufflenet_v2_x0_5"))
    settings = MeasurementSettings(
        runs=3, rounds=2, warmup_runs=0, warmup_seconds=0.0, quiet_wait_seconds=0.3
    )
    result = measure(model, settings, quiet=busy)
    assert result.disturbed_rounds >= 1 and result.runs == 6


def test_a_broken_model_raises_instead_of_hanging() -> None:
    with pytest.raises(Exception, match=r"(?i)protobuf|invalid|load"):
        measure(b"not an onnx model", MeasurementSettings())


def test_a_batch_is_timed_in_interleaved_rounds_and_a_broken_model_fails_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models = [export_onnx_bytes(reference_arch(n)) for n in ("squeezenet1_1", "shufflenet_v2_x0_5")]
    timed: list[object] = []  # which session each round timed, in order
    real_round = bench._quiet_round

    def recording_round(session: object, *args: object) -> tuple[list[float], int]:
        timed.append(session)
        return real_round(session, *args)

    monkeypatch.setattr(bench, "_quiet_round", recording_round)
    settings = MeasurementSettings(runs=4, rounds=3, warmup_runs=1, cv_threshold=10.0)
    first, broken, second = measure_many([models[0], b"not onnx", models[1]], settings)

    assert isinstance(broken, Exception) and "protobuf" in str(broken).lower()
    for result in (first, second):
        assert not isinstance(result, Exception)
        assert (result.rounds, result.runs) == (3, 12) and result.median_ms > 0
    assert len(timed) == 6 and len(set(timed)) == 2
    for round_start in (0, 2, 4):  # every model's round r before any model's round r + 1
        assert len(set(timed[round_start : round_start + 2])) == 2


def test_settings_key_is_canonical_and_settings_are_bounded() -> None:
    assert MeasurementSettings(threads=2).key() == MeasurementSettings(threads=2).key()
    assert MeasurementSettings(threads=2).key() != MeasurementSettings().key()
    with pytest.raises(ValueError, match="runs"):
        MeasurementSettings(runs=0)
    with pytest.raises(ValueError, match="extra"):
        MeasurementSettings(colour="red")
