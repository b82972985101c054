"""Precision as a search dimension, in-process: each fully trained candidate also quantized to
int8, scored in ONNX Runtime and timed on this CPU; the front holds points of both
precisions when the weights' size is an objective."""

from __future__ import annotations

import optuna
import pytest

from latency.local import LOCAL, local_latency
from search.data import load_dataset
from search.engine import run_search
from search.pareto import dominates
from search.results import front_of, summary
from search.study import Constraints, SearchSettings, create_study
from search.trial_record import precision_points
from tests.search_tests.test_engine import PROXY, TINY_SPACE
from workers.low_precision import LocalInt8
from workers.spec import JobSpec, SpecError, resolve

optuna.logging.set_verbosity(optuna.logging.WARNING)


def int8_search(trials: int, **changes: object) -> SearchSettings:
    """A tiny random search of both precisions on this CPU, no early stop."""
    return SearchSettings(
        space=TINY_SPACE,
        devices=(LOCAL,),
        strategy="random",
        trials=trials,
        proxy=PROXY,
        early_stop=False,
        precisions=("fp32", "int8"),
        **changes,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def digits():
    usable, _ = load_dataset("mnist5k").test_split()
    train, validation = usable.split(0.1, seed=0)
    return train, validation.subset(200, seed=0)


def test_every_trained_candidate_gets_a_measured_int8_point_and_both_join_the_front(
    digits,
) -> None:
    settings = int8_search(4, size_objective=True)
    study = create_study(settings)
    timer = local_latency(runs=10, rounds=1, quiet_wait_seconds=0)
    records = run_search(settings, *digits, timer, study=study, low_precision=LocalInt8())
    assert study.metric_names == ["accuracy", f"latency_ms:{LOCAL}", "model_bytes"]
    for record in records:
        int8 = record.low_precision["int8"]
        assert 0 <= int8["accuracy"] <= 1 and int8["latency_ms"][LOCAL] > 0
        assert abs(int8["accuracy"] - record.accuracy) < 0.2  # the same network, quantized

    front = front_of(records, (LOCAL,), size=True)
    assert {m.precision for m in front} == {"fp32", "int8"}
    points = [p for r in records for p in precision_points(r)]
    assert len(points) == 2 * len(records)
    for member in front:  # no point of either precision dominates a member
        mine = member.point((LOCAL,), size=True)
        assert not any(
            dominates(p.point((LOCAL,), size=True), mine, (True, False, False)) for p in points
        )
    assert {m["precision"] for m in summary(records, (LOCAL,), size=True)["front"]} == {
        "fp32",
        "int8",
    }


def test_a_size_limit_keeps_only_the_points_that_fit(digits) -> None:
    settings = int8_search(3)
    timer = local_latency(runs=10, rounds=1, quiet_wait_seconds=0)
    records = run_search(settings, *digits, timer, low_precision=LocalInt8())
    smallest = min(r.params for r in records)
    # int8 fits, fp32 does not
    limited = int8_search(3, constraints=Constraints(max_model_bytes=smallest * 2))
    kept = run_search(limited, *digits, timer, low_precision=LocalInt8())
    front = front_of(kept, (LOCAL,))
    assert front and all(m.precision == "int8" and m.model_bytes <= smallest * 2 for m in front)


def test_a_spec_with_int8_in_mnas_mode_or_without_fp32_is_refused() -> None:
    base = {"devices": ["cpu"], "precision": ["fp32", "int8"]}
    with pytest.raises(ValueError, match="pareto"):
        JobSpec.model_validate({**base, "objective": {"mode": "mnas", "targets_ms": {"cpu": 1.0}}})
    with pytest.raises(ValueError, match="fp32 first"):
        JobSpec.model_validate({**base, "precision": ["int8"]})
    with pytest.raises(SpecError, match="max_model_bytes"):
        resolve(JobSpec.model_validate({**base, "constraints": {"max_model_bytes": 10}}))
