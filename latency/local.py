"""Latency on this machine: the exported model timed in-process with the agent's protocol.

For searches and benchmarks that run on the machine they time (``edgenas search run``, the
strategy benchmarks); jobs on registered devices measure through the server's queue instead.
"""

from __future__ import annotations

from collections.abc import Callable

from space import Arch

LOCAL = "local"


def local_timer(
    runs: int = 50, rounds: int = 3, quiet_wait_seconds: float = 5.0
) -> Callable[[bytes], float]:
    """``ONNX bytes -> median ms`` on this machine, by the agent's protocol."""
    from latency.bench import QuietCheck, measure  # onnxruntime: only when timing
    from latency.protocol import MeasurementSettings

    quiet = QuietCheck()
    settings = MeasurementSettings(runs=runs, rounds=rounds, quiet_wait_seconds=quiet_wait_seconds)
    return lambda model: measure(model, settings, quiet=quiet).median_ms


def local_latency(
    runs: int = 50, rounds: int = 3, quiet_wait_seconds: float = 5.0
) -> Callable[[Arch], dict[str, float]]:
    """``Arch -> {"local": median ms}``, each architecture timed once and remembered."""
    from space.export import export_onnx_bytes  # torch: only when timing

    timer = local_timer(runs, rounds, quiet_wait_seconds)
    cache: dict[str, float] = {}

    def latency(arch: Arch) -> dict[str, float]:
        if arch.hash not in cache:
            cache[arch.hash] = timer(export_onnx_bytes(arch))
        return {LOCAL: cache[arch.hash]}

    return latency
