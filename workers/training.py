"""A training job, driven by a runner: train on Ray, keep the files, measure them on the
search job's devices, and record what was found on the model.

The training runs as one Ray task that saves a checkpoint in the database after every epoch,
only while the job is still its runner's (the lease): a runner killed mid-training stops
renewing, another claims the job, and its Ray task resumes from the newest checkpoint,
losing at most the epoch in progress. The files (safetensors weights, ONNX fp32, ONNX int8)
are then measured by the devices' agents through the measurement queue, each as the very
file (``TaskSettings.artifact``), and scored in ONNX Runtime on the test split the search
never saw.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import ray
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from artifacts.training import Checkpoint, FinalRecipe, TrainedNetwork, train_final
from latency.database import retry_transaction, rows_changed
from latency.protocol import TaskSettings
from search.data import ImageDataset, load_dataset
from space import Arch, parse_arch
from workers.evaluation import worker_engine
from workers.jobs import record_progress
from workers.leases import LeaseLost, ShuttingDown
from workers.models import (
    ONNX_OF,
    WEIGHTS,
    CompressionStage,
    MeasuredLatency,
    ModelResults,
    TernaryOut,
    TrainingJob,
    keep_artifacts,
    model_of_job,
)
from workers.progress import JobProgress
from workers.queued_latency import QueuedLatency
from workers.tables import Job, JobState, Model, TrainingCheckpoint

if TYPE_CHECKING:
    from workers.leases import LeaseKeeper
    from workers.runner import Runner

T = TypeVar("T")
log = logging.getLogger("edgenas.training")
MAX_TRAINING_RETRIES = 2


class DatabaseCheckpoints:
    """A training job's checkpoints in the database, written only while ``owner`` holds the
    job: a worker whose runner lost the job stops at its next epoch (``LeaseLost``)."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, owner: str) -> None:
        self._sessions, self._job_id, self._owner = sessions, job_id, owner

    def _transaction(self, work: Callable[[Session], T], what: str) -> T:
        return retry_transaction(self._sessions, work, f"job {self._job_id}: {what}")

    def newest(self) -> Checkpoint | None:
        def read(session: Session) -> Checkpoint | None:
            row = session.get(TrainingCheckpoint, self._job_id)
            return None if row is None else Checkpoint(row.epoch, row.data)

        return self._transaction(read, "checkpoint")

    def save(self, checkpoint: Checkpoint) -> None:
        def write(session: Session) -> None:
            held = rows_changed(
                session,
                update(Job)
                .where(
                    Job.id == self._job_id,
                    Job.lease_owner == self._owner,
                    Job.state == JobState.RUNNING,
                )
                .values(lease_owner=self._owner)
                .execution_options(synchronize_session=False),
            )
            if held != 1:
                raise LeaseLost
            kept = TrainingCheckpoint(
                job_id=self._job_id, epoch=checkpoint.epoch, data=checkpoint.data
            )
            session.merge(kept)  # the newest replaces the one before

        self._transaction(write, f"checkpoint after epoch {checkpoint.epoch}")

    def progress(self, epochs: int, done: int, stage: str) -> None:
        figures = JobProgress(epochs=epochs, epochs_done=done, stage=stage)
        self._transaction(
            lambda s: record_progress(s, self._job_id, self._owner, figures), "progress"
        )


@dataclass(frozen=True)
class TrainedFiles:
    """What a training task hands back: the files, and the figures that go with them."""

    files: dict[str, bytes]
    results: ModelResults


def train_in_worker(
    job_id: int, owner: str, database_url: str, spec_json: str, data_location: str
) -> TrainedFiles:
    """Train the job's network (resuming from its newest checkpoint), make its files and
    score them on the test split in ONNX Runtime."""
    from artifacts.package import compression_report, package  # torch: only in the workers

    spec = TrainingJob.model_validate_json(spec_json)
    recipe: FinalRecipe = spec.train.recipe()
    arch = parse_arch(spec.arch)
    usable, test = load_dataset(data_location).test_split()
    store = DatabaseCheckpoints(sessionmaker(worker_engine(database_url)), job_id, owner)
    trained = train_final(
        arch,
        usable,
        recipe,
        store,
        on_epoch=lambda done, _: store.progress(recipe.epochs, done, "training"),
    )
    store.progress(recipe.epochs, recipe.epochs, "exporting")
    made = package(arch, trained, usable, test, recipe.seed)
    compression = []
    if spec.train.compress is not None:
        store.progress(recipe.epochs, recipe.epochs, "compressing")
        stages = compression_report(
            arch, trained, usable, test, spec.train.compress.settings(), recipe
        )
        compression = [
            CompressionStage(
                stage=s.stage,
                test_accuracy=s.test_accuracy,
                bytes=s.encoded_bytes,
                ratio=round(len(made.fp32) / s.encoded_bytes, 2),
            )
            for s in stages
        ]
    files = {WEIGHTS: made.weights, ONNX_OF["fp32"]: made.fp32, ONNX_OF["int8"]: made.int8}
    results = ModelResults(
        epochs=trained.epochs,
        resumed_from=trained.resumed_from,
        train_seconds=round(trained.seconds, 1),
        train_accuracy=[round(a, 4) for a in trained.train_accuracy],
        input_mean=trained.normalisation.mean,
        input_std=trained.normalisation.std,
        test_images=len(test),
        test_accuracy={"fp32": made.fp32_accuracy, "int8": made.int8_accuracy},
        sizes={name: len(data) for name, data in files.items()},
        compression=compression,
        ternary=_ternary(spec, arch, trained, usable, test, recipe, len(made.fp32), store),
    )
    return TrainedFiles(files, results)


def _ternary(
    spec: TrainingJob,
    arch: Arch,
    trained: TrainedNetwork,
    usable: ImageDataset,
    test: ImageDataset,
    recipe: FinalRecipe,
    fp32_bytes: int,
    store: DatabaseCheckpoints,
) -> TernaryOut | None:
    """The TTQ result when the request asked for one."""
    from artifacts.package import ternary_report

    if spec.train.ternary is None:
        return None
    store.progress(recipe.epochs, recipe.epochs, "ternary")
    epochs = spec.train.ternary.epochs
    found = ternary_report(arch, trained, usable, test, epochs, recipe)
    ratio = round(fp32_bytes / found.bytes, 2)
    return TernaryOut(
        epochs=epochs,
        layers=found.layers,
        test_accuracy=found.test_accuracy,
        bytes=found.bytes,
        ratio=ratio,
    )


def drive_training(
    runner: Runner,
    job_id: int,
    spec: dict[str, Any],
    data: str | None,
    keeper: LeaseKeeper,
    stop: threading.Event,
) -> tuple[JobState, str | None]:
    """Run the job's training task on Ray, keep its files, have them measured, record the
    figures on the model."""
    parsed = TrainingJob.model_validate(spec)
    if data is None:
        return JobState.FAILED, "the training job has no data location"
    # a dead worker's training runs again, from the newest checkpoint
    task = ray.remote(num_cpus=1, max_retries=MAX_TRAINING_RETRIES)(train_in_worker)
    ref = task.remote(
        job_id, runner.owner, runner.settings.database_url, parsed.model_dump_json(), data
    )
    while not ray.wait([ref], timeout=runner.beat_seconds())[0]:
        job = keeper.current()  # LeaseLost once another runner holds the job
        if stop.is_set() or job.cancel_requested:
            ray.cancel(ref, force=True)
            if stop.is_set():
                raise ShuttingDown
            return JobState.CANCELLED, None
    trained: TrainedFiles = ray.get(ref)
    epochs = parsed.train.epochs
    measuring = JobProgress(epochs=epochs, epochs_done=epochs, stage="measuring")
    model_id, hashes, devices = runner.transaction(
        lambda s: _keep(s, job_id, trained, runner.owner, measuring), f"job {job_id}: files"
    )
    results = trained.results.model_copy(deep=True)
    arch = parse_arch(parsed.arch)
    for precision, name in ONNX_OF.items():
        settings = TaskSettings(
            **{**parsed.measurement, "precision": precision, "artifact": hashes[name]}
        )
        measure = QueuedLatency(runner.sessions, devices, settings, model=trained.files[name])
        for device, record in measure.records(arch).items():
            results.latency.setdefault(device, {})[precision] = MeasuredLatency(
                median_ms=record.median_ms,
                p90_ms=record.p90_ms,
                spread_ms=record.spread_ms,
                runs=record.runs,
                rounds=record.rounds,
                provider=record.provider,
                measured_at=record.measured_at,
                record_id=record.id,
            )
    runner.transaction(lambda s: _record(s, model_id, results), f"job {job_id}: results")
    return JobState.SUCCEEDED, None


def _keep(
    session: Session, job_id: int, trained: TrainedFiles, owner: str, progress: JobProgress
) -> tuple[int, dict[str, str], dict[str, int]]:
    """Store the files; the model's id, the files' hashes and the devices to time them on."""
    if not record_progress(session, job_id, owner, progress):
        raise LeaseLost
    model = model_of_job(session, job_id)
    devices = dict(session.get_one(Job, job_id).device_ids or {})
    return model.id, keep_artifacts(session, model.id, trained.files), devices


def _record(session: Session, model_id: int, results: ModelResults) -> None:
    session.get_one(Model, model_id).results = results.model_dump(mode="json")
