"""A device's first measurements, chosen deliberately: architectures spread over a search space.

A new device's predictor is only as good as what was measured; the first candidates of a
search are whatever its sampler proposes. Calibrating queues the most informative subset
(``latency.selection.informative_subset``) of a pool of samples instead, so that every kind of
operator is priced before the search starts. It also queues every distinct layer of the space
as a probe (``space.probes``): timed alone, they make the device's layer lookup table.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from latency.selection import informative_subset
from space import Arch
from space.presets import search_space
from space.probes import space_probes
from space.spaces import SearchSpace

MAX_CALIBRATION = 100  # measurements one request may queue (each is exported to ONNX)
POOL_PER_PICK = 10  # the subset is chosen from this many samples per pick
MAX_SAMPLE_TRIES = 20  # samples drawn per pool slot before a small space counts as exhausted
# layers one request may queue: mixed at 224x224 has 1,861, timed in ~14 min on a 2-core VM
MAX_CALIBRATION_LAYERS = 5000


def calibration_archs(space: SearchSpace, count: int, seed: int = 0) -> list[Arch]:
    """Up to ``count`` distinct architectures of ``space`` that cover it (fewer when the space
    has fewer)."""
    if not 1 <= count <= MAX_CALIBRATION:
        raise ValueError(f"count={count}: must be between 1 and {MAX_CALIBRATION}")
    rng = random.Random(seed)
    wanted = count * POOL_PER_PICK
    pool: dict[str, Arch] = {}
    for _ in range(wanted * MAX_SAMPLE_TRIES):
        if len(pool) == wanted:
            break
        arch = space.decode(space.sample(rng))
        pool.setdefault(arch.hash, arch)
    archs = list(pool.values())
    return [archs[i] for i in informative_subset(archs, count, seed=seed)]


def calibration_layers(space: SearchSpace, seed: int = 0) -> list[Arch]:
    """Every distinct layer of ``space`` as a probe; ``SearchSpaceError`` past
    ``MAX_CALIBRATION_LAYERS``."""
    return space_probes(space, MAX_CALIBRATION_LAYERS, seed)


@dataclass(frozen=True)
class CalibrationPlan:
    """What calibrating a device on a space measures: networks spread over the space and,
    if asked for, every distinct layer of it as a probe."""

    networks: list[Arch]
    probes: list[Arch]

    @property
    def archs(self) -> list[Arch]:
        return self.networks + self.probes


def calibration_plan(
    space_name: str, *, resolution: int | None, count: int, layers: bool, seed: int
) -> CalibrationPlan:
    """The plan for a shipped space, at ``resolution`` (the job to come's; default the
    space's own)."""
    space = search_space(space_name)
    if resolution is not None:
        space = space.with_task(
            resolution=resolution, in_channels=space.in_channels, num_classes=space.num_classes
        )
    probes = calibration_layers(space, seed) if layers else []
    return CalibrationPlan(calibration_archs(space, count, seed), probes)
