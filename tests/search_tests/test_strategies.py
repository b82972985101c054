"""Every strategy is an Optuna sampler, reproducible by seed; evolution and rl behave as
their papers say (one-dimension mutation from a tournament winner; a policy that learns)."""

from __future__ import annotations

import optuna
import pytest

from search.strategies import STRATEGIES, PolicyGradientSampler, make_sampler, tournament_winner
from space.presets import search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)
DIMENSIONS = {"op": ["conv", "ds", "ir_e3", "ir_e6"], "k": [3, 5, 7], "se": [0.0, 0.25]}
GOOD = {"op": "ir_e6", "k": 5, "se": 0.25}


def score(params: dict) -> float:
    """A cheap objective with one best architecture: how many dimensions match GOOD."""
    return float(sum(params[name] == value for name, value in GOOD.items()))


def run(strategy: str, seed: int, trials: int, objectives: int = 1, **settings) -> optuna.Study:
    directions = ["maximize"] + ["minimize"] * (objectives - 1)
    sampler = make_sampler(
        strategy, DIMENSIONS, seed=seed, multi_objective=objectives > 1, settings=settings
    )
    study = optuna.create_study(directions=directions, sampler=sampler)
    for _ in range(trials):
        trial = study.ask()
        params = {
            name: trial.suggest_categorical(name, choices) for name, choices in DIMENSIONS.items()
        }
        values = [score(params), float(DIMENSIONS["k"].index(params["k"]))][:objectives]
        study.tell(trial, values)
    return study


def proposals(study: optuna.Study) -> list[dict]:
    return [t.params for t in study.trials]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_seed_same_proposals(strategy: str) -> None:
    settings = {"population_size": 8, "sample_size": 3} if strategy == "evolution" else {}
    if strategy in ("nsga2", "nsga3"):
        settings = {"population_size": 8}
    first = proposals(run(strategy, seed=3, trials=30, **settings))
    assert first == proposals(run(strategy, seed=3, trials=30, **settings))
    assert first != proposals(run(strategy, seed=4, trials=30, **settings))


@pytest.mark.parametrize("strategy", ["random", "tpe", "nsga2", "nsga3", "evolution"])
def test_multi_objective_strategies_run_pareto_studies(strategy: str) -> None:
    settings = {"population_size": 8} if strategy != "random" and strategy != "tpe" else {}
    if strategy == "evolution":
        settings["sample_size"] = 3
    study = run(strategy, seed=0, trials=20, objectives=2, **settings)
    assert study.best_trials and all(len(t.values) == 2 for t in study.best_trials)


def test_evolution_children_differ_from_a_population_member_in_one_dimension() -> None:
    study = run("evolution", seed=0, trials=40, population_size=10, sample_size=4)
    trials = study.trials
    for child in trials[10:]:
        earlier = [t.params for t in trials[max(0, child.number - 10) : child.number]]
        distances = [sum(child.params[n] != p[n] for n in DIMENSIONS) for p in earlier]
        assert 1 in distances, (child.number, child.params)
    assert max(t.value for t in trials) == 3.0  # it finds the best architecture


def test_the_rl_policy_learns_the_rewarded_choices() -> None:
    study = run("rl", seed=0, trials=80, learning_rate=0.5)
    sampler = study.sampler
    assert isinstance(sampler, PolicyGradientSampler)
    policy = sampler.policy(study)
    for name, best in GOOD.items():
        index = DIMENSIONS[name].index(best)
        assert policy[name][index] == policy[name].max()
        assert policy[name][index] > 1 / len(DIMENSIONS[name])
    late = [t.value for t in study.trials[-20:]]
    early = [t.value for t in study.trials[:20]]
    assert sum(late) > sum(early)


def test_rl_resumes_from_the_study_not_from_memory() -> None:
    study = run("rl", seed=0, trials=30)
    fresh = make_sampler("rl", DIMENSIONS, seed=0, multi_objective=False)
    assert isinstance(fresh, PolicyGradientSampler)
    restored = fresh.policy(study)
    assert all((restored[n] == study.sampler.policy(study)[n]).all() for n in DIMENSIONS)


@pytest.mark.parametrize(
    ("strategy", "kwargs", "message"),
    [
        ("annealing", {}, "unknown strategy 'annealing'"),
        ("rl", {"multi_objective": True}, "use objective.mode 'mnas'"),
        ("evolution", {"settings": {"population_size": 4, "sample_size": 5}}, "sample_size"),
        ("tpe", {"settings": {"warp_drive": True}}, "strategy 'tpe': warp_drive: Extra inputs"),
        (
            "tpe",
            {"settings": {"n_ei_candidates": 10**9}},
            "n_ei_candidates: Input should be less than or equal to 1000",
        ),
        ("nsga2", {"settings": {"population_size": "8"}}, "population_size: .* valid integer"),
        ("nsga3", {"settings": {"crossover_prob": 2}}, "crossover_prob: .* less than or equal"),
        ("rl", {"settings": {"baseline_decay": 1.0}}, "baseline_decay: .* less than 1"),
        ("random", {"settings": {"seed": 3}}, "strategy 'random': seed: Extra inputs"),
    ],
)
def test_bad_strategies_and_settings_get_clear_errors(strategy, kwargs, message) -> None:
    arguments = {"seed": 0, "multi_objective": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_sampler(strategy, DIMENSIONS, **arguments)


def test_a_real_space_drives_a_sampler() -> None:
    space = search_space("mnasnet")
    sampler = make_sampler("evolution", space.dimensions(), seed=0, multi_objective=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for _ in range(25):
        trial = study.ask()
        assignment = {n: trial.suggest_categorical(n, c) for n, c in space.dimensions().items()}
        arch = space.decode(assignment)
        study.tell(trial, -float(len(str(arch))))
    assert len({t.params["s0_op"] for t in study.trials}) > 1


def test_tournaments_prefer_feasible_candidates_whatever_their_value() -> None:
    study = optuna.create_study(direction="maximize")
    for value, violation in ((0.99, 5.0), (0.5, 0.0), (0.98, 1.0)):
        study.add_trial(
            optuna.trial.create_trial(value=value, system_attrs={"constraints:params": violation})
        )
    assert tournament_winner(study, study.trials).value == 0.5
    infeasible = [study.trials[0], study.trials[2]]
    assert tournament_winner(study, infeasible).value == 0.98  # the smaller violation wins
