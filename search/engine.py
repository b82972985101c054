"""The search loop: a strategy proposes, proxy training and the caller's latency score, the
Optuna study keeps everything (ask/tell, so the caller owns storage and parallelism).

Modes:
- ``mnas``: one objective, MnasNet's reward; epochs report the reward so far to the study and
  Optuna's pruner (median, successive halving, Hyperband) stops poor candidates.
- ``pareto``: accuracy up and latency down on every device. Optuna cannot prune
  multi-objective studies, so the loop stops a candidate itself (``search.early_stop``): a
  front member as fast on every device and ``stop_margin`` more accurate at the same epoch
  stops it; it is recorded with the accuracy it reached, flagged ``stopped_early``.

A zero-cost proxy (``ZeroCostScreen``) can score every candidate before anything is spent on
it: ``rank`` records the score, ``prescreen`` also skips candidates outside the best ``keep``
share of those seen so far (no latency measured, no training; the trial is pruned). Which end
is best depends on the proxy: ``search.zero_cost.PREFERRED`` holds the measured directions.

Latency comes from the caller (``search.latency_source``): measured (``Arch -> {device: ms}``:
the job runner's registered devices, ONNX Runtime here), or predicted before training and
measured after it for the candidates that could join the front. No database, no HTTP, no Ray
(docs/architecture.md). What a search is, and the study that keeps it: ``search.study``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import optuna

from search.data import ImageDataset
from search.early_stop import Curve, StudyFront, clearly_dominated
from search.latency_source import (
    LatencyEstimate,
    LatencyFn,
    LatencySource,
    MeasuredLatency,
    could_join_front,
)
from search.precision import LowPrecisionEvaluator, LowPrecisionPoint, weight_bytes
from search.screening import screen_score, screened_out
from search.study import SearchSettings, create_study
from search.train import Evaluation, evaluate_arch
from search.trial_record import (
    TrialRecord,
    store_error,
    store_evaluation,
    store_proposal,
    store_screened,
)
from space import Arch, parse_arch
from space.profiler import Profile, profile_arch


@dataclass(frozen=True)
class Candidate:
    """An asked trial, decoded and profiled: what its evaluation needs. Plain data, so the
    evaluation can run in another process (a Ray task) while the study stays here."""

    number: int
    arch: str
    params: int
    macs: int
    zero_cost: float | None
    front: tuple[Curve, ...]  # pareto: the front when the candidate was asked
    best_reward: float | None  # mnas: the best reward when the candidate was asked
    started: float


@dataclass(frozen=True)
class Proposal:
    """A candidate and the study's handle on its trial, which the proposing process keeps."""

    trial: optuna.Trial
    candidate: Candidate


class EpochReports(Protocol):
    """Where mnas mode reports a candidate's reward after every epoch and learns whether the
    study's pruner stops it: the asked ``optuna.Trial`` in the proposing process, or
    ``search.study.RunningTrial`` in another one."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    """What evaluating a candidate found."""

    latency_ms: dict[str, float]
    violations: dict[str, float]
    evaluation: Evaluation
    predicted_ms: dict[str, float] = field(default_factory=dict)  # every prediction made
    latency_predicted: tuple[str, ...] = ()  # devices whose kept latency is a prediction
    low_precision: tuple[LowPrecisionPoint, ...] = ()  # the candidate's other points


def propose(
    study: optuna.Study,
    settings: SearchSettings,
    train: ImageDataset,
    front: StudyFront | None = None,
) -> Proposal | TrialRecord:
    """Ask for a candidate; a zero-cost pre-screen may settle it at once (a record).
    ``front``: the study's, kept from the last proposal (a new one reads every trial)."""
    start = time.perf_counter()
    trial = study.ask()
    assignment = {
        name: trial.suggest_categorical(name, choices)
        for name, choices in settings.space.dimensions().items()
    }
    arch = settings.space.decode(assignment)
    profile = profile_arch(arch)
    too_large = settings.caps.refusal(profile)
    score = None if too_large else screen_score(settings.zero_cost, arch, train, settings.seed)
    store_proposal(trial, arch=str(arch), params=profile.params, macs=profile.macs, zero_cost=score)
    if too_large is not None:  # never built: settled as pruned, with the reason
        store_error(trial, str(too_large))
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return _settled(trial, arch, profile, "pruned", start, score, str(too_large))
    if score is not None and screened_out(study, settings.zero_cost, score):
        store_screened(trial)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return _settled(trial, arch, profile, "screened", start, score, None)
    candidate = Candidate(
        number=trial.number,
        arch=str(arch),
        params=profile.params,
        macs=profile.macs,
        zero_cost=score,
        front=(front or StudyFront()).current(study) if settings.mode == "pareto" else (),
        best_reward=_best_reward(study) if settings.mode == "mnas" else None,
        started=start,
    )
    return Proposal(trial, candidate)


def _settled(
    trial: optuna.Trial,
    arch: Arch,
    profile: Profile,
    state: str,
    start: float,
    score: float | None,
    error: str | None,
) -> TrialRecord:
    """The record of a candidate settled without evaluation (no latency, no training)."""
    return TrialRecord(
        number=trial.number,
        arch=str(arch),
        arch_hash=arch.hash,
        accuracy=None,
        latency_ms={},
        params=profile.params,
        macs=profile.macs,
        reward=None,
        state=state,
        epochs=0,
        stopped_early=False,
        feasible=True,
        seconds=time.perf_counter() - start,
        zero_cost=score,
        error=error,
    )


def evaluate_candidate(
    candidate: Candidate,
    settings: SearchSettings,
    train: ImageDataset,
    validation: ImageDataset,
    latency: LatencySource,
    reports: EpochReports | None,
    low_precision: LowPrecisionEvaluator | None = None,
) -> Outcome:
    """Latency, constraints and proxy training of one candidate. ``reports`` receives mnas
    mode's per-epoch rewards (the trial, or in a worker process ``RunningTrial``).
    Predicted latencies steer the training's early stop; a trained candidate that could join
    the front has them confirmed (``search.latency_source``). A candidate trained to the end
    is evaluated at the search's other precisions by ``low_precision``."""
    arch = parse_arch(candidate.arch)
    estimate = latency.estimate(arch)
    stop = _stopper(reports, settings, candidate, estimate.ms)
    others = settings.precisions[1:]
    if others and low_precision is None:
        raise ValueError(f"precisions {others} need a low-precision evaluator")
    evaluation = evaluate_arch(
        arch, train, validation, settings.proxy, on_epoch=stop, keep=bool(others)
    )
    points: tuple[LowPrecisionPoint, ...] = ()
    if (
        evaluation.trained is not None
        and low_precision is not None
        and not evaluation.stopped_early
    ):
        points = tuple(low_precision(arch, evaluation.trained, other) for other in others)
    evaluation = replace(evaluation, trained=None)  # the network stays in this process
    kept = estimate
    if estimate.predicted and _worth_measuring(candidate, settings, evaluation, estimate):
        kept = latency.confirm(arch, estimate)
    latencies = {d: float(kept.ms[d]) for d in settings.devices}
    return Outcome(
        latency_ms=latencies,
        violations=settings.constraints.violations(latencies, candidate.params, candidate.macs),
        evaluation=evaluation,
        predicted_ms={d: float(estimate.ms[d]) for d in estimate.predicted},
        latency_predicted=kept.predicted,
        low_precision=points,
    )


def _worth_measuring(
    candidate: Candidate,
    settings: SearchSettings,
    evaluation: Evaluation,
    estimate: LatencyEstimate,
) -> bool:
    """Whether the candidate could be a result: not stopped early and, at its optimistic
    latency, feasible and undominated (pareto) or at least as rewarding as the best (mnas)."""
    if evaluation.stopped_early:
        return False
    optimistic = estimate.optimistic()
    if settings.mode == "mnas":
        assert settings.reward is not None
        best = candidate.best_reward
        return best is None or settings.reward(evaluation.accuracy, optimistic) >= best
    violations = settings.constraints.violations(optimistic, candidate.params, candidate.macs)
    if any(value > 0 for value in violations.values()):
        return False
    return could_join_front(evaluation.accuracy, optimistic, settings.devices, candidate.front)


def conclude(
    study: optuna.Study,
    settings: SearchSettings,
    proposal: Proposal,
    outcome: Outcome,
    evaluated_on: str | None = None,
) -> TrialRecord:
    """Tell the study what the evaluation found (on the Ray node ``evaluated_on``, when a
    runner had it evaluated); the trial's record."""
    trial, candidate = proposal.trial, proposal.candidate
    result, latencies = outcome.evaluation, outcome.latency_ms
    low_precision: dict[str, dict[str, Any]] = {
        point.precision: {
            "accuracy": point.accuracy,
            "latency_ms": point.latency_ms,
            "feasible": all(
                value <= 0
                for value in settings.constraints.violations(
                    point.latency_ms, candidate.params, candidate.macs, point.precision
                ).values()
            ),
        }
        for point in outcome.low_precision
    }
    store_evaluation(
        trial,
        latency_ms=latencies,
        predicted_ms=outcome.predicted_ms,
        latency_predicted=outcome.latency_predicted,
        epoch_accuracies=result.epoch_accuracies,
        stopped_early=result.stopped_early,
        evaluated_on=evaluated_on,
        low_precision=low_precision,
    )
    for key, value in outcome.violations.items():
        trial.set_constraint(key, value)
    reward = settings.reward(result.accuracy, latencies) if settings.reward else None
    pruned = settings.mode == "mnas" and result.stopped_early
    if pruned:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    elif settings.mode == "mnas":
        study.tell(trial, reward)
    else:
        size = [weight_bytes(candidate.params, "fp32")] if settings.size_objective else []
        study.tell(trial, [result.accuracy, *(latencies[d] for d in settings.devices), *size])
    return TrialRecord(
        number=candidate.number,
        arch=candidate.arch,
        arch_hash=parse_arch(candidate.arch).hash,
        accuracy=result.accuracy,
        latency_ms=latencies,
        params=candidate.params,
        macs=candidate.macs,
        reward=reward,
        state="pruned" if pruned else "complete",
        epochs=result.epochs,
        stopped_early=result.stopped_early,
        feasible=all(v <= 0 for v in outcome.violations.values()),
        seconds=time.perf_counter() - candidate.started,
        epoch_accuracies=result.epoch_accuracies,
        zero_cost=candidate.zero_cost,
        latency_predicted=outcome.latency_predicted,
        evaluated_on=evaluated_on,
        low_precision=low_precision,
    )


def run_trial(
    study: optuna.Study,
    settings: SearchSettings,
    train: ImageDataset,
    validation: ImageDataset,
    latency: LatencyFn,
    front: StudyFront | None = None,
    low_precision: LowPrecisionEvaluator | None = None,
) -> TrialRecord:
    """Ask for one candidate, score it here, tell the study, return its record."""
    proposal = propose(study, settings, train, front)
    if isinstance(proposal, TrialRecord):
        return proposal
    outcome = evaluate_candidate(
        proposal.candidate,
        settings,
        train,
        validation,
        MeasuredLatency(latency),
        proposal.trial,
        low_precision,
    )
    return conclude(study, settings, proposal, outcome)


def _stopper(
    reports: EpochReports | None,
    settings: SearchSettings,
    candidate: Candidate,
    latencies: Mapping[str, float],
) -> Callable[[int, float], bool]:
    """The per-epoch early stop of this mode (see the module docstring)."""
    if settings.mode == "mnas":
        reward = settings.reward
        if reward is None or reports is None:
            raise ValueError("mnas mode reports every epoch: it needs a reward and a trial")

        def prune(epoch: int, accuracy: float) -> bool:
            reports.report(reward(accuracy, latencies), epoch)
            return reports.should_prune()

        return prune
    if not settings.early_stop:
        return lambda epoch, accuracy: False

    def dominated(epoch: int, accuracy: float) -> bool:
        return clearly_dominated(epoch, accuracy, latencies, candidate.front, settings.stop_margin)

    return dominated


def _best_reward(study: optuna.Study) -> float | None:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return max((t.values[0] for t in complete), default=None)


def run_search(
    settings: SearchSettings,
    train: ImageDataset,
    validation: ImageDataset,
    latency: LatencyFn,
    study: optuna.Study | None = None,
    on_trial: Callable[[TrialRecord], None] | None = None,
    low_precision: LowPrecisionEvaluator | None = None,
) -> list[TrialRecord]:
    """Run ``settings.trials`` trials one after another (the job runner parallelises)."""
    study = study or create_study(settings)
    records = []
    front = StudyFront()
    for _ in range(settings.trials):
        record = run_trial(study, settings, train, validation, latency, front, low_precision)
        records.append(record)
        if on_trial is not None:
            on_trial(record)
    return records
