"""What the server and a device agent say to each other (pydantic; no torch, no database).

Shared by both sides so a field renamed on one side fails the other's tests, not a phone in
the field.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

MAX_RUNS = 10_000
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # device and agent names
MAX_FACTS = 50  # facts an agent reports about its device
MAX_FACTS_BYTES = 16 * 1024  # all of them, as JSON
MAX_ERROR_CHARS = 20_000  # the error text of a failed measurement
MIN_SECONDS_PER_RUN = 0.001  # no model runs faster: the floor of a measurement's duration


def _small_facts(facts: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(facts, separators=(",", ":"), allow_nan=False))
    if size > MAX_FACTS_BYTES:
        raise ValueError(f"{size:,} bytes of facts as JSON; at most {MAX_FACTS_BYTES:,}")
    return facts


# What a device says about itself: a few short facts (CPU, cores, OS, runtime versions).
Facts = Annotated[dict[str, Any], Field(max_length=MAX_FACTS), AfterValidator(_small_facts)]


class MeasurementSettings(BaseModel):
    """How one model is timed. Part of the cache key: other settings, other measurement."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    precision: Literal["fp32"] = "fp32"
    threads: int = Field(1, ge=1, le=256, description="ONNX Runtime intra-op threads")
    runs: int = Field(50, ge=1, le=MAX_RUNS, description="timed runs per round")
    rounds: int = Field(5, ge=1, le=20, description="independent rounds; spread is reported")
    warmup_runs: int = Field(10, ge=0, le=MAX_RUNS, description="untimed runs first")
    warmup_seconds: float = Field(0.2, ge=0, le=60, description="...and at least this long")
    cv_threshold: float = Field(
        0.15, gt=0, le=10, description="re-measure when the coefficient of variation exceeds it"
    )
    max_remeasures: int = Field(1, ge=0, le=5)
    quiet_tolerance: float = Field(
        0.05, gt=0, le=10, description="a round is disturbed when the machine probe is this slow"
    )
    quiet_wait_seconds: float = Field(
        20, ge=0, le=600, description="most time spent waiting out a slow machine"
    )

    def least_seconds(self) -> float:
        """The shortest time these settings can take on any device: warm-up, then every run
        of every round at ``MIN_SECONDS_PER_RUN``. A lease shorter than this always expires
        mid-measurement."""
        runs = self.warmup_runs + self.runs * self.rounds
        return self.warmup_seconds + runs * MIN_SECONDS_PER_RUN

    def key(self) -> str:
        """Canonical JSON of the settings, for de-duplication and cache look-ups (a field
        left unset, such as a task's ``artifact``, is left out: keys stay as they were)."""
        return json.dumps(self.model_dump(exclude_none=True), sort_keys=True, separators=(",", ":"))


class TaskSettings(MeasurementSettings):
    """How a task times its model: the settings someone asked for, and, for a model file
    timed as it is (a trained network, fp32 or int8), that file's SHA-256. Only the service
    sets ``artifact`` and ``int8``: a request names an architecture, which is exported."""

    precision: Literal["fp32", "int8"] = "fp32"  # type: ignore[assignment]
    artifact: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class MeasurementResult(BaseModel):
    """One finished measurement, in milliseconds."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    median_ms: float = Field(gt=0)
    p90_ms: float = Field(gt=0)
    cv: float = Field(ge=0)
    runs: int = Field(ge=1, le=MAX_RUNS * 20)
    rounds: int = Field(ge=1, le=20)
    spread_ms: float = Field(ge=0, description="max - min of the round medians")
    remeasures: int = Field(0, ge=0, le=5)
    disturbed_rounds: int = Field(
        0, ge=0, description="rounds timed while the machine was busy (repeated, or kept last)"
    )
    threads: int = Field(ge=1)
    provider: str = Field(max_length=100)


class Heartbeat(BaseModel):
    """The agent is alive; its facts (CPU, cores, OS, runtime versions) update the device."""

    model_config = ConfigDict(extra="forbid")

    facts: Facts = Field(default_factory=dict)


class AgentRef(BaseModel):
    """Which agent process of the device speaks (a device may run several)."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(pattern=NAME_PATTERN)


class LeaseRequest(AgentRef):
    wait_seconds: float = Field(0, ge=0, le=300)


class LeasedTask(BaseModel):
    """A measurement task as the agent receives it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    arch: str
    arch_hash: str
    input_shape: list[int]
    settings: TaskSettings
    attempts: int


class TaskReport(AgentRef):
    """Either a result or the error that prevented one."""

    result: MeasurementResult | None = None
    error: str | None = Field(None, max_length=MAX_ERROR_CHARS)

    @model_validator(mode="after")
    def _one_outcome(self) -> TaskReport:
        if (self.result is None) == (self.error is None):
            raise ValueError("send exactly one of 'result' and 'error'")
        return self
