"""The job page's figures: what each trace holds, and what a hover says."""

from __future__ import annotations

from api.web.plots import (
    ReferenceLatency,
    Spread,
    hypervolume_figure,
    pareto_figure,
    two_device_figure,
)
from search.trial_record import TrialRecord

DEVICES = ["phone", "laptop"]


def record(
    number: int, accuracy: float, phone: float, laptop: float, **more: object
) -> TrialRecord:
    fields: dict = {
        "number": number,
        "arch": f"r28_w1.0_i1_n10:conv_k3_c{8 * (number + 1)}_s2|head_c64",
        "arch_hash": f"hash{number}",
        "accuracy": accuracy,
        "latency_ms": {"phone": phone, "laptop": laptop},
        "params": 1000 * (number + 1),
        "macs": 50_000 * (number + 1),
        "reward": None,
        "state": "complete",
        "epochs": 3,
        "stopped_early": False,
        "feasible": True,
        "seconds": 1.0,
        **more,
    }
    return TrialRecord(**fields)


TRIALS = [
    record(0, 0.90, 2.0, 1.0),
    record(1, 0.95, 3.0, 1.5, latency_predicted=("phone",)),
    record(2, 0.85, 4.0, 2.0),  # dominated by trial 0 on both devices
]
FRONT = TRIALS[:2]


def test_the_pareto_plot_draws_the_front_first_as_a_step_line_with_references() -> None:
    spreads = {("phone", "hash0"): Spread(0.1, 50)}
    references = [ReferenceLatency("mobilenet_v2@0.5", 2.5)]
    figure = pareto_figure(TRIALS, FRONT, "phone", spreads, references)
    front, others = figure["data"]
    assert front["name"] == "Pareto front" and front["line"]["shape"] == "hv"
    assert front["x"] == [2.0, 3.0] and front["customdata"] == [0, 1]  # fastest first
    assert others["customdata"] == [2]
    assert "2.00 ± 0.10 ms (measured, 50 runs)" in front["text"][0]
    assert "3.00 ms (predicted)" in front["text"][1]
    assert "params 1,000 · MACs 50,000" in front["text"][0]
    (line,) = figure["layout"]["shapes"]
    assert line["x0"] == line["x1"] == 2.5
    assert figure["layout"]["annotations"][0]["text"] == "mobilenet_v2@0.5"


def test_two_devices_are_plotted_against_each_other_coloured_by_accuracy() -> None:
    (trace,) = two_device_figure(TRIALS, FRONT, DEVICES)["data"]
    assert trace["x"] == [2.0, 3.0, 4.0] and trace["y"] == [1.0, 1.5, 2.0]
    assert trace["marker"]["color"] == [0.90, 0.95, 0.85]
    assert trace["marker"]["size"] == [12, 12, 7]  # the front stands out


def test_the_hypervolume_never_falls_as_trials_finish() -> None:
    (trace,) = hypervolume_figure(TRIALS, DEVICES)["data"]
    assert trace["x"] == [0, 1, 2]
    volumes = trace["y"]
    assert volumes[0] > 0 and volumes == sorted(volumes) and volumes[1] > volumes[0]
