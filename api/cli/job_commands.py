"""``edgenas jobs ...``: submit search jobs (YAML or JSON spec files) and read their results
over the REST API. Needs only the base install: the server does the work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from api.cli.following import WaitTimeout, follow
from api.client.options import DEFAULT_SERVER, ApiKey, ServerUrl, call, fail

app = typer.Typer(help="Search jobs on a server.", no_args_is_help=True)
MAX_SPEC_BYTES = 256 * 1024


def read_spec(path: Path) -> dict[str, Any]:
    """A spec file: YAML (``.yaml``/``.yml``) or JSON, one mapping."""
    if not path.is_file():
        raise fail(f"{path}: no such file")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise fail(f"{path}: larger than {MAX_SPEC_BYTES // 1024} KiB")
    text = path.read_text()
    try:
        spec = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise fail(f"{path}: not valid YAML: {exc.problem}{where}") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise fail(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from None
    if not isinstance(spec, dict):
        raise fail(f"{path}: the spec must be a mapping of fields, not {type(spec).__name__}")
    return spec


def done_of(job: dict[str, Any]) -> str:
    """How far a job got: trials of its budget, or a training job's epochs."""
    progress = job["progress"]
    if job.get("kind") == "train":
        return f"{progress.get('epochs_done') or 0}/{progress.get('epochs') or 0} epochs"
    return f"{progress['trials_done']}/{progress['budget']} trials"


@app.command()
def submit(
    spec: Annotated[Path, typer.Argument(help="Job spec, .yaml/.yml or .json")],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Submit a job; prints its id (the server validates the whole spec first)."""
    job = call(server, api_key, "POST", "/v1/jobs", json=read_spec(spec)).json()
    typer.echo(f"job {job['id']} queued: {job['name']}")


@app.command("list")
def list_jobs(
    state: Annotated[str | None, typer.Option(help="queued, running, succeeded, ...")] = None,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """The newest jobs: id, state, trials done, name."""
    params = {"state": state} if state else {}
    page = call(server, api_key, "GET", "/v1/jobs", params=params).json()
    for job in page["items"]:
        typer.echo(f"{job['id']}\t{job['state']}\t{done_of(job)}\t{job['name']}")


@app.command()
def show(
    job_id: Annotated[int, typer.Argument()],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """The job as JSON: spec, state, progress, error."""
    typer.echo(json.dumps(call(server, api_key, "GET", f"/v1/jobs/{job_id}").json(), indent=2))


@app.command()
def wait(
    job_id: Annotated[int, typer.Argument()],
    timeout: WaitTimeout = 86_400,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Follow a job until it ends, through restarts of the server: a line whenever its state
    or trial count moves; exit 0 if it succeeded, 1 if it failed or was cancelled."""

    def line(job: dict[str, Any]) -> str:
        return f"job {job_id} {job['state']}: {done_of(job)}"

    job = follow(server, api_key, f"/v1/jobs/{job_id}", timeout, line)
    raise typer.Exit(0 if job["state"] == "succeeded" else 1)


@app.command()
def cancel(
    job_id: Annotated[int, typer.Argument()],
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """Cancel a job (running trials finish; a finished job cannot be cancelled)."""
    job = call(server, api_key, "POST", f"/v1/jobs/{job_id}/cancel").json()
    typer.echo(f"job {job_id}: {job['state']}")


@app.command()
def pareto(
    job_id: Annotated[int, typer.Argument()],
    html: Annotated[Path | None, typer.Option(help="Also save the plot here")] = None,
    server: ServerUrl = DEFAULT_SERVER,
    api_key: ApiKey = None,
) -> None:
    """The job's Pareto front as a table."""
    from rich.console import Console

    from api.cli.front_table import front_table

    front = call(server, api_key, "GET", f"/v1/jobs/{job_id}/pareto").json()
    device = front["devices"][0]
    Console().print(front_table(front["members"], device, f"Pareto front of job {job_id}"))
    if html is not None:
        html.write_text(call(server, api_key, "GET", f"/v1/jobs/{job_id}/pareto.html").text)
        typer.echo(f"wrote {html}")
