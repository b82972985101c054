"""``edgenas agent``: run a device agent (needs only the ``agent`` extra)."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

from api.client.options import DEFAULT_SERVER, ApiKey, error_message, fail, headers
from latency.agent_config import DEFAULT_PATH, AgentConfig, load_config, save_config

if TYPE_CHECKING:
    from latency.backends import Backend

DEFAULT_BATCH = 4
MAX_BATCH = 32  # every model of a batch keeps an ONNX Runtime session open


def _register(
    server: str,
    name: str,
    api_key: str | None,
    backend: str,
    provider: str,
    shared: bool,
    config_path: Path,
) -> AgentConfig:
    response = httpx.post(
        f"{server}/v1/devices",
        headers=headers(api_key),
        timeout=30,
        json={
            "name": name,
            "kind": "android" if backend == "adb" else "cpu",
            "runtime": backend,
            "provider": provider,
            "shared": shared,
        },
    )
    if response.status_code != 201:
        raise fail(f"could not register {name!r}: {error_message(response)}")
    config = AgentConfig(server=server, token=response.json()["token"], device=name)
    typer.echo(f"registered device {name!r}; token saved to {save_config(config, config_path)}")
    return config


def agent(
    server: Annotated[
        str | None, typer.Option(envvar="EDGENAS_SERVER", help="Server base URL")
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(help="Register this machine as a device of this name (needs --api-key)"),
    ] = None,
    api_key: ApiKey = None,
    shared: Annotated[
        bool, typer.Option("--shared", help="With --register: every user may measure on it")
    ] = False,
    config: Annotated[
        Path,
        typer.Option(
            help="The file holding the device token (mode 0600); EDGENAS_DEVICE_TOKEN wins. "
            "Never on the command line: every user of the machine sees that in ps"
        ),
    ] = DEFAULT_PATH,
    backend: Annotated[str, typer.Option(help="onnxruntime or adb")] = "onnxruntime",
    provider: Annotated[str, typer.Option(help="ONNX Runtime execution provider")] = (
        "CPUExecutionProvider"
    ),
    adb_serial: Annotated[str | None, typer.Option(help="adb device serial")] = None,
    adb_command: Annotated[
        str | None,
        typer.Option(help="Benchmark command template on the phone ({model}, {runs}, {threads})"),
    ] = None,
    max_tasks: Annotated[int | None, typer.Option(help="Exit after this many tasks")] = None,
    wait: Annotated[float, typer.Option(help="Long-poll seconds per lease request")] = 20.0,
    grace: Annotated[
        float,
        typer.Option(help="On SIGTERM, seconds to finish the task in hand before abandoning it"),
    ] = 30.0,
    batch: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_BATCH,
            help="Waiting tasks timed together, rounds interleaved, so a slow spell of the "
            "machine skews none of them (default 4 for onnxruntime, 1 for adb, which times "
            "one model at a time); a batch must finish within the server's lease",
        ),
    ] = None,
) -> None:
    """Serve measurement tasks of one device until SIGTERM or Ctrl-C."""
    from latency.agent import Agent, AgentRejected

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long-poll is noise
    token = os.environ.get("EDGENAS_DEVICE_TOKEN")
    settings = _agent_config(server, token, register, api_key, config, backend, provider, shared)
    timer = _backend(backend, provider, adb_serial, adb_command)
    with httpx.Client(
        base_url=settings.server, headers=headers(settings.token), timeout=60
    ) as client:
        worker = Agent(
            client=client,
            backend=timer,
            wait_seconds=wait,
            grace_seconds=grace,
            batch=batch or (1 if backend == "adb" else DEFAULT_BATCH),
        )
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: worker.request_stop())
        try:
            worker.run(max_tasks=max_tasks)
        except AgentRejected as exc:
            raise fail(f"the server refused this agent: {exc}") from None
    typer.echo(
        f"agent stopped: {worker.measured} measured, {worker.failed} failed, "
        f"{worker.abandoned} handed back"
    )


def _agent_config(
    server: str | None,
    token: str | None,
    register: str | None,
    api_key: str | None,
    config: Path,
    backend: str,
    provider: str,
    shared: bool,
) -> AgentConfig:
    """Where to serve and as which device: a new registration, the token given, or the
    config file an earlier registration wrote."""
    url = (server or DEFAULT_SERVER).rstrip("/")
    if register:
        return _register(url, register, api_key, backend, provider, shared, config)
    if token:
        return AgentConfig(server=url, token=token, device="")
    if not config.exists():
        raise fail(f"set EDGENAS_DEVICE_TOKEN, or --register NAME --api-key KEY (no {config} yet)")
    if config.stat().st_mode & 0o077:
        raise fail(f"{config} holds a device token: make it private first (chmod 600 {config})")
    try:
        settings = load_config(config)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {config}: {exc}") from None
    return settings.model_copy(update={"server": url}) if server else settings


def _backend(
    backend: str, provider: str, adb_serial: str | None, adb_command: str | None
) -> Backend:
    """The timer: ONNX Runtime on this machine, or a phone over adb."""
    from latency.backends import AdbBackend, OnnxRuntimeBackend

    try:
        if backend == "adb":
            return AdbBackend(serial=adb_serial, command=adb_command)
        return OnnxRuntimeBackend(provider)
    except ValueError as exc:
        raise fail(str(exc)) from None
