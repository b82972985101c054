"""MnasNet's reward: ``ACC(m) * prod_d (LAT_d(m) / T_d) ^ w_d`` with ``w = alpha`` when the
latency meets its target and ``beta`` when it does not.

Presets from the paper: ``soft`` (alpha = beta = -0.07: every 2x in latency costs ~5% reward,
a smooth trade-off) and ``hard`` (alpha = 0, beta = -1: no bonus for being faster than T, a
steep penalty for being slower). With several devices each has its own target and the factors
multiply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

RewardPreset = Literal["soft", "hard"]
PRESETS: dict[RewardPreset, tuple[float, float]] = {"soft": (-0.07, -0.07), "hard": (0.0, -1.0)}


@dataclass(frozen=True)
class MnasReward:
    """The reward for one search: latency targets in milliseconds per device name."""

    targets_ms: Mapping[str, float]
    alpha: float = -0.07
    beta: float = -0.07

    def __post_init__(self) -> None:
        if not self.targets_ms:
            raise ValueError("the mnas reward needs a latency target on at least one device")
        for device, target in self.targets_ms.items():
            if not target > 0:
                raise ValueError(f"latency target for {device!r} must be > 0 ms, got {target}")
        if self.alpha > 0 or self.beta > 0:
            raise ValueError("alpha and beta must be <= 0 (slower must never score higher)")

    @classmethod
    def preset(cls, name: RewardPreset, targets_ms: Mapping[str, float]) -> MnasReward:
        if name not in PRESETS:
            raise ValueError(f"unknown reward preset {name!r}; choose one of {sorted(PRESETS)}")
        alpha, beta = PRESETS[name]
        return cls(dict(targets_ms), alpha, beta)

    def __call__(self, accuracy: float, latencies_ms: Mapping[str, float]) -> float:
        if not 0 <= accuracy <= 1:
            raise ValueError(f"accuracy {accuracy} is not in [0, 1]")
        reward = accuracy
        for device, target in self.targets_ms.items():
            if device not in latencies_ms:
                raise ValueError(f"no latency for device {device!r}")
            latency = latencies_ms[device]
            if not latency > 0:
                raise ValueError(f"latency on {device!r} must be > 0 ms, got {latency}")
            weight = self.alpha if latency <= target else self.beta
            reward *= (latency / target) ** weight
        return reward
