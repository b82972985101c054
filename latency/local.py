"""Latency on this machine: the exported model timed in-process with the agent's protocol.

For searches and benchmarks that run on the machine they time (``edgenas search run``, the
strategy benchmarks); jobs on registered devices measure through the server's queue instead.
"""

from __future__ import annotations

from collections.abc import Callable

from space import Arch

LOCAL = "local"


def local_latency(
    runs: int = 50, rounds: int = 3, quiet_wait_seconds: float = 5.0
) -> Callable[[Arch], dict[str, float]]:
    """``Arch -> {"local": median ms}``, each architecture timed once and remembered."""
    from latency.bench import QuietCheck, measure  # onnxruntime and torch: only when timing
    from latency.protocol import MeasurementSettings
    from space.export import export_onnx_bytes

    quiet = QuietCheck()
    settings = MeasurementSettings(runs=runs, rounds=rounds, quiet_wait_seconds=quiet_wait_seconds)
    cache: dict[str, float] = {}

    def latency(arch: Arch) -> dict[str, float]:
        if arch.hash not in cache:
            cache[arch.hash] = measure(export_onnx_bytes(arch), settings, quiet=quiet).median_ms
        return {LOCAL: cache[arch.hash]}

    return latency
