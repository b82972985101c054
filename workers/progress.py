"""A job's progress: the figures its runner records and ``GET /v1/jobs/{id}`` shows."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState
from pydantic import BaseModel, Field

from search.pareto import hypervolume, pareto_front, reference_point
from search.trial_record import TrialAttrs


class JobProgress(BaseModel):
    """Where a job stands. A queued job has only its budget; the rest comes from its study."""

    trials_done: int = Field(0, description="complete and pruned trials: what the budget counts")
    trials_running: int = 0
    trials_pruned: int = 0
    trials_failed: int = 0
    budget: int = Field(0, description="trials the job asked for")
    eta_seconds: float | None = Field(None, description="at the pace so far")
    latency_measured: int = Field(0, description="device latencies taken from measurements")
    measurements_saved: int = Field(0, description="device latencies taken from a prediction")
    best_accuracy: float | None = Field(None, description="pareto mode, fully trained trials")
    hypervolume: float | None = Field(None, description="pareto mode, of the current front")
    best_reward: float | None = Field(None, description="mnas mode")
    epochs: int | None = Field(None, description="a training job's epochs")
    epochs_done: int | None = Field(None, description="a training job's epochs so far")
    stage: str | None = Field(None, description="a training job: training, exporting, measuring")


def progress_of(
    study: optuna.Study, mode: str, running: int, budget: int, elapsed: float
) -> JobProgress:
    """The job's figures from its study, ``running`` evaluations in flight."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = sum(t.state == TrialState.PRUNED for t in trials)
    done = len(complete) + pruned
    stored = {t.number: TrialAttrs.of(t) for t in trials}  # read each trial's attributes once
    timed = [attrs for attrs in stored.values() if attrs.latency_ms]
    predicted = sum(len(attrs.latency_predicted) for attrs in timed)
    progress = JobProgress(
        trials_done=done,
        trials_running=running,
        trials_pruned=pruned,
        trials_failed=sum(t.state == TrialState.FAIL for t in trials),
        budget=budget,
        eta_seconds=elapsed / done * (budget - done) if done else None,
        latency_measured=sum(len(attrs.latency_ms) for attrs in timed) - predicted,
        measurements_saved=predicted,
    )
    if mode == "mnas":
        progress.best_reward = max((t.values[0] for t in complete), default=None)
        return progress
    points = [t.values for t in complete if not stored[t.number].stopped_early]
    if points:
        maximize = [True] + [False] * (len(points[0]) - 1)
        front = [points[i] for i in pareto_front(points, maximize)]
        reference = reference_point(maximize, [None] * len(maximize), points)
        progress.best_accuracy = max(p[0] for p in points)
        progress.hypervolume = hypervolume(front, maximize, reference)
    return progress
