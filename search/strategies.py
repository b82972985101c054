"""Search strategies as Optuna samplers: Optuna's own, configured, plus the two it lacks.

- ``random``, ``tpe``, ``nsga2``, ``nsga3``: Optuna's samplers.
- ``evolution``: regularized (aging) evolution (Real et al. 2019): the population is the
  ``population_size`` most recent finished trials; a tournament of ``sample_size`` picks a
  parent; the child differs from it in exactly one dimension.
- ``rl``: MnasNet's controller as REINFORCE: a categorical policy per dimension, trained by
  policy gradient on the reward with a moving-average baseline.

Both custom samplers are pure functions of the study's finished trials (taken in trial-number
order) and their seed, so a resumed study continues where it stopped and the same seed gives
the same proposals. Constraints are set on each trial (``Trial.set_constraint``, Optuna 5's
API, which Optuna's own samplers read too); infeasible trials rank below feasible ones, by
total violation, instead of being dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
)
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from search.pareto import dominates

Choice = str | int | float | bool
Dimensions = Mapping[str, Sequence[Choice]]
StrategyName = Literal["random", "tpe", "nsga2", "nsga3", "evolution", "rl"]
STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
SINGLE_OBJECTIVE: frozenset[StrategyName] = frozenset({"rl"})  # they optimise one reward


def check_objective(strategy: str, multi_objective: bool) -> None:
    """A strategy that optimises one reward cannot run a multi-objective (pareto) search."""
    if multi_objective and strategy in SINGLE_OBJECTIVE:
        raise ValueError(f"strategy {strategy!r} optimises one reward: use objective.mode 'mnas'")


MAX_POPULATION = 1_000  # a population is held and ranked at every proposal


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TpeSettings(_Settings):
    n_startup_trials: int = Field(10, ge=0, le=10_000)  # search.study.MAX_TRIALS
    n_ei_candidates: int = Field(24, ge=1, le=1_000)
    multivariate: bool = True
    group: bool = False
    constant_liar: bool = False


class GeneticSettings(_Settings):
    """NSGA-II and NSGA-III."""

    population_size: int = Field(50, ge=2, le=MAX_POPULATION)
    mutation_prob: float | None = Field(None, ge=0, le=1)
    crossover_prob: float = Field(0.9, ge=0, le=1)
    swapping_prob: float = Field(0.5, ge=0, le=1)


class EvolutionSettings(_Settings):
    population_size: int = Field(20, ge=2, le=MAX_POPULATION)
    sample_size: int = Field(5, ge=2, le=MAX_POPULATION)


class PolicySettings(_Settings):
    learning_rate: float = Field(0.5, gt=0, le=100)
    baseline_decay: float = Field(0.9, ge=0, lt=1)


# Each strategy's settings: names, types and ranges, checked before a sampler is built.
STRATEGY_SETTINGS: dict[str, type[_Settings]] = {
    "random": _Settings,
    "tpe": TpeSettings,
    "nsga2": GeneticSettings,
    "nsga3": GeneticSettings,
    "evolution": EvolutionSettings,
    "rl": PolicySettings,
}


def strategy_options(strategy: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` checked against ``strategy``'s own (a ``ValueError`` naming the first bad
    one), with the defaults filled in."""
    model = STRATEGY_SETTINGS.get(strategy)
    if model is None:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    try:
        return model.model_validate(dict(settings or {})).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"strategy {strategy!r}: {where}: {first['msg']}") from None


def make_sampler(
    strategy: str,
    dimensions: Dimensions,
    *,
    seed: int,
    multi_objective: bool,
    settings: Mapping[str, Any] | None = None,
) -> optuna.samplers.BaseSampler:
    """The sampler a job's ``strategy`` names, with its ``settings``; a clear error otherwise."""
    check_objective(strategy, multi_objective)
    options = strategy_options(strategy, settings)
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed, **options)
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **options)
    if strategy == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, **options)
    if strategy == "nsga3":
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2; we pin >= 4
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.NSGAIIISampler(seed=seed, **options)
    if strategy == "evolution":
        return RegularizedEvolutionSampler(dimensions, seed=seed, **options)
    if strategy == "rl":
        return PolicyGradientSampler(dimensions, seed=seed, **options)
    raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


class _DimensionSampler(optuna.samplers.BaseSampler):
    """Shared plumbing: the space's dimensions as categorical distributions, seeded random
    fallback and the finished trials to learn from."""

    def __init__(self, dimensions: Dimensions, seed: int) -> None:
        if not dimensions:
            raise ValueError("the search space has no dimensions to search")
        self._space = {
            name: CategoricalDistribution(list(choices)) for name, choices in dimensions.items()
        }
        self._seed = seed
        self._rng = np.random.RandomState(seed)

    def reseed_rng(self) -> None:
        self._rng.seed(self._seed)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return optuna.samplers.RandomSampler(seed=self._rng.randint(2**31)).sample_independent(
            study, trial, param_name, param_distribution
        )

    def _random(self) -> dict[str, CategoricalChoiceType]:
        return {
            name: dist.choices[self._rng.randint(len(dist.choices))]
            for name, dist in self._space.items()
        }

    def _finished(self, study: optuna.Study) -> list[FrozenTrial]:
        """Completed trials that carry every dimension, in trial-number order."""
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return sorted(
            (t for t in trials if all(name in t.params for name in self._space)),
            key=lambda t: t.number,
        )


def violation(trial: FrozenTrial) -> float:
    """Total constraint violation (0 when feasible or unconstrained)."""
    return float(sum(max(0.0, c) for c in trial.constraints.values()))


def _signed(study: optuna.Study, values: Sequence[float]) -> tuple[float, ...]:
    """Objective values turned so that larger is better for every objective."""
    return tuple(
        v if d == StudyDirection.MAXIMIZE else -v
        for v, d in zip(values, study.directions, strict=True)
    )


def tournament_winner(study: optuna.Study, contenders: Sequence[FrozenTrial]) -> FrozenTrial:
    """Feasible before infeasible (least violation first); then, among the feasible, the best
    value (one objective) or the fewest contenders dominating it (several)."""
    least = min(violation(t) for t in contenders)
    pool = [t for t in contenders if violation(t) == least]
    if len(study.directions) == 1:
        return max(pool, key=lambda t: _signed(study, t.values)[0])
    maximize = [d == StudyDirection.MAXIMIZE for d in study.directions]
    return min(pool, key=lambda t: sum(dominates(o.values, t.values, maximize) for o in pool))


class RegularizedEvolutionSampler(_DimensionSampler):
    """Aging evolution: tournament selection from the most recent trials, one-dimension
    mutation. Until ``population_size`` trials have finished, proposals are random."""

    def __init__(
        self,
        dimensions: Dimensions,
        *,
        seed: int = 0,
        population_size: int = 20,
        sample_size: int = 5,
    ) -> None:
        if not 2 <= sample_size <= population_size:
            raise ValueError(
                f"evolution needs 2 <= sample_size <= population_size, got {sample_size} "
                f"and {population_size}"
            )
        super().__init__(dimensions, seed)
        self.population_size = population_size
        self.sample_size = sample_size
        self._mutable = [name for name, dist in self._space.items() if len(dist.choices) > 1]

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        finished = self._finished(study)
        if len(finished) < self.population_size:
            return self._random()
        population = finished[-self.population_size :]  # the oldest die: aging
        picks = self._rng.choice(len(population), self.sample_size, replace=False)
        parent = tournament_winner(study, [population[i] for i in sorted(picks)])
        child = {name: parent.params[name] for name in self._space}
        if self._mutable:
            name = self._mutable[self._rng.randint(len(self._mutable))]
            others = [c for c in self._space[name].choices if c != child[name]]
            child[name] = others[self._rng.randint(len(others))]
        return child


class PolicyGradientSampler(_DimensionSampler):
    """REINFORCE over independent categorical choices, one softmax per dimension.

    After each finished trial (in trial-number order) the logits move by
    ``learning_rate * (reward - baseline) * (onehot(choice) - softmax)``; the baseline is an
    exponential moving average of the reward (``baseline_decay``), which is what MnasNet's
    controller subtracts too. Infeasible trials count with their reward minus their
    violation. The policy is rebuilt from the study at each proposal, so it survives restarts.
    """

    def __init__(
        self,
        dimensions: Dimensions,
        *,
        seed: int = 0,
        learning_rate: float = 0.5,
        baseline_decay: float = 0.9,
    ) -> None:
        if learning_rate <= 0 or not 0 <= baseline_decay < 1:
            raise ValueError("rl needs learning_rate > 0 and 0 <= baseline_decay < 1")
        super().__init__(dimensions, seed)
        self.learning_rate = learning_rate
        self.baseline_decay = baseline_decay

    def policy(self, study: optuna.Study) -> dict[str, np.ndarray]:
        """Choice probabilities per dimension after learning from every finished trial."""
        logits = {name: np.zeros(len(dist.choices)) for name, dist in self._space.items()}
        baseline: float | None = None
        for trial in self._finished(study):
            if len(trial.values) != 1:
                continue
            reward = _signed(study, trial.values)[0] - violation(trial)
            baseline = reward if baseline is None else baseline
            advantage = reward - baseline
            for name, dist in self._space.items():
                probs = _softmax(logits[name])
                chosen = np.zeros_like(probs)
                chosen[dist.choices.index(trial.params[name])] = 1.0
                logits[name] += self.learning_rate * advantage * (chosen - probs)
            baseline = self.baseline_decay * baseline + (1 - self.baseline_decay) * reward
        return {name: _softmax(values) for name, values in logits.items()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {
            name: self._space[name].choices[self._rng.choice(len(probs), p=probs)]
            for name, probs in self.policy(study).items()
        }


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()
