"""Times an ONNX model with ONNX Runtime, the way a benchmarking engineer would.

Warm-up by count and by time, then rounds of timed single-batch runs. The reported median is
the median of the round medians, the spread their range; when the coefficient of variation of
all runs exceeds a threshold the whole measurement is repeated and the steadiest one kept.
Agent side: imports neither torch nor anything of the server.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from latency.protocol import MAX_RUNS, MeasurementResult, MeasurementSettings


@dataclass(frozen=True)
class Timing:
    """Latency statistics in milliseconds over ``runs`` timed runs."""

    median_ms: float
    p90_ms: float
    cv: float
    runs: int

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> Timing:
        mean = statistics.fmean(samples_ms)
        spread = statistics.pstdev(samples_ms) / mean if mean > 0 else 0.0
        return cls(
            median_ms=statistics.median(samples_ms),
            p90_ms=float(np.percentile(samples_ms, 90)),
            cv=spread,
            runs=len(samples_ms),
        )


def make_session(
    model: bytes, threads: int = 1, providers: list[str] | None = None
) -> ort.InferenceSession:
    """An inference session with a fixed thread count (intra-op), so timings are comparable."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=providers or ["CPUExecutionProvider"])


def random_input(session: ort.InferenceSession, seed: int = 0) -> dict[str, np.ndarray]:
    """A random float32 feed for every input of a fixed-shape model."""
    rng = np.random.default_rng(seed)
    return {
        node.name: rng.standard_normal(node.shape).astype(np.float32)
        for node in session.get_inputs()
    }


def _timed_runs(session: ort.InferenceSession, feed: dict[str, np.ndarray], runs: int) -> list:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def warm_up(
    session: ort.InferenceSession, feed: dict[str, np.ndarray], runs: int, seconds: float
) -> None:
    """At least ``runs`` untimed runs, continued until ``seconds`` have passed."""
    start = time.perf_counter()
    done = 0
    while done < runs or time.perf_counter() - start < seconds:
        session.run(None, feed)
        done += 1


def time_session(
    session: ort.InferenceSession, *, runs: int = 50, warmup: int = 10, seed: int = 0
) -> Timing:
    """Run ``warmup`` untimed then ``runs`` timed inferences on one random input."""
    if not 1 <= runs <= MAX_RUNS:
        raise ValueError(f"runs={runs}: must be between 1 and {MAX_RUNS}")
    if warmup < 0:
        raise ValueError(f"warmup={warmup}: must not be negative")
    feed = random_input(session, seed)
    warm_up(session, feed, warmup, 0.0)
    return Timing.from_samples(_timed_runs(session, feed, runs))


def time_onnx(model: bytes, *, threads: int = 1, runs: int = 50, warmup: int = 10) -> Timing:
    """Latency of one ONNX model on this machine's CPU."""
    return time_session(make_session(model, threads), runs=runs, warmup=warmup)


def _one_measurement(
    session: ort.InferenceSession, feed: dict[str, np.ndarray], settings: MeasurementSettings
) -> tuple[list[float], list[float]]:
    warm_up(session, feed, settings.warmup_runs, settings.warmup_seconds)
    samples: list[float] = []
    round_medians: list[float] = []
    for _ in range(settings.rounds):
        batch = _timed_runs(session, feed, settings.runs)
        round_medians.append(statistics.median(batch))
        samples += batch
    return samples, round_medians


def measure(
    model: bytes, settings: MeasurementSettings, provider: str = "CPUExecutionProvider"
) -> MeasurementResult:
    """The full protocol on one model: warm-up, rounds, re-measure while too noisy."""
    session = make_session(model, settings.threads, [provider])
    feed = random_input(session)
    best: tuple[Timing, list[float]] | None = None
    remeasures = 0
    for attempt in range(settings.max_remeasures + 1):
        samples, round_medians = _one_measurement(session, feed, settings)
        timing = Timing.from_samples(samples)
        if best is None or timing.cv < best[0].cv:
            best = (timing, round_medians)
        remeasures = attempt
        if timing.cv <= settings.cv_threshold:
            break
    timing, round_medians = best
    return MeasurementResult(
        median_ms=statistics.median(round_medians),
        p90_ms=timing.p90_ms,
        cv=timing.cv,
        runs=timing.runs,
        rounds=len(round_medians),
        spread_ms=max(round_medians) - min(round_medians),
        remeasures=remeasures,
        threads=settings.threads,
        provider=provider,
    )
