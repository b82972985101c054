"""``edgenas latency``: measure on a registered device, import a lab's measurements, and see
how well the device's predictor does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer

from api.client.latency_requests import LatencyRequestError, measure_latency, wait_for_task
from api.client.options import DEFAULT_SERVER, ApiKey, ServerUrl, error_message, fail, headers

if TYPE_CHECKING:
    from latency.measurement_csv import LatencyRow

BATCH_BYTES = 48 * 1024

app = typer.Typer(help="Measured latency on registered devices.", no_args_is_help=True)


@app.command()
def measure(
    arch: Annotated[str, typer.Argument(help="Architecture string or reference name")],
    device: Annotated[str, typer.Option(help="Registered device name")],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
    wait: Annotated[
        float, typer.Option(min=0, max=86_400, help="Seconds to wait for the agent")
    ] = 300.0,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads on the device")] = 1,
    runs: Annotated[int, typer.Option(help="Timed runs per round")] = 50,
    fresh: Annotated[bool, typer.Option(help="Measure again even if cached")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON")] = False,
) -> None:
    """Queue a measurement (or hit the cache) and print the median latency."""
    body = {
        "arch": arch,
        "device": device,
        "settings": {"threads": threads, "runs": runs},
        "fresh": fresh,
    }
    try:
        with httpx.Client(base_url=server.rstrip("/"), headers=headers(api_key)) as client:
            result = measure_latency(client, body, wait)
    except httpx.TransportError as exc:
        raise fail(f"cannot reach {server}: {exc}") from None
    except LatencyRequestError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    if result["status"] == "failed":
        raise fail(f"measurement failed: {result['error']}")
    if result["record"] is None:
        raise fail(
            f"not measured within {wait:.0f} s (task {result['task_id']} is "
            f"{result['status']}; is an agent running for {device!r}?)"
        )
    record = result["record"]
    typer.echo(
        f"{result['arch_hash']} on {device}: median {record['median_ms']:.3f} ms, "
        f"p90 {record['p90_ms']:.3f} ms, cv {record['cv']:.3f}, "
        f"{record['runs']} runs in {record['rounds']} rounds"
        f"{' (cached)' if result['cached'] else ''}"
    )


def _device_id(client: httpx.Client, name: str) -> int:
    response = client.get("/v1/devices")
    if response.status_code != 200:
        raise fail(error_message(response))
    for device in response.json():
        if device["name"] == name:
            return int(device["id"])
    raise fail(f"no device named {name!r}; register it first (edgenas agent --register)")


def _batches(rows: list[LatencyRow], most: int) -> Iterator[list[dict[str, object]]]:
    """Rows as request bodies of at most ``most`` rows and ``BATCH_BYTES`` of strings, so that
    any server's body limit (64 KiB and up) lets them through."""
    batch: list[dict[str, object]] = []
    size = 0
    for row in rows:
        text = str(row.arch)
        if batch and (len(batch) == most or size + len(text) > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append({"arch": text, "latency_ms": row.ms})
        size += len(text) + 40  # the JSON around it
    if batch:
        yield batch


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV: an 'arch' or FBNet 'ops' column + latency")],
    device: Annotated[str, typer.Option(help="Registered device name")],
    column: Annotated[
        str | None, typer.Option(help="Latency column (ms); needed when the file has several")
    ] = None,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Load a device lab's measurements; every row is checked before anything is sent."""
    from latency.measurement_csv import MAX_IMPORT_BATCH, LatencyCsvError, read_latency_csv

    try:
        rows = read_latency_csv(file.read_text(), column)
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    except LatencyCsvError as exc:
        raise fail(f"{file}: {exc}") from None
    try:
        with httpx.Client(base_url=server.rstrip("/"), headers=headers(api_key)) as client:
            device_id = _device_id(client, device)
            start = 0
            for batch in _batches(rows, MAX_IMPORT_BATCH):
                body = {"source": file.name[:200], "measurements": batch}
                response = client.post(f"/v1/devices/{device_id}/measurements", json=body)
                if response.status_code != 201:
                    end = start + len(batch)
                    raise fail(f"rows {start + 1}-{end}: {error_message(response)}")
                start += len(batch)
    except httpx.TransportError as exc:
        raise fail(f"cannot reach {server}: {exc}") from None
    total = response.json()["measurements"]
    typer.echo(f"imported {len(rows)} measurements into {device} ({total} architectures in all)")


@app.command()
def calibrate(
    device: Annotated[str, typer.Argument(help="Registered device name")],
    space: Annotated[str, typer.Option(help="Shipped search space the device will search")] = (
        "mnasnet"
    ),
    count: Annotated[int, typer.Option(min=1, help="Architectures to measure")] = 30,
    layers: Annotated[
        bool, typer.Option(help="Also time every distinct layer of the space alone")
    ] = True,
    resolution: Annotated[
        int | None, typer.Option(help="Input size of the jobs to come (default: the space's)")
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, max=86_400, help="Seconds to wait for the measurements")
    ] = 0.0,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Measure architectures spread over a space, and its layers one by one, so that the
    device's predictor prices every kind of operator before a search relies on it."""
    body = {"space": space, "count": count, "resolution": resolution, "layers": layers}
    try:
        with httpx.Client(
            base_url=server.rstrip("/"), headers=headers(api_key), timeout=600
        ) as client:
            response = client.post(f"/v1/devices/{_device_id(client, device)}/calibrate", json=body)
            if response.status_code != 202:
                raise fail(error_message(response))
            queued = response.json()
            typer.echo(
                f"{queued['architectures']} architectures and {queued['layers']} layers chosen: "
                f"{len(queued['task_ids'])} queued for {device}, "
                f"{queued['already_measured']} already measured"
            )
            if wait <= 0 or not queued["task_ids"]:
                return
            deadline = time.monotonic() + wait
            states = [
                wait_for_task(client, task_id, deadline - time.monotonic())["status"]
                for task_id in queued["task_ids"]
            ]
    except httpx.TransportError as exc:
        raise fail(f"cannot reach {server}: {exc}") from None
    except LatencyRequestError as exc:
        raise fail(str(exc)) from None
    done, failed = states.count("done"), states.count("failed")
    typer.echo(f"{done} measured, {failed} failed, {len(states) - done - failed} still waiting")
    if done + failed < len(states):
        raise fail(f"not all measured within {wait:.0f} s; is an agent running for {device!r}?")


@app.command("predictor-report")
def predictor_report(
    device: Annotated[str, typer.Argument(help="Registered device name")],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the server's JSON")] = False,
) -> None:
    """How well the device's latency predictor does, cross-validated on its measurements."""
    try:
        with httpx.Client(
            base_url=server.rstrip("/"), headers=headers(api_key), timeout=300
        ) as client:
            response = client.get(f"/v1/devices/{_device_id(client, device)}/predictor")
    except httpx.TransportError as exc:
        raise fail(f"cannot reach {server}: {exc}") from None
    if response.status_code != 200:
        raise fail(error_message(response))
    report = response.json()
    if as_json:
        typer.echo(json.dumps(report))
        return
    if not report["ready"]:
        raise fail(report["message"])
    cv = report["cross_validated"]
    typer.echo(
        f"{device}: {report['measurements']} measured architectures "
        f"({report['imported']} imported), {report['layers']} layers timed alone, "
        f"model {report['model']}\n"
        f"  cross-validated MAPE {100 * cv['mape']:.2f}%, within ±10% {100 * cv['within10']:.1f}%,"
        f" Spearman {cv['spearman']:.3f}, Kendall {cv['kendall']:.3f}"
    )
