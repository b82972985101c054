"""Times an ONNX model with ONNX Runtime: warm-up, then repeated single-batch runs.

Agent side: imports neither torch nor anything of the server, so a phone host or a Jetson
needs only ``pip install edgenas[agent]``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

MAX_RUNS = 10_000


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


def time_session(
    session: ort.InferenceSession, *, runs: int = 50, warmup: int = 10, seed: int = 0
) -> Timing:
    """Run ``warmup`` untimed then ``runs`` timed inferences on one random input."""
    if not 1 <= runs <= MAX_RUNS:
        raise ValueError(f"runs={runs}: must be between 1 and {MAX_RUNS}")
    if warmup < 0:
        raise ValueError(f"warmup={warmup}: must not be negative")
    feed = random_input(session, seed)
    for _ in range(warmup):
        session.run(None, feed)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        samples.append((time.perf_counter() - start) * 1000)
    return Timing.from_samples(samples)


def time_onnx(model: bytes, *, threads: int = 1, runs: int = 50, warmup: int = 10) -> Timing:
    """Latency of one ONNX model on this machine's CPU."""
    return time_session(make_session(model, threads), runs=runs, warmup=warmup)
