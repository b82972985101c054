"""Server configuration: one pydantic-settings class, read from ``EDGENAS_*`` variables."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from space.size_caps import SizeCaps

CAPS = SizeCaps()


def loopback_hosts(host: str) -> list[str]:
    """The names a request may give in its Host header when the server serves without keys:
    loopback only, so a web page cannot reach it through a DNS name rebound to 127.0.0.1."""
    names = ["127.0.0.1", "localhost"]
    try:
        if ipaddress.IPv4Address(host).is_loopback and host not in names:
            names.append(host)
    except ValueError:
        pass
    return names


class Settings(BaseSettings):
    """Everything the server can be told; defaults are the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="EDGENAS_", extra="ignore")

    database_url: str = Field("sqlite:///edgenas.db", description="SQLAlchemy URL")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    local_dev_no_auth: bool = Field(
        False, description="serve /v1 without API keys (local development only)"
    )
    lease_seconds: float = Field(120.0, gt=0, le=3600)
    max_wait_seconds: float = Field(30.0, gt=0, le=300, description="long-poll ceiling")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="larger requests get 413")
    max_task_attempts: int = Field(3, ge=1, le=20)
    ray_address: str | None = Field(
        None, description="an existing Ray cluster (ray://... or host:port); default: start one"
    )
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs of the local Ray")
    runner_lease_seconds: float = Field(30.0, gt=0, le=3600, description="job lease of a runner")
    data_dir: Path = Field(
        Path("edgenas-data"), description="where uploaded data sets are kept (one file each)"
    )
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="server folders a job's data may name by path, separated by ':' "
        "(default: none; jobs use bundled and uploaded data sets)",
    )
    max_dataset_bytes: int = Field(2 << 30, ge=1024, description="larger uploads get 413")
    max_datasets_per_user: int = Field(20, ge=1, description="uploads kept per user")

    max_arch_params: int = Field(
        CAPS.max_arch_params, ge=1, description="larger networks are never built or exported"
    )
    max_arch_macs: int = Field(CAPS.max_arch_macs, ge=1, description="the same, for MACs")
    max_onnx_bytes: int = Field(
        CAPS.max_onnx_bytes, ge=1, description="the same, for the ONNX file (4 bytes a weight)"
    )

    rate_limit: str = Field(
        "1200/minute", description="requests per API key, in limits' notation (N/second|minute)"
    )
    max_active_jobs_per_user: int = Field(10, ge=1, description="queued and running jobs")
    max_open_tasks_per_user: int = Field(10_000, ge=1, description="pending or leased tasks")
    max_calibrations_per_user: int = Field(1, ge=1, description="calibrations being prepared")

    web_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="how long a web UI sign-in lasts"
    )
    secure_cookies: bool = Field(
        False, description="mark the web UI's cookie Secure (set it when served over HTTPS)"
    )

    def size_caps(self) -> SizeCaps:
        return SizeCaps(self.max_arch_params, self.max_arch_macs, self.max_onnx_bytes)

    @model_validator(mode="after")
    def _no_auth_on_loopback_only(self) -> Settings:
        if self.local_dev_no_auth and self.host not in loopback_hosts(self.host):
            raise ValueError(
                f"local_dev_no_auth serves without keys: bind a loopback address "
                f"(127.0.0.1 or localhost), not {self.host}"
            )
        return self

    @field_validator("rate_limit")
    @classmethod
    def _parse_rate(cls, value: str) -> str:
        parse(value)  # a ValueError names what is wrong with it
        return value

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(part) for part in value.split(os.pathsep) if part]
        return value
