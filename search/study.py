"""What a search is (its settings and limits) and the Optuna study that keeps it: directions,
metric names, sampler and pruner. Split from ``search.engine`` so that a job's spec can be
checked and its study opened without the search loop."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import optuna

from search.objectives import MnasReward
from search.screening import ZeroCostScreen
from search.strategies import make_sampler
from search.train import ProxySettings
from space.spaces import SearchSpace

PRUNERS = ("none", "median", "successive_halving", "hyperband")


@dataclass(frozen=True)
class Constraints:
    """Hard limits; violators are kept and ranked below feasible candidates."""

    max_latency_ms: Mapping[str, float] = field(default_factory=dict)
    max_params: int | None = None
    max_macs: int | None = None


@dataclass(frozen=True)
class SearchSettings:
    space: SearchSpace
    devices: tuple[str, ...]
    mode: Literal["mnas", "pareto"] = "pareto"
    reward: MnasReward | None = None
    strategy: str = "tpe"
    strategy_settings: Mapping[str, object] = field(default_factory=dict)
    trials: int = 20
    seed: int = 0
    proxy: ProxySettings = field(default_factory=ProxySettings)
    constraints: Constraints = field(default_factory=Constraints)
    pruner: str = "median"
    early_stop: bool = True
    stop_margin: float = 0.08  # benchmarks/multi_fidelity.py: 0.05 lost front members, 0.08 none
    zero_cost: ZeroCostScreen | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("mnas", "pareto"):
            raise ValueError(f"mode {self.mode!r}: choose 'mnas' or 'pareto'")
        if self.mode == "mnas" and self.reward is None:
            raise ValueError("mode 'mnas' needs a reward (latency targets per device)")
        if not self.devices:
            raise ValueError("a search needs at least one device")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner {self.pruner!r}: choose one of {', '.join(PRUNERS)}")
        if not 1 <= self.trials <= 100_000:
            raise ValueError(f"trials {self.trials}: must be between 1 and 100,000")


def create_study(
    settings: SearchSettings,
    storage: str | optuna.storages.BaseStorage | None = None,
    name: str | None = None,
) -> optuna.Study:
    """The study for ``settings``: directions, metric names, sampler and pruner."""
    multi = settings.mode == "pareto"
    sampler = make_sampler(
        settings.strategy,
        settings.space.dimensions(),
        seed=settings.seed,
        multi_objective=multi,
        settings=settings.strategy_settings,
    )
    directions = ["maximize"] + (["minimize"] * len(settings.devices) if multi else [])
    study = optuna.create_study(
        directions=directions,
        sampler=sampler,
        pruner=_pruner(settings.pruner) if not multi else optuna.pruners.NopPruner(),
        storage=storage,
        study_name=name,
        load_if_exists=True,
    )
    names = ["accuracy", *(f"latency_ms:{d}" for d in settings.devices)] if multi else ["reward"]
    with warnings.catch_warnings():  # "experimental" since Optuna 3.2; optuna-dashboard reads it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)
    return study


def load_study(
    settings: SearchSettings, storage: str | optuna.storages.BaseStorage, name: str
) -> optuna.Study:
    """An existing study with this search's pruner, for reporting epochs from another process
    (no sampler: that process never asks)."""
    return optuna.load_study(study_name=name, storage=storage, pruner=_pruner(settings.pruner))


def _pruner(name: str) -> optuna.pruners.BasePruner:
    return {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3),
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }[name]()
