"""What a search is (its settings and limits) and the Optuna study that keeps it: directions,
metric names, sampler and pruner. Split from ``search.engine`` so that a job's spec can be
checked and its study opened without the search loop."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

import optuna
from optuna.study import StudyDirection

from search.objectives import MnasReward
from search.precision import PRECISIONS, Precision, weight_bytes
from search.screening import ZeroCostScreen
from search.strategies import StrategyName, make_sampler
from search.train import ProxySettings
from space.size_caps import SizeCaps
from space.spaces import SearchSpace

Mode = Literal["mnas", "pareto"]
PrunerName = Literal["none", "median", "successive_halving", "hyperband"]
PRUNERS: tuple[PrunerName, ...] = get_args(PrunerName)
MAX_TRIALS = 10_000  # one search's budget
MAX_DEVICES = 8  # devices one search optimises latency on


@dataclass(frozen=True)
class Constraints:
    """Hard limits; violators are kept and ranked below feasible candidates."""

    max_latency_ms: Mapping[str, float] = field(default_factory=dict)
    max_params: int | None = None
    max_macs: int | None = None
    max_model_bytes: int | None = None  # the weights at each point's precision

    def violations(
        self,
        latencies: Mapping[str, float],
        params: int,
        macs: int,
        precision: Precision = "fp32",
    ) -> dict[str, float]:
        """One value per constraint, > 0 when violated (Optuna's convention), of a candidate
        at ``precision``."""
        values = {f"latency_ms:{d}": latencies[d] - cap for d, cap in self.max_latency_ms.items()}
        if self.max_params is not None:
            values["params"] = float(params - self.max_params)
        if self.max_macs is not None:
            values["macs"] = float(macs - self.max_macs)
        if self.max_model_bytes is not None:
            values["model_bytes"] = float(weight_bytes(params, precision) - self.max_model_bytes)
        return values


@dataclass(frozen=True)
class SearchSettings:
    space: SearchSpace
    devices: tuple[str, ...]
    mode: Mode = "pareto"
    reward: MnasReward | None = None
    strategy: StrategyName = "tpe"
    strategy_settings: Mapping[str, object] = field(default_factory=dict)
    trials: int = 20
    seed: int = 0
    proxy: ProxySettings = field(default_factory=ProxySettings)
    constraints: Constraints = field(default_factory=Constraints)
    pruner: PrunerName = "median"
    early_stop: bool = True
    stop_margin: float = 0.08  # benchmarks/multi_fidelity.py: 0.05 lost front members, 0.08 none
    zero_cost: ZeroCostScreen | None = None
    caps: SizeCaps = field(default_factory=SizeCaps)  # larger candidates are never built
    # fp32 always; int8 adds a point per candidate (``search.precision``)
    precisions: tuple[Precision, ...] = ("fp32",)
    size_objective: bool = False  # pareto: the weights' bytes, minimised, after the latencies

    def __post_init__(self) -> None:
        if self.mode not in ("mnas", "pareto"):
            raise ValueError(f"mode {self.mode!r}: choose 'mnas' or 'pareto'")
        if self.mode == "mnas" and self.reward is None:
            raise ValueError("mode 'mnas' needs a reward (latency targets per device)")
        if not self.devices:
            raise ValueError("a search needs at least one device")
        if len(self.devices) > MAX_DEVICES:
            raise ValueError(f"a search optimises latency on at most {MAX_DEVICES} devices")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner {self.pruner!r}: choose one of {', '.join(PRUNERS)}")
        if self.precisions[:1] != ("fp32",) or not set(self.precisions) <= set(PRECISIONS):
            raise ValueError(f"precisions {self.precisions}: fp32 first, then any of int8")
        if (len(self.precisions) > 1 or self.size_objective) and self.mode != "pareto":
            raise ValueError("precisions beyond fp32 and the size objective: mode 'pareto' only")
        if not 1 <= self.trials <= MAX_TRIALS:
            raise ValueError(f"trials {self.trials}: must be between 1 and {MAX_TRIALS:,}")


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
    directions = [StudyDirection.MAXIMIZE]
    objectives = len(settings.devices) + settings.size_objective
    directions += [StudyDirection.MINIMIZE] * objectives if multi else []
    study = optuna.create_study(
        directions=directions,
        sampler=sampler,
        pruner=_pruner(settings.pruner) if not multi else optuna.pruners.NopPruner(),
        storage=storage,
        study_name=name,
        load_if_exists=True,
    )
    size = ["model_bytes"] if settings.size_objective else []
    latencies = [f"latency_ms:{d}" for d in settings.devices]
    names = ["accuracy", *latencies, *size] if multi else ["reward"]
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


@dataclass(frozen=True)
class RunningTrial:
    """A running trial of a study in storage, seen from another process (a Ray worker): it
    reports intermediate values and asks the study's pruner, through public storage APIs
    (``optuna.Trial`` can only be had from ``ask`` in the proposing process)."""

    study: optuna.Study
    storage: optuna.storages.BaseStorage
    trial_id: int

    @classmethod
    def load(
        cls,
        settings: SearchSettings,
        storage: optuna.storages.BaseStorage,
        name: str,
        number: int,
    ) -> RunningTrial:
        study = load_study(settings, storage, name)
        study_id = storage.get_study_id_from_name(name)
        return cls(
            study, storage, storage.get_trial_id_from_study_id_trial_number(study_id, number)
        )

    def report(self, value: float, step: int) -> None:
        self.storage.set_trial_intermediate_value(self.trial_id, step, value)

    def should_prune(self) -> bool:
        return self.study.pruner.prune(self.study, self.storage.get_trial(self.trial_id))


def _pruner(name: str) -> optuna.pruners.BasePruner:
    return {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3),
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }[name]()
