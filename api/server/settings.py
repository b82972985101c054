"""Server configuration: one pydantic-settings class, read from ``EDGENAS_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
