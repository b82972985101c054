"""A search job's specification: what users submit, validated in full before it is queued.

``JobSpec`` is the JSON a user posts (or the YAML the CLI reads). Field-level rules live in
the pydantic models, so a bad value is a 422 naming its field. ``resolve`` then checks what
needs the search space and the data (a preset that does not exist, an inline space that does
not decode, a data set that cannot be read, a constraint no architecture in the space meets)
and turns the spec into the engine's ``SearchSettings``. Devices are checked against the
registry by the caller, which owns the database session.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgenas.errors import InvalidRequestError
from latency.protocol import MeasurementSettings
from search.data import ImageDataset, load_dataset
from search.data_limits import MAX_IMAGES, DataError
from search.objectives import PRESETS, MnasReward, RewardPreset
from search.precision import BYTES_PER_WEIGHT, Precision
from search.screening import ScreenAction, ZeroCostScreen
from search.strategies import StrategyName, check_objective, make_sampler
from search.study import MAX_DEVICES, MAX_TRIALS, Constraints, Mode, PrunerName, SearchSettings
from search.train import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MIN_BATCH_SIZE,
    MIN_TRAIN_IMAGES,
    ProxySettings,
    Schedule,
)
from search.zero_cost import Preference, ProxyName
from space import Arch
from space.errors import SpaceError
from space.presets import search_space
from space.profiler import profile_arch
from space.size_caps import SizeCaps
from space.spaces import SearchSpace, space_from_dict

FP32_ONLY: tuple[Precision, ...] = ("fp32",)
FEASIBILITY_SAMPLES = 256  # architectures tried when checking that a constraint can be met
SIZE_CAPS = SizeCaps()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ProxySpec(Strict):
    """Proxy training (``search.train.ProxySettings``)."""

    epochs: int = Field(3, ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(64, ge=MIN_BATCH_SIZE, le=MAX_BATCH_SIZE)
    train_images: int = Field(4000, ge=MIN_TRAIN_IMAGES, le=MAX_IMAGES)
    learning_rate: float = Field(0.03, gt=0, le=MAX_LEARNING_RATE)
    schedule: Schedule = "onecycle"
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    validation_share: float = Field(0.2, gt=0, lt=1)


class ObjectiveSpec(Strict):
    """``pareto`` (accuracy up, latency down per device) or ``mnas`` (MnasNet's reward)."""

    mode: Mode = "pareto"
    targets_ms: dict[str, float] = Field(default_factory=dict)
    reward: RewardPreset | None = None
    alpha: float | None = Field(None, le=0)
    beta: float | None = Field(None, le=0)
    pruner: PrunerName = "median"
    early_stop: bool = True
    size: bool = Field(False, description="pareto: also minimise the weights' bytes")

    @model_validator(mode="after")
    def _mnas_needs_targets(self) -> ObjectiveSpec:
        if self.mode == "mnas" and not self.targets_ms:
            raise ValueError("mode 'mnas' needs targets_ms: a latency target per device")
        if any(not t > 0 for t in self.targets_ms.values()):
            raise ValueError("every target in targets_ms must be > 0 ms")
        if self.reward is not None and (self.alpha is not None or self.beta is not None):
            raise ValueError("give either a reward preset or alpha and beta, not both")
        return self


class ConstraintSpec(Strict):
    max_latency_ms: dict[str, float] = Field(default_factory=dict)
    max_params: int | None = Field(None, gt=0)
    max_macs: int | None = Field(None, gt=0)
    max_model_bytes: int | None = Field(
        None, gt=0, description="the weights' bytes at each point's precision (4 or 1 a weight)"
    )

    @model_validator(mode="after")
    def _positive(self) -> ConstraintSpec:
        if any(not t > 0 for t in self.max_latency_ms.values()):
            raise ValueError("every limit in max_latency_ms must be > 0 ms")
        return self


class StrategySpec(Strict):
    name: StrategyName = "tpe"
    settings: dict[str, Any] = Field(default_factory=dict)


class ZeroCostSpec(Strict):
    proxy: ProxyName = "grad_norm"
    action: ScreenAction = "prescreen"
    prefer: Preference | None = None
    keep: float = Field(0.5, gt=0, le=1)


class BudgetSpec(Strict):
    trials: int = Field(30, ge=1, le=MAX_TRIALS)
    wall_clock_minutes: float | None = Field(None, gt=0, le=7 * 24 * 60)


LatencyMode = Literal["measured", "predicted", "hybrid"]


class JobSpec(Strict):
    """Everything a search job needs; stored as submitted and returned by ``GET``."""

    name: str = Field("search", min_length=1, max_length=100)
    space: str | dict[str, Any] = "mnasnet"
    data: str = Field("mnist5k", min_length=1, max_length=1000)
    devices: list[str] = Field(min_length=1, max_length=MAX_DEVICES)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    constraints: ConstraintSpec = Field(default_factory=ConstraintSpec)
    strategy: StrategySpec = Field(default_factory=StrategySpec)
    proxy: ProxySpec = Field(default_factory=ProxySpec)
    zero_cost: ZeroCostSpec | None = None
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
    measurement: MeasurementSettings = Field(default_factory=MeasurementSettings)
    latency: LatencyMode = Field(
        "hybrid",
        description="measured: every candidate timed on the devices; predicted: the devices' "
        "predictors only; hybrid: predicted, and measured where it could change the front",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    precision: list[Precision] = Field(
        default_factory=lambda: list(FP32_ONLY),
        description="fp32, and int8 for a second point per candidate: its proxy-trained "
        "network quantized, scored and measured on the devices (pareto mode)",
    )

    @model_validator(mode="after")
    def _devices_agree(self) -> JobSpec:
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("devices: each device may be named once")
        for field, names in (
            ("objective.targets_ms", self.objective.targets_ms),
            ("constraints.max_latency_ms", self.constraints.max_latency_ms),
        ):
            unknown = sorted(set(names) - set(self.devices))
            if unknown:
                raise ValueError(f"{field}: {unknown} are not among the job's devices")
        check_objective(self.strategy.name, multi_objective=self.objective.mode == "pareto")
        if self.precision[:1] != ["fp32"] or len(set(self.precision)) != len(self.precision):
            raise ValueError("precision: fp32 first (the sampler learns from it), then int8")
        if len(self.precision) > 1 and self.objective.mode != "pareto":
            raise ValueError("precision: int8 points join a front; use objective.mode 'pareto'")
        if self.objective.size and self.objective.mode != "pareto":
            raise ValueError("objective.size: an objective of the front; use mode 'pareto'")
        return self


class SpecError(InvalidRequestError):
    """A spec that is well-formed but cannot run (422); ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ResolvedJob:
    settings: SearchSettings
    train: ImageDataset
    validation: ImageDataset
    measurement: MeasurementSettings
    latency: LatencyMode


def resolve(
    spec: JobSpec, data_location: str | None = None, caps: SizeCaps = SIZE_CAPS
) -> ResolvedJob:
    """The engine's settings and the data split for ``spec``, or a ``SpecError``. The data is
    read from ``data_location`` where the server resolved ``spec.data`` to one
    (``workers.datasets``), else from ``spec.data`` itself (a search on this machine).
    Candidates over ``caps`` are never built, and a space with nothing under them is refused."""
    dataset = _dataset(data_location or spec.data)
    space = _space(spec.space).with_task(
        resolution=dataset.resolution,
        in_channels=dataset.channels,
        num_classes=len(dataset.classes),
    )
    searchable, _ = dataset.test_split()
    try:
        train, validation = searchable.split(spec.proxy.validation_share, spec.seed)
    except DataError as exc:  # a share that leaves a side empty
        raise SpecError("proxy.validation_share", str(exc)) from None
    settings = SearchSettings(
        space=space,
        devices=tuple(spec.devices),
        mode=spec.objective.mode,
        reward=_reward(spec.objective),
        strategy=spec.strategy.name,
        strategy_settings=spec.strategy.settings,
        trials=spec.budget.trials,
        seed=spec.seed,
        proxy=ProxySettings(**spec.proxy.model_dump(exclude={"validation_share"}), seed=spec.seed),
        constraints=Constraints(
            max_latency_ms=spec.constraints.max_latency_ms,
            max_params=spec.constraints.max_params,
            max_macs=spec.constraints.max_macs,
            max_model_bytes=spec.constraints.max_model_bytes,
        ),
        pruner=spec.objective.pruner,
        early_stop=spec.objective.early_stop,
        zero_cost=ZeroCostScreen(**spec.zero_cost.model_dump()) if spec.zero_cost else None,
        caps=caps,
        precisions=tuple(spec.precision),
        size_objective=spec.objective.size,
    )
    _check_strategy(settings)
    _check_feasible(space, spec.constraints, caps, spec.precision)
    return ResolvedJob(settings, train, validation, spec.measurement, spec.latency)


def _dataset(data: str) -> ImageDataset:
    try:
        return load_dataset(data)
    except DataError as exc:
        raise SpecError("data", str(exc)) from None


def _space(space: str | dict[str, Any]) -> SearchSpace:
    try:
        return search_space(space) if isinstance(space, str) else space_from_dict(space)
    except SpaceError as exc:
        raise SpecError("space", str(exc).strip("'\"")) from None


def _reward(objective: ObjectiveSpec) -> MnasReward | None:
    if objective.mode != "mnas":
        return None
    if objective.alpha is not None or objective.beta is not None:
        soft = PRESETS["soft"]
        return MnasReward(
            objective.targets_ms,
            soft[0] if objective.alpha is None else objective.alpha,
            soft[1] if objective.beta is None else objective.beta,
        )
    return MnasReward.preset(objective.reward or "soft", objective.targets_ms)


def _check_strategy(settings: SearchSettings) -> None:
    """Build the sampler once, so an unknown strategy setting is refused at submission."""
    try:
        make_sampler(
            settings.strategy,
            settings.space.dimensions(),
            seed=settings.seed,
            multi_objective=settings.mode == "pareto",
            settings=settings.strategy_settings,
        )
    except ValueError as exc:
        raise SpecError("strategy.settings", str(exc)) from None


def _check_feasible(
    space: SearchSpace,
    constraints: ConstraintSpec,
    caps: SizeCaps,
    precisions: list[Precision],
) -> None:
    """Refuse a space whose networks are all over the service's size caps, or a params or
    MACs limit that none meets: judged on the first choice of every dimension and
    ``FEASIBILITY_SAMPLES`` random samples that decode at the data's resolution (profiles
    only: nothing is built)."""
    rng = random.Random(0)
    first = {name: choices[0] for name, choices in space.dimensions().items()}
    assignments = [first, *(space.sample(rng) for _ in range(FEASIBILITY_SAMPLES))]
    archs, errors = _decodable(space, assignments)
    if not archs:
        raise SpecError("space", f"no architecture of the space fits the data: {errors[0]}")
    profiles = [profile_arch(arch) for arch in archs]
    refusals = [caps.refusal(p) for p in profiles]
    if all(refusals):
        raise SpecError("space", f"every architecture tried is too large: {refusals[0]}")
    least_bytes = min(BYTES_PER_WEIGHT[p] for p in precisions)
    smallest_of = {
        "max_params": lambda p: p.params,
        "max_macs": lambda p: p.macs,
        "max_model_bytes": lambda p: p.params * least_bytes,
    }
    for field, of in smallest_of.items():
        limit = getattr(constraints, field)
        if limit is None:
            continue
        smallest = min(of(p) for p in profiles)
        if smallest > limit:
            raise SpecError(
                f"constraints.{field}",
                f"{limit:,} is below every architecture tried in the space "
                f"(smallest {smallest:,}); the search could find nothing feasible",
            )


def _decodable(
    space: SearchSpace, assignments: list[dict[str, Any]]
) -> tuple[list[Arch], list[SpaceError]]:
    """The architectures of ``assignments`` that exist at the space's resolution (a small
    image leaves some strided samples with nothing to convolve), and why the others do not."""
    found, errors = [], []
    for assignment in assignments:
        try:
            found.append(space.decode(assignment))
        except SpaceError as exc:
            errors.append(exc)
    return found, errors
