"""``edgenas train`` and ``edgenas models ...``: train a search's trial for deployment and
fetch the model's files over the REST API. Needs only the base install."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from api.cli.following import WaitTimeout, follow
from api.client.options import DEFAULT_SERVER, ApiKey, ServerUrl, call, fail

app = typer.Typer(help="Trained models on a server.", no_args_is_help=True)
# --format names the REST file names (workers.models.ARTIFACTS); "pt" loads into PyTorch
FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx", "pt": "weights.safetensors"}
Format = Literal["onnx", "onnx-int8", "pt"]


def train(
    job_id: Annotated[int, typer.Argument(help="The search job")],
    trial: Annotated[int, typer.Argument(help="The trial's number")],
    epochs: Annotated[int | None, typer.Option(help="Default: the server's recipe")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the training until it ends")] = False,
    timeout: WaitTimeout = 86_400,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Train a trial's network for deployment: weights, ONNX fp32 and int8, scored on the
    held-out test images and timed on the search's devices. Prints the model's id."""
    body = {} if epochs is None else {"epochs": epochs}
    path = f"/v1/jobs/{job_id}/trials/{trial}/train"
    model = call(server, api_key, "POST", path, json=body).json()
    typer.echo(f"model {model['id']} queued: training job {model['job_id']}")
    if not wait:
        return
    model = follow(server, api_key, f"/v1/models/{model['id']}", timeout, _line)
    if model["state"] != "succeeded":
        raise typer.Exit(1)
    typer.echo(summary(model))


def _line(model: dict[str, Any]) -> str:
    progress = model["progress"]
    done, epochs = progress.get("epochs_done") or 0, progress.get("epochs") or 0
    stage = progress.get("stage") or model["state"]
    return f"model {model['id']} {model['state']}: epoch {done}/{epochs}, {stage}"


def summary(model: dict[str, Any]) -> str:
    """Test accuracy, size and latency per device of each precision, one line each."""
    results = model["results"]
    lines = []
    for precision, name in (("fp32", FILES["onnx"]), ("int8", FILES["onnx-int8"])):
        accuracy = results["test_accuracy"].get(precision)
        size = results["sizes"].get(name)
        timed = ", ".join(
            f"{device} {found[precision]['median_ms']:.3f} ms"
            for device, found in results["latency"].items()
            if precision in found
        )
        shown = "-" if accuracy is None else f"{accuracy:.4f}"
        lines.append(f"{precision}: test accuracy {shown}, {size or 0:,} bytes, {timed or '-'}")
    return "\n".join(lines)


@app.command("list")
def list_models(server: ServerUrl = DEFAULT_SERVER, api_key: ApiKey = None) -> None:
    """Your newest models: id, state, fp32 and int8 test accuracy, job and trial."""
    page = call(server, api_key, "GET", "/v1/models").json()
    for model in page["items"]:
        scores = model["results"]["test_accuracy"]
        shown = " ".join(f"{p} {a:.4f}" for p, a in scores.items()) or "-"
        typer.echo(
            f"{model['id']}\t{model['state']}\t{shown}\t"
            f"job {model['source_job_id']} trial {model['trial']}"
        )


@app.command()
def show(
    model_id: Annotated[int, typer.Argument()],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """The model as JSON: state, test accuracy, sizes, latency per device and precision."""
    typer.echo(json.dumps(call(server, api_key, "GET", f"/v1/models/{model_id}").json(), indent=2))


@app.command()
def download(
    model_id: Annotated[int, typer.Argument()],
    file_format: Annotated[
        Format, typer.Option("--format", help="onnx, onnx-int8 or pt (safetensors weights)")
    ] = "onnx",
    out: Annotated[Path | None, typer.Option(help="Default: model<ID>-<file> here")] = None,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Save one of the model's files."""
    name = FILES[file_format]
    target = out or Path(f"model{model_id}-{name}")
    if target.is_dir():
        raise fail(f"{target} is a folder; give a file name")
    data = call(server, api_key, "GET", f"/v1/models/{model_id}/{name}").content
    target.write_bytes(data)
    typer.echo(f"wrote {target} ({len(data):,} bytes)")
