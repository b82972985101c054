"""The search loop: a strategy proposes, proxy training and the caller's latency score, the
Optuna study keeps everything (ask/tell, so the caller owns storage and parallelism).

Modes:
- ``mnas``: one objective, MnasNet's reward; epochs report the reward so far to the study and
  Optuna's pruner (median, successive halving, Hyperband) stops poor candidates.
- ``pareto``: accuracy up and latency down on every device. Optuna cannot prune
  multi-objective studies, so the loop stops a candidate itself: its latency is known before
  training, and when a member of the current front is at least as fast on every device and
  more accurate than the candidate's accuracy so far by ``stop_margin``, it stops and is
  recorded with the accuracy it reached (flagged ``stopped_early``).

Latency comes from the caller (``Arch -> {device: ms}``): the job runner measures on
registered devices, tests time ONNX Runtime here. No database, no HTTP, no Ray (DESIGN.md).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import optuna

from search.data import ImageDataset
from search.objectives import MnasReward
from search.pareto import pareto_front
from search.strategies import make_sampler, violation
from search.train import ProxySettings, evaluate_arch
from space import Arch
from space.profiler import profile_arch
from space.spaces import SearchSpace

LatencyFn = Callable[[Arch], Mapping[str, float]]
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
    stop_margin: float = 0.05

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


@dataclass(frozen=True)
class TrialRecord:
    """One evaluated candidate."""

    number: int
    arch: str
    arch_hash: str
    accuracy: float
    latency_ms: Mapping[str, float]
    params: int
    macs: int
    reward: float | None
    state: str
    epochs: int
    stopped_early: bool
    feasible: bool
    seconds: float


def create_study(settings: SearchSettings, storage: str | None = None, name: str | None = None):  # type: ignore[no-untyped-def]
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


def _pruner(name: str) -> optuna.pruners.BasePruner:
    return {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3),
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }[name]()


def run_trial(
    study: optuna.Study,
    settings: SearchSettings,
    train: ImageDataset,
    validation: ImageDataset,
    latency: LatencyFn,
) -> TrialRecord:
    """Ask for one candidate, score it, tell the study, return its record."""
    start = time.perf_counter()
    trial = study.ask()
    assignment = {
        name: trial.suggest_categorical(name, choices)
        for name, choices in settings.space.dimensions().items()
    }
    arch = settings.space.decode(assignment)
    profile = profile_arch(arch)
    latencies = {d: float(latency(arch)[d]) for d in settings.devices}
    violations = _violations(settings.constraints, latencies, profile.params, profile.macs)
    trial.set_user_attr("arch", str(arch))
    trial.set_user_attr("latency_ms", latencies)
    trial.set_user_attr("params", profile.params)
    trial.set_user_attr("macs", profile.macs)
    for key, value in violations.items():
        trial.set_constraint(key, value)
    stop = _stopper(study, settings, trial, latencies)
    result = evaluate_arch(arch, train, validation, settings.proxy, on_epoch=stop)
    trial.set_user_attr("epoch_accuracies", list(result.epoch_accuracies))
    trial.set_user_attr("stopped_early", result.stopped_early)
    reward = settings.reward(result.accuracy, latencies) if settings.reward else None
    pruned = settings.mode == "mnas" and result.stopped_early
    if pruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    elif settings.mode == "mnas":
        study.tell(trial, reward)
    else:
        study.tell(trial, [result.accuracy, *(latencies[d] for d in settings.devices)])
    return TrialRecord(
        number=trial.number,
        arch=str(arch),
        arch_hash=arch.hash,
        accuracy=result.accuracy,
        latency_ms=latencies,
        params=profile.params,
        macs=profile.macs,
        reward=reward,
        state="pruned" if pruned else "complete",
        epochs=result.epochs,
        stopped_early=result.stopped_early,
        feasible=all(v <= 0 for v in violations.values()),
        seconds=time.perf_counter() - start,
    )


def _violations(
    constraints: Constraints, latencies: Mapping[str, float], params: int, macs: int
) -> dict[str, float]:
    """One value per constraint, > 0 when violated (Optuna's convention)."""
    values = {
        f"latency_ms:{d}": latencies[d] - limit for d, limit in constraints.max_latency_ms.items()
    }
    if constraints.max_params is not None:
        values["params"] = float(params - constraints.max_params)
    if constraints.max_macs is not None:
        values["macs"] = float(macs - constraints.max_macs)
    return values


def _stopper(
    study: optuna.Study,
    settings: SearchSettings,
    trial: optuna.Trial,
    latencies: Mapping[str, float],
) -> Callable[[int, float], bool]:
    """The per-epoch early stop of this mode (see the module docstring)."""
    if settings.mode == "mnas":
        reward = settings.reward
        assert reward is not None

        def prune(epoch: int, accuracy: float) -> bool:
            trial.report(reward(accuracy, latencies), epoch)
            return trial.should_prune()

        return prune
    front = _front(study, settings.devices)

    def dominated(epoch: int, accuracy: float) -> bool:
        return any(
            member_accuracy >= accuracy + settings.stop_margin
            and all(member[d] <= latencies[d] for d in settings.devices)
            for member_accuracy, member in front
        )

    return dominated


def _front(study: optuna.Study, devices: tuple[str, ...]) -> list[tuple[float, dict]]:
    """(accuracy, latency per device) of the current Pareto front's feasible members."""
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not t.user_attrs.get("stopped_early") and violation(t) <= 0
    ]
    points = [t.values for t in done]
    return [
        (done[i].values[0], dict(zip(devices, done[i].values[1:], strict=True)))
        for i in (pareto_front(points, [True] + [False] * len(devices)) if points else [])
    ]


def run_search(
    settings: SearchSettings,
    train: ImageDataset,
    validation: ImageDataset,
    latency: LatencyFn,
    study: optuna.Study | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
) -> list[TrialRecord]:
    """Run ``settings.trials`` trials one after another (the job runner parallelises)."""
    study = study or create_study(settings)
    records = []
    for _ in range(settings.trials):
        record = run_trial(study, settings, train, validation, latency)
        records.append(record)
        if on_trial is not None:
            on_trial(record)
    return records
