"""What a trial stores: its attributes, one per stage, read back as they were written."""

from __future__ import annotations

import optuna

from search.trial_record import TrialAttrs, store_evaluation, store_proposal


def test_a_trial_keeps_one_attribute_per_stage_and_reads_back_every_field() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    trial = study.ask()
    store_proposal(trial, arch="a", params=10, macs=20, zero_cost=None)
    store_evaluation(
        trial,
        latency_ms={"cpu": 1.5},
        predicted_ms={"cpu": 1.2},
        latency_predicted=["cpu"],
        epoch_accuracies=[0.5, 0.7],
        stopped_early=False,
        evaluated_on="node-1",
    )
    study.tell(trial, [0.7, 1.5])
    (stored,) = study.get_trials()
    assert sorted(stored.user_attrs) == ["evaluation", "proposal"]  # two writes, not eight
    assert TrialAttrs.of(stored) == TrialAttrs(
        arch="a",
        params=10,
        macs=20,
        latency_ms={"cpu": 1.5},
        predicted_ms={"cpu": 1.2},
        latency_predicted=("cpu",),
        epoch_accuracies=(0.5, 0.7),
        evaluated_on="node-1",
    )


def test_attributes_stored_one_field_per_key_read_the_same() -> None:
    """Studies stored before the stages were grouped."""
    legacy = optuna.trial.create_trial(
        values=[0.7, 1.5],
        params={},
        distributions={},
        user_attrs={"arch": "a", "epoch_accuracies": [0.7], "evaluated_on": "node-1"},
    )
    attrs = TrialAttrs.of(legacy)
    assert (attrs.arch, attrs.epoch_accuracies, attrs.evaluated_on) == ("a", (0.7,), "node-1")
