"""Request and response bodies of the REST API (pydantic at the edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from latency.calibration import MAX_CALIBRATION, MAX_CALIBRATION_LAYERS
from latency.measurement_csv import MAX_IMPORT_BATCH
from latency.protocol import NAME_PATTERN, Facts, MeasurementSettings
from workers.datasets import DatasetFormat
from workers.models import ModelResults
from workers.progress import JobProgress


class DeviceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "pixel-7",
                    "kind": "android",
                    "runtime": "onnxruntime",
                    "provider": "CPUExecutionProvider",
                }
            ]
        },
    )

    name: str = Field(
        pattern=NAME_PATTERN, description="unique among your devices; letters, digits, _ . -"
    )
    kind: Literal["cpu", "jetson", "android", "ios", "other"] = "cpu"
    runtime: Literal["onnxruntime", "adb"] = "onnxruntime"
    provider: str = Field("CPUExecutionProvider", max_length=64)
    facts: Facts = Field(default_factory=dict)
    shared: bool = Field(False, description="every user may measure on it and search with it")


class DeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    shared: bool = Field(description="share the device with every user, or stop sharing it")


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    runtime: str
    provider: str
    facts: dict[str, Any]
    owner_id: int | None = Field(description="its user; none for the service's own devices")
    shared: bool
    created_at: datetime
    last_seen_at: datetime | None
    online: bool = False


class DeviceCreated(DeviceOut):
    token: str = Field(description="the device token, shown this once")


class ImportedMeasurement(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    arch: str = Field(max_length=8192, description="canonical architecture string")
    latency_ms: float = Field(gt=0, description="measured latency in milliseconds")


class MeasurementImport(BaseModel):
    """Measurements made elsewhere (a device lab's file), stored as the device's records."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=200, description="where they came from")
    measurements: list[ImportedMeasurement] = Field(
        min_length=1, max_length=MAX_IMPORT_BATCH, description="at most 500 per request"
    )


class MeasurementImported(BaseModel):
    imported: int
    measurements: int = Field(description="architectures measured on the device, all told")


class PredictorAccuracy(BaseModel):
    measurements: int
    mape: float = Field(description="mean absolute percentage error, as a share (0.03 = 3%)")
    within10: float = Field(description="share of predictions within ±10%")
    spearman: float
    kendall: float


class PredictorReport(BaseModel):
    device: str
    measurements: int = Field(description="architectures the predictor is fitted on")
    imported: int = Field(description="records that came from imported files")
    layers: int = Field(description="layers timed alone: the device's layer table")
    ready: bool
    message: str | None = None
    model: str | None = Field(None, description="the cross-validation winner")
    cross_validated: PredictorAccuracy | None = None


class CalibrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    space: str = Field("mnasnet", max_length=100, description="a shipped search space")
    resolution: int | None = Field(
        None, ge=8, le=1024, description="input size of the job to come (default: the space's)"
    )
    count: int = Field(30, ge=1, le=MAX_CALIBRATION, description="architectures to measure")
    layers: bool = Field(
        True,
        description=f"also time every distinct layer of the space alone, the device's layer "
        f"table (at most {MAX_CALIBRATION_LAYERS}; mixed at 224x224 has 1,861)",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    settings: MeasurementSettings = Field(default_factory=MeasurementSettings)


class CalibrationQueued(BaseModel):
    architectures: int = Field(description="architectures chosen to cover the space")
    layers: int = Field(description="layer probes of the space (0 unless layers was asked)")
    already_measured: int = Field(description="of both, already measured with these settings")
    task_ids: list[int] = Field(description="measurement tasks for the rest")


class LatencyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        strict=True,
        json_schema_extra={
            "examples": [{"arch": "mobilenet_v2@0.5", "device": "pixel-7", "wait_seconds": 20}]
        },
    )

    arch: str = Field(max_length=8192, description="architecture string or reference name")
    device: str = Field(pattern=NAME_PATTERN)
    settings: MeasurementSettings = Field(default_factory=MeasurementSettings)
    wait_seconds: float = Field(0, ge=0, le=300, description="wait this long for the result")
    fresh: bool = Field(False, description="measure again even if a cached record exists")


class RecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    median_ms: float
    p90_ms: float
    cv: float
    runs: int
    rounds: int
    spread_ms: float
    remeasures: int
    disturbed_rounds: int
    threads: int
    provider: str
    device_facts: dict[str, Any]
    measured_at: datetime


class LatencyOut(BaseModel):
    status: Literal["pending", "leased", "done", "failed"]
    arch: str
    arch_hash: str
    device: str
    task_id: int | None = None
    cached: bool = False
    record: RecordOut | None = None
    error: str | None = None


class JobOut(BaseModel):
    """A job as the API shows it: the spec as submitted, state and progress."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str = Field(description="search or train")
    state: str
    spec: dict[str, Any]
    progress: JobProgress
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ModelOut(BaseModel):
    """A trained model: where its training job stands, what it found, which files it has."""

    id: int
    job_id: int = Field(description="its training job")
    state: str = Field(description="its training job's state")
    progress: JobProgress
    error: str | None
    source_job_id: int
    trial: int
    arch: str
    arch_hash: str
    results: ModelResults
    artifacts: list[str] = Field(description="files ready for GET /v1/models/{id}/{artifact}")
    created_at: datetime


class ModelPage(BaseModel):
    items: list[ModelOut]
    total: int
    offset: int
    limit: int


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    offset: int
    limit: int


class LowPrecisionOut(BaseModel):
    """A trial at a precision below fp32: its int8 file's accuracy and latency per device."""

    accuracy: float
    latency_ms: dict[str, float]
    feasible: bool


class TrialOut(BaseModel):
    """One trial of a job, read from its Optuna study."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    state: str
    arch: str
    arch_hash: str
    accuracy: float | None
    epoch_accuracies: tuple[float, ...]
    latency_ms: dict[str, float]
    params: int
    macs: int
    reward: float | None
    stopped_early: bool
    feasible: bool
    zero_cost: float | None
    seconds: float
    error: str | None = None
    latency_predicted: tuple[str, ...] = Field(
        (), description="devices whose latency was predicted; the others' were measured"
    )
    evaluated_on: str | None = Field(None, description="the Ray node that evaluated it")
    precision: str = Field("fp32", description="the point's: a front holds one per precision")
    low_precision: dict[str, LowPrecisionOut] = Field(
        default_factory=dict, description="the trial at precisions below fp32 (measured)"
    )


class TrialPage(BaseModel):
    items: list[TrialOut]
    total: int
    offset: int
    limit: int


class ParetoOut(BaseModel):
    """The job's non-dominated set (feasible, fully trained trials), fastest first."""

    job_id: int
    devices: list[str]
    members: list[TrialOut]


class DatasetOut(BaseModel):
    """An uploaded data set; a job names it in ``data``."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner_id: int | None
    format: DatasetFormat
    sha256: str = Field(description="SHA-256 of the uploaded file")
    size_bytes: int
    images: int
    classes: list[str]
    resolution: int = Field(description="image side in pixels")
    channels: int
    created_at: datetime


class ErrorDetail(BaseModel):
    code: str = Field(description="not_found, invalid, conflict, too_many_requests, ...")
    message: str = Field(description="what is wrong, naming the field where there is one")
    details: Any = Field(None, description="per-field errors of a 422, or the field at fault")


class ErrorOut(BaseModel):
    """Every error the API answers has this shape."""

    error: ErrorDetail


# What any /v1 route may answer besides its success (OpenAPI documents these on every route).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "the body is not JSON (or not UTF-8) where JSON is expected",
        401: "no API key or device token, or one that is unknown or revoked",
        403: "a device token on a user route, or an object the caller may see but not change",
        404: "no such object, or another user's",
        409: "a clash with the current state (a taken name, a finished job, a busy data set)",
        413: "the body is over the size limit",
        422: "a field is invalid: the message names it",
        429: "a quota or the key's request rate is used up: see Retry-After",
        503: "the database is unavailable: see Retry-After",
    }.items()
}


def file_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a route whose success is a file (errors stay JSON)."""
    return {200: {"description": description, "content": {media_type: {}}}}
