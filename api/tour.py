"""The space tour: reference networks exported to ONNX and timed on this machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from latency.bench import time_onnx
from space.export import export_onnx_bytes
from space.profiler import profile_arch
from space.references import reference_arch, reference_names

TOUR_EXTRAS = ("mobilenet_v2@0.5",)


def reference_tour(*, runs: int, threads: int) -> Iterator[dict[str, Any]]:
    """One row per reference network: name, hash, params, MACs, ONNX Runtime timing."""
    for name in (*reference_names(), *TOUR_EXTRAS):
        arch = reference_arch(name)
        profile = profile_arch(arch)
        timing = time_onnx(export_onnx_bytes(arch), threads=threads, runs=runs, warmup=5)
        yield {
            "name": name,
            "hash": arch.hash,
            "params": profile.params,
            "macs": profile.macs,
            "median_ms": timing.median_ms,
            "p90_ms": timing.p90_ms,
            "cv": timing.cv,
        }
