"""The space tour: reference networks exported to ONNX and timed on this machine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from latency.bench import time_onnx
from space.export import export_onnx_bytes
from space.profiler import profile_arch
from space.references import reference_arch, reference_names

# A narrower MobileNet and the first FBNet network of ../shared/data/fbnet_latency.csv.
TOUR_EXTRAS = (
    "mobilenet_v2@0.5",
    "fbnet:k5_e6,skip,k3_e1_g2,skip,k5_e1,skip,skip,skip,k5_e6,k5_e1,k3_e1_g2,k5_e1,k5_e6,"
    "k3_e6,k3_e3,k5_e6,k3_e6,k3_e3,k5_e1,k3_e3,k5_e1,k5_e1_g2",
)


def reference_tour(*, runs: int, threads: int) -> Iterator[dict[str, Any]]:
    """One row per reference network: name, hash, params, MACs, ONNX Runtime timing."""
    for name in (*reference_names(), *TOUR_EXTRAS):
        arch = reference_arch(name)
        profile = profile_arch(arch)
        timing = time_onnx(export_onnx_bytes(arch), threads=threads, runs=runs, warmup=5)
        yield {
            "name": "fbnet (csv row 1)" if name.startswith("fbnet:") else name,
            "input": f"{arch.resolution}px",
            "hash": arch.hash,
            "params": profile.params,
            "macs": profile.macs,
            "median_ms": timing.median_ms,
            "p90_ms": timing.p90_ms,
            "cv": timing.cv,
        }
