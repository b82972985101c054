"""A device's layer lookup table: its timed layer probes, and a network priced from them.

FBNet, ProxylessNAS and Once-for-All price a network as the sum of its layers' latencies, each
timed alone on the device (``space.probes``). The sum misses what happens between layers
(memory traffic of the feature maps, the runtime's per-operator dispatch), so the predictor
does not take it as the answer: it gets the sums per kind of block and the number of layers
as features and learns, from the device's measured networks, how they combine.

A layer the table lacks (a network outside the space the device was profiled on) is
estimated by ``estimate``, a model fitted on the table itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from space import Arch
from space.probes import layer_probes
from space.shapes import plan_layers

# kinds of layer whose summed latency a predictor weighs separately; "head" is the classifier
LAYER_KINDS = ("conv", "ds", "ir", "sh1", "sh2", "fire", "skip", "maxpool", "head")
COLUMNS = (*(f"{kind}_ms" for kind in LAYER_KINDS), "layers")

Estimator = Callable[[Sequence[Arch]], np.ndarray]


class LayerTable:
    """Probe hash -> milliseconds on one device."""

    def __init__(self, timings: Mapping[Arch, float], estimate: Estimator | None = None) -> None:
        self._ms = {probe.hash: float(ms) for probe, ms in timings.items()}
        self._estimate = estimate
        self._rows: dict[str, np.ndarray] = {}  # per network hash: cross-validation asks often

    def __len__(self) -> int:
        return len(self._ms)

    def covers(self, arch: Arch) -> bool:
        return all(probe.hash in self._ms for probe in layer_probes(arch))

    def columns(self, archs: Sequence[Arch]) -> np.ndarray:
        """Per network: summed probe latency of each of ``LAYER_KINDS``, and its layer count."""
        new = {arch.hash: arch for arch in archs if arch.hash not in self._rows}
        probes = {h: layer_probes(arch) for h, arch in new.items()}
        missing = {p.hash: p for ps in probes.values() for p in ps if p.hash not in self._ms}
        estimated = dict(self._ms)
        if missing:
            if self._estimate is None:
                raise KeyError(f"{len(missing)} layers are not in the table")
            values = self._estimate(list(missing.values()))
            estimated.update(zip(missing, map(float, values), strict=True))
        for arch_hash, arch in new.items():
            row = np.zeros(len(COLUMNS))
            kinds = [layer.block.kind for layer in plan_layers(arch)] + ["head"]
            for kind, probe in zip(kinds, probes[arch_hash], strict=True):
                row[LAYER_KINDS.index(kind)] += estimated[probe.hash]
            row[-1] = len(kinds)
            self._rows[arch_hash] = row
        return np.array([self._rows[arch.hash] for arch in archs]).reshape(len(archs), len(COLUMNS))
