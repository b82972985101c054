"""The search loop on real digits with real ONNX Runtime latency, in both modes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import optuna
import pytest

from latency.bench import time_onnx
from search.data import load_dataset
from search.engine import Proposal, _stopper, propose, run_search
from search.objectives import MnasReward
from search.pareto import dominates
from search.screening import ZeroCostScreen
from search.study import Constraints, SearchSettings, create_study
from search.train import ProxySettings
from space import Arch
from space.export import export_onnx_bytes
from space.size_caps import SizeCaps
from space.spaces import FactorizedSpace, StageChoices

optuna.logging.set_verbosity(optuna.logging.WARNING)
TINY_SPACE = FactorizedSpace(
    name="tiny",
    stem=("conv_k3_c16_s2",),
    head="head",
    resolutions=(28,),
    in_channels=1,
    num_classes=10,
    stages=(
        StageChoices(channels=24, layers=1, stride=2, ops=("conv", "ds", "ir_e3"), kernels=(3, 5)),
        StageChoices(channels=32, layers=1, stride=2, ops=("conv", "ir_e3"), widths=(0.75, 1.0)),
    ),
)
PROXY = ProxySettings(epochs=2, batch_size=32, train_images=600, learning_rate=0.2)


def onnx_latency(arch: Arch) -> dict[str, float]:
    """Real latency: the exported model timed with ONNX Runtime on this CPU."""
    return {"cpu": time_onnx(export_onnx_bytes(arch), runs=10, warmup=2).median_ms}


@pytest.fixture(scope="module")
def digits():
    train, validation = load_dataset("mnist5k").split(0.1, seed=0)
    return train, validation.subset(200, seed=0)


def test_pareto_search_finds_a_non_dominated_front(digits) -> None:
    settings = SearchSettings(
        space=TINY_SPACE, devices=("cpu",), strategy="random", trials=5, proxy=PROXY
    )
    study = create_study(settings)
    records = run_search(settings, *digits, onnx_latency, study=study)
    assert len(records) == 5 and all(r.latency_ms["cpu"] > 0 for r in records)
    assert all(0 <= r.accuracy <= 1 and r.params > 0 for r in records)
    assert study.metric_names == ["accuracy", "latency_ms:cpu"]
    front = study.best_trials
    for member in front:
        assert not any(dominates(o.values, member.values, (True, False)) for o in study.trials)


def test_mnas_search_scores_the_reward_and_respects_constraints(digits) -> None:
    reward = MnasReward.preset("soft", {"cpu": 0.05})
    settings = SearchSettings(
        space=TINY_SPACE,
        devices=("cpu",),
        mode="mnas",
        reward=reward,
        strategy="evolution",
        strategy_settings={"population_size": 3, "sample_size": 2},
        trials=4,
        proxy=PROXY,
        constraints=Constraints(max_params=1),
        pruner="none",
    )
    records = run_search(settings, *digits, onnx_latency)
    for record in records:
        assert record.reward == pytest.approx(reward(record.accuracy, record.latency_ms))
        assert record.feasible is False  # no network has a single parameter


def test_pareto_candidates_dominated_by_the_front_at_the_same_epoch_stop_early(digits) -> None:
    settings = SearchSettings(space=TINY_SPACE, devices=("cpu",), trials=1, stop_margin=0.05)
    study = create_study(settings)
    study.add_trial(
        optuna.trial.create_trial(
            values=[0.95, 1.0],
            params={},
            distributions={},
            user_attrs={"epoch_accuracies": [0.60, 0.95], "latency_ms": {"cpu": 1.0}},
        )
    )
    proposal = propose(study, settings, digits[0])
    assert isinstance(proposal, Proposal)
    candidate = proposal.candidate
    assert len(candidate.front) == 1
    slower = _stopper(None, settings, candidate, {"cpu": 2.0})
    faster = _stopper(None, settings, candidate, {"cpu": 0.5})
    assert slower(0, 0.50) and not slower(0, 0.58)  # the member had 0.60 after epoch one
    assert slower(1, 0.85) and not slower(1, 0.93)  # and 0.95 after two
    assert not faster(0, 0.10)  # faster than the front: never dominated
    unstopped = replace(settings, early_stop=False)
    assert not _stopper(None, unstopped, candidate, {"cpu": 2.0})(0, 0.10)


@pytest.mark.parametrize(("proxy", "prefer"), [("synflow", "high"), ("grad_norm", "low")])
def test_zero_cost_prescreen_skips_poor_scorers_before_measuring_them(
    digits, proxy: str, prefer: str
) -> None:
    measured: list[str] = []

    def counted_latency(arch: Arch) -> dict[str, float]:
        measured.append(str(arch))
        return onnx_latency(arch)

    settings = SearchSettings(
        space=TINY_SPACE,
        devices=("cpu",),
        strategy="random",
        trials=6,
        proxy=PROXY,
        zero_cost=ZeroCostScreen(proxy, "prescreen", keep=0.5, warmup=2),
    )
    study = create_study(settings)
    records = run_search(settings, *digits, counted_latency, study=study)
    screened = [r for r in records if r.state == "screened"]
    trained = [r for r in records if r.state == "complete"]
    assert screened and trained and len(screened) + len(trained) == 6
    assert sorted(measured) == sorted(r.arch for r in trained)  # nothing spent on the skipped
    assert all(r.accuracy is None and r.zero_cost is not None for r in screened)
    assert settings.zero_cost.prefer == prefer  # the measured direction by default
    for record in records[2:]:  # after the warm-up: skipped exactly when on the median's bad side
        earlier = [r.zero_cost for r in records if r.number < record.number]
        worse = np.median(earlier) - record.zero_cost
        assert (record.state == "screened") == (worse > 0 if prefer == "high" else worse < 0)
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert len(pruned) == len(screened)


def test_zero_cost_rank_scores_every_candidate_and_trains_them_all(digits) -> None:
    settings = SearchSettings(
        space=TINY_SPACE,
        devices=("cpu",),
        strategy="random",
        trials=3,
        proxy=PROXY,
        zero_cost=ZeroCostScreen("naswot", "rank"),
    )
    records = run_search(settings, *digits, onnx_latency)
    assert all(r.state == "complete" and r.zero_cost is not None for r in records)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="needs a reward"):
        SearchSettings(space=TINY_SPACE, devices=("cpu",), mode="mnas")
    with pytest.raises(ValueError, match="pruner 'magic'"):
        SearchSettings(space=TINY_SPACE, devices=("cpu",), pruner="magic")
    with pytest.raises(ValueError, match="at least one device"):
        SearchSettings(space=TINY_SPACE, devices=())
    with pytest.raises(ValueError, match="zero-cost proxy 'magic'"):
        ZeroCostScreen("magic")
    with pytest.raises(ValueError, match="zero-cost keep 0"):
        ZeroCostScreen(keep=0)
    with pytest.raises(ValueError, match="zero-cost prefer 'middle'"):
        ZeroCostScreen(prefer="middle")  # type: ignore[arg-type]


def test_candidates_over_the_size_caps_are_settled_unbuilt(digits) -> None:
    built: list[str] = []

    def counted_latency(arch: Arch) -> dict[str, float]:
        built.append(str(arch))
        return onnx_latency(arch)

    caps = SizeCaps(max_arch_params=1_000)  # every network of the tiny space has more
    settings = SearchSettings(space=TINY_SPACE, devices=("cpu",), trials=3, caps=caps)
    records = run_search(settings, *digits, counted_latency)
    assert built == []  # no latency asked, no export, no training
    assert [r.state for r in records] == ["pruned"] * 3
    assert all(r.accuracy is None and r.epochs == 0 for r in records)
    assert all("over the service's cap of 1,000 (max_arch_params)" in r.error for r in records)
