"""Where a search's latencies come from: measured, or predicted and measured where it matters.

A ``LatencySource`` gives an estimate before training (measured devices exact, predicted ones
with a standard deviation) and, for a trained candidate that could join the front,
``confirm`` replaces predictions with measurements. The engine decides which candidates that
is (``worth_measuring``): those whose *optimistic* point, every predicted latency
``OPTIMISM_Z`` standard deviations lower, no front member dominates (pareto) or whose
optimistic reward reaches the best so far (mnas). A candidate left with predictions is then
dominated by a measured member (its predicted point is no better than its optimistic one),
and stays dominated, so every member of the front a search reports was measured.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from search.early_stop import Curve
from search.pareto import dominates
from space import Arch

LatencyFn = Callable[[Arch], Mapping[str, float]]
OPTIMISM_Z = 2.0  # a predicted latency this many standard deviations low is still plausible


@dataclass(frozen=True)
class LatencyEstimate:
    """Milliseconds per device; ``std_ms`` holds the predicted devices (measured ones absent)."""

    ms: Mapping[str, float]
    std_ms: Mapping[str, float] = field(default_factory=dict)

    @property
    def predicted(self) -> tuple[str, ...]:
        return tuple(sorted(self.std_ms))

    def optimistic(self) -> dict[str, float]:
        """Every predicted latency ``OPTIMISM_Z`` standard deviations lower (never below 0)."""
        return {
            device: max(ms - OPTIMISM_Z * self.std_ms.get(device, 0.0), 0.0)
            for device, ms in self.ms.items()
        }


class LatencySource(Protocol):
    def estimate(self, arch: Arch) -> LatencyEstimate:
        """Latency on every device before training: measured or predicted."""
        ...

    def confirm(self, arch: Arch, estimate: LatencyEstimate) -> LatencyEstimate:
        """The latencies to keep for a candidate that may join the front."""
        ...


@dataclass(frozen=True)
class MeasuredLatency:
    """Every latency measured (``fn``: ONNX Runtime here, or the devices' agents)."""

    fn: LatencyFn

    def estimate(self, arch: Arch) -> LatencyEstimate:
        return LatencyEstimate(dict(self.fn(arch)))

    def confirm(self, arch: Arch, estimate: LatencyEstimate) -> LatencyEstimate:
        return estimate


def could_join_front(
    accuracy: float,
    optimistic_ms: Mapping[str, float],
    devices: Sequence[str],
    front: Sequence[Curve],
) -> bool:
    """No member of ``front`` dominates (``accuracy``, optimistic latency per device)."""
    maximize = [True] + [False] * len(devices)
    point = (accuracy, *(optimistic_ms[d] for d in devices))
    return not any(
        dominates(
            (member.epoch_accuracies[-1], *(member.latency_ms[d] for d in devices)),
            point,
            maximize,
        )
        for member in front
    )
