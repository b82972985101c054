"""What each page shows, read with the same package functions the REST routes call, so a
signed-in browser sees exactly what its API key may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import optuna
from sqlalchemy.orm import Session

from api.server.routes.devices import device_out
from api.server.schemas import DeviceOut, JobOut, PredictorReport
from api.web.plots import (
    Figure,
    ReferenceLatency,
    Spread,
    curves_figure,
    hypervolume_figure,
    pareto_figure,
    two_device_figure,
)
from edgenas.callers import Caller
from latency.device_predictor import DevicePredictors, predictor_report
from latency.devices import list_devices
from latency.provenance import newest_records, queue_depths
from latency.tables import LatencyRecord
from search.trial_record import TrialRecord, record_of
from space import parse_arch
from space.profiler import LayerProfile, profile_arch
from space.references import reference_arch
from workers.jobs import get_job, job_devices
from workers.results import job_trials, pareto_members, size_counts
from workers.tables import FINISHED_STATES

# hand-designed networks drawn on a job's Pareto plot where they were measured on its device
REFERENCE_NETWORKS = (
    "mobilenet_v2@0.35",
    "mobilenet_v2@0.5",
    "mobilenet_v2@0.75",
    "mobilenet_v2@1.0",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
)
MIN_COMPARED, MAX_COMPARED = 2, 5


@dataclass(frozen=True)
class JobView:
    """A job with its trials (number order) and front, as the job page shows them."""

    job: JobOut
    devices: list[str]
    device_ids: dict[str, int]
    trials: list[TrialRecord]
    front: list[TrialRecord]

    @property
    def finished(self) -> bool:
        return self.job.state in FINISHED_STATES

    @property
    def front_numbers(self) -> set[int]:
        return {t.number for t in self.front}

    def trial(self, number: int) -> TrialRecord | None:
        return next((t for t in self.trials if t.number == number and t.arch), None)


def job_view(
    session: Session, storage: optuna.storages.BaseStorage, job_id: int, caller: Caller
) -> JobView:
    """The caller's job (404 for anyone else's) and its study's trials."""
    job = get_job(session, job_id, caller)
    devices = list(job.spec["devices"])
    found = job_trials(storage, job_id)
    return JobView(
        job=JobOut.model_validate(job),
        devices=devices,
        device_ids=job_devices(session, job),
        trials=[record_of(t, devices) for t in found],
        front=pareto_members(found, devices, size_counts(job.spec)),
    )


def job_figures(session: Session, view: JobView) -> dict[str, Figure]:
    """The job page's plots: a Pareto plot per device, both devices at once when there are
    two, and the hypervolume over trials."""
    plotted = [
        r
        for r in view.trials
        if r.accuracy is not None
        and len(r.latency_ms) == len(view.devices)
        and r.state in ("complete", "pruned")
    ]
    records = newest_records(session, view.device_ids, {r.arch_hash for r in plotted})
    spreads = {key: Spread(row.spread_ms, row.runs) for key, row in records.items()}
    references = reference_latencies(session, view)
    figures = {
        f"pareto-{device}": pareto_figure(
            plotted, view.front, device, spreads, references.get(device, [])
        )
        for device in view.devices
    }
    if len(view.devices) == 2:
        figures["two-devices"] = two_device_figure(plotted, view.front, view.devices)
    figures["hypervolume"] = hypervolume_figure(plotted, view.devices)
    return figures


def reference_latencies(session: Session, view: JobView) -> dict[str, list[ReferenceLatency]]:
    """The reference networks, at the job's input size and classes, measured on its devices."""
    sample = next((t.arch for t in view.trials if t.arch), None)
    if sample is None:
        return {}
    shape = parse_arch(sample)
    networks = {
        replace(
            reference_arch(name),
            resolution=shape.resolution,
            in_channels=shape.in_channels,
            num_classes=shape.num_classes,
        ).hash: name
        for name in REFERENCE_NETWORKS
    }
    found: dict[str, list[ReferenceLatency]] = {}
    for (device, arch_hash), row in newest_records(session, view.device_ids, networks).items():
        found.setdefault(device, []).append(ReferenceLatency(networks[arch_hash], row.median_ms))
    return {device: sorted(refs, key=lambda r: r.latency_ms) for device, refs in found.items()}


@dataclass(frozen=True)
class TrialView:
    """One trial: its layers, its curve, and its latency on each device with provenance."""

    job: JobOut
    trial: TrialRecord
    devices: list[str]
    layers: tuple[LayerProfile, ...]
    provenance: dict[str, LatencyRecord]
    curve: Figure


def trial_view(session: Session, view: JobView, number: int) -> TrialView | None:
    trial = view.trial(number)
    if trial is None:
        return None
    records = newest_records(session, view.device_ids, {trial.arch_hash})
    return TrialView(
        job=view.job,
        trial=trial,
        devices=view.devices,
        layers=profile_arch(parse_arch(trial.arch)).layers,
        provenance={device: row for (device, _), row in records.items()},
        curve=curves_figure([trial]),
    )


@dataclass(frozen=True)
class Compared:
    """Two to five trials side by side: each one's blocks per stage, their curves."""

    trials: list[TrialRecord]
    stages: list[list[str]]  # per trial, its layers' block strings (stem first, head last)
    curves: Figure


def compare_view(view: JobView, numbers: Sequence[int]) -> Compared:
    trials = [t for n in dict.fromkeys(numbers) if (t := view.trial(n)) is not None]
    return Compared(
        trials=trials,
        stages=[t.arch.split(":", 1)[1].split("|") for t in trials],
        curves=curves_figure(trials),
    )


@dataclass(frozen=True)
class DeviceRow:
    device: DeviceOut
    queue_depth: int
    predictor: PredictorReport


def device_rows(session: Session, predictors: DevicePredictors, caller: Caller) -> list[DeviceRow]:
    """The caller's usable devices with their queues and predictors' quality."""
    devices = list_devices(session, caller)
    depths = queue_depths(session, [d.id for d in devices])
    return [
        DeviceRow(
            device=device_out(d),
            queue_depth=depths.get(d.id, 0),
            predictor=PredictorReport(**predictor_report(session, predictors, d)),
        )
        for d in devices
    ]
