"""``edgenas latency measure``: the latency of an architecture on a registered device."""

from __future__ import annotations

import json
from typing import Annotated

import httpx
import typer

from api.client_options import DEFAULT_SERVER, ApiKey, ServerUrl, fail, headers
from api.latency_client import LatencyRequestError, measure_latency

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
