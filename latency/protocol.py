"""What the server and a device agent say to each other (pydantic; no torch, no database).

Shared by both sides so a field renamed on one side fails the other's tests, not a phone in
the field.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_RUNS = 10_000


class MeasurementSettings(BaseModel):
    """How one model is timed. Part of the cache key: other settings, other measurement."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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

    def key(self) -> str:
        """Canonical JSON of the settings, for de-duplication and cache look-ups."""
        return json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))


class MeasurementResult(BaseModel):
    """One finished measurement, in milliseconds."""

    model_config = ConfigDict(extra="forbid")

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
