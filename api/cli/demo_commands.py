"""``edgenas demo``: the whole service on this machine, end to end (the README's main command).

Starts the embedded server (SQLite in ``--out``, a job runner on a local Ray, a CPU agent
registered as the device ``local``), submits a ``pareto`` search of the ``mnasnet`` space on
the bundled ``mnist5k`` over real HTTP, shows its progress, and ends with the Pareto front as a
table and as ``pareto.html`` / ``pareto.png`` in ``--out``.

Ray gets one CPU and the agent the other: a model timed while two trainings share its core
would measure the neighbours, not the model.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from api.client.options import error_message, fail

DEMO_SPEC: dict[str, Any] = {
    "name": "demo: mnasnet space on mnist5k, pareto on this CPU",
    "space": "mnasnet",
    "data": "mnist5k",
    "devices": ["local"],
    "objective": {"mode": "pareto"},
    "strategy": {"name": "tpe", "settings": {"n_startup_trials": 6}},
    "measurement": {"rounds": 3, "quiet_wait_seconds": 2},
    "seed": 0,
}
POLL_SECONDS = 1.0
DEMO_TRIALS = 12  # 16 took 296 s on a fast day and 520–915 s on slow ones; see RESULTS.md


def demo(
    trials: Annotated[int, typer.Option(min=2, max=200, help="Search budget")] = DEMO_TRIALS,
    out: Annotated[Path, typer.Option(help="Database, results and plots go here")] = Path(
        "demo-out"
    ),
    serve_after: Annotated[
        bool,
        typer.Option("--serve-after", help="Keep the service and its web UI up until Ctrl-C"),
    ] = False,
) -> None:
    """Run the service here and a search through it; print and plot the Pareto front. The web
    UI shows the job live at the address printed first."""
    from rich.console import Console

    console = Console()
    started = time.monotonic()
    with local_service(out) as client:
        key = client.headers["Authorization"].removeprefix("Bearer ")
        console.print(f"[bold]EdgeNAS[/] serving on {client.base_url}")
        console.print(f"web UI: [bold]{client.base_url}/[/]", soft_wrap=True)
        console.print(f"sign in with the API key {key}", soft_wrap=True)
        spec = {**DEMO_SPEC, "budget": {"trials": trials}}
        job = _submit(client, spec)
        console.print(f"submitted job {job['id']}: {spec['name']} ({trials} trials)")
        console.print(f"watch it at {client.base_url}/jobs/{job['id']}", soft_wrap=True)
        _follow(client, job["id"], console, started)
        _report(client, job["id"], out, console)
        console.print(f"demo finished in {time.monotonic() - started:.0f} s")
        if serve_after:
            _serve_until_interrupted(client, console)


def _serve_until_interrupted(client: httpx.Client, console: Any) -> None:
    console.print(f"serving the web UI at {client.base_url}/ until Ctrl-C", soft_wrap=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopping")


@contextmanager
def local_service(out: Path) -> Iterator[httpx.Client]:
    """The embedded service on a fresh SQLite database in ``out``: the server on a free port, a
    job runner on a local Ray and a CPU agent as the device ``local``; yields a client holding
    a user API key."""
    import uvicorn
    from sqlalchemy.orm import sessionmaker

    from api.server.app import create_app
    from api.server.database import upgrade_database
    from api.server.embedded import EmbeddedStack
    from api.server.keys import create_api_key
    from api.server.settings import Settings
    from api.server.users import create_user
    from latency.database import create_db_engine

    out.mkdir(parents=True, exist_ok=True)
    database = out / "edgenas.db"
    database.unlink(missing_ok=True)
    listening = _listening_socket()  # bound first: the agent and the client connect at once
    settings = Settings(
        database_url=f"sqlite:///{database.resolve()}",
        port=listening.getsockname()[1],
        ray_num_cpus=1,
    )
    engine = create_db_engine(settings.database_url)
    upgrade_database(engine)
    with sessionmaker(engine).begin() as session:
        key = create_api_key(session, create_user(session, "demo", admin=True))
    engine.dispose()

    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    serving = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    serving.start()
    stack = EmbeddedStack(settings, runners=1, local_agent=True)
    stack.start()
    try:
        with httpx.Client(
            base_url=f"http://{settings.host}:{settings.port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as client:
            yield client
    finally:
        stack.stop()
        server.should_exit = True
        serving.join(timeout=30)
        listening.close()


def _listening_socket() -> socket.socket:
    """A loopback socket on a free port, listening: connections queue until uvicorn runs."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _submit(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=spec)
    if response.status_code != 201:
        raise fail(f"job refused: {error_message(response)}")
    return response.json()


def _follow(client: Any, job_id: int, console: Any, started: float) -> None:
    """A progress bar until the job is finished; when the first trial came, in seconds from
    the start (the web UI shows it from then on)."""
    from api.cli.progress_bar import search_progress
    from workers.progress import JobProgress
    from workers.tables import FINISHED_STATES

    with search_progress(console) as progress:
        task = None
        first_trial_at: float | None = None
        while True:
            job = client.get(f"/v1/jobs/{job_id}").json()
            figures = JobProgress.model_validate(job["progress"])
            if task is None:
                task = progress.add_task("", total=figures.budget)
            description = f"{figures.trials_running} running"
            if figures.best_accuracy is not None and figures.hypervolume is not None:
                description += (
                    f", best accuracy {figures.best_accuracy:.3f}, "
                    f"hypervolume {figures.hypervolume:.3f}"
                )
            if figures.measurements_saved:
                description += f", {figures.measurements_saved} measurements saved"
            progress.update(task, completed=figures.trials_done, description=description)
            if first_trial_at is None and figures.trials_done:
                first_trial_at = time.monotonic() - started
                progress.console.print(f"first trial done after {first_trial_at:.0f} s")
            if job["state"] in FINISHED_STATES:
                break
            time.sleep(POLL_SECONDS)
    if job["state"] != "succeeded":
        raise fail(f"job {job_id} {job['state']}: {job['error']}")


def _report(client: Any, job_id: int, out: Path, console: Any) -> None:
    from api.cli.front_table import front_table

    front = client.get(f"/v1/jobs/{job_id}/pareto").json()
    device = front["devices"][0]
    table = front_table(
        front["members"], device, f"Pareto front of job {job_id} (latency on {device})"
    )
    console.print(table)
    trials = client.get(f"/v1/jobs/{job_id}/trials", params={"limit": 200}).json()
    (out / "results.json").write_text(json.dumps({"pareto": front, "trials": trials}, indent=2))
    (out / "pareto.html").write_text(client.get(f"/v1/jobs/{job_id}/pareto.html").text)
    (out / "pareto.png").write_bytes(client.get(f"/v1/jobs/{job_id}/pareto.png").content)
    console.print(f"wrote {out / 'results.json'}, {out / 'pareto.html'}, {out / 'pareto.png'}")
