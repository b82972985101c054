"""What the control plane costs: the real job runner, Optuna's storage on PostgreSQL and a Ray
cluster, with a stand-in evaluation that trains nothing (it sleeps ``--evaluation-seconds``
and returns a made-up accuracy and latency), so that what is timed is everything around the
training.

- ``throughput``: ``--jobs-trials`` trials per job, one job per runner, each runner a process
  of its own (as ``docker compose --scale worker=N`` runs them) with ``--in-flight``
  evaluations at a time; trials per second for 1, 2 and 4 runners.
- ``growth``: one job of ``--growth-trials`` trials with instant evaluations: the control
  plane's time per trial as the study grows, per window of trials.
- ``storage``: database rows and bytes per trial once that job is done.

Targets (issue 20): under 50 ms per trial at 10,000 trials, and 4 runners at least 3x the
trials per second of one. Prints tables, writes JSON (default
``benchmarks/results/control_plane.json``), exits 1 when a target is missed.

    python benchmarks/control_plane.py [--runners 1,2,4] [--jobs-trials 300]
        [--evaluation-seconds 1] [--in-flight 4] [--growth-trials 10000] [--strategy random]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import ray
from common import free_port, running, scratch_postgres
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.server.database import upgrade_database
from edgenas.callers import SERVICE
from latency.database import create_db_engine
from search.engine import Candidate, Outcome
from search.train import Evaluation
from workers.evaluation import Evaluator, NodeOutcome
from workers.jobs import submit_job
from workers.runner import Runner, RunnerSettings
from workers.spec import JobSpec
from workers.tables import FINISHED_STATES, Job, study_name

RAY = str(Path(sys.executable).parent / "ray")
SPACE = "shufflenet"
DEVICES = {"cpu-1": 1}  # the stand-in measures nothing: the device only names an objective
PER_TRIAL_TARGET_MS = 50.0
SPEEDUP_TARGET = 3.0
RUNNER_START_SECONDS = 120
WINDOW = 1000  # trials per row of the growth table
READY = "runner ready"
OPTUNA_TABLES = (
    "trials",
    "trial_params",
    "trial_values",
    "trial_user_attributes",
    "trial_system_attributes",
    "trial_intermediate_values",
    "trial_heartbeats",
)


def stand_in(seconds: float) -> Evaluator:
    """An evaluation that sleeps ``seconds`` instead of measuring and training; accuracy and
    latency are made up from the architecture, so the front moves as a real one does."""

    def evaluate(
        spec_json: str,
        data_location: str | None,
        database_url: str,
        study_name: str,
        candidate: Candidate,
        devices: Mapping[str, int],
    ) -> NodeOutcome:
        time.sleep(seconds)
        digest = hashlib.sha256(candidate.arch.encode()).digest()
        accuracy = 0.5 + digest[0] / 512
        evaluation = Evaluation(accuracy, (accuracy,), False, seconds, 0.0)
        latency = {device: candidate.macs / 1e6 + digest[1] / 64 for device in devices}
        outcome = Outcome(latency_ms=latency, violations={}, evaluation=evaluation)
        return NodeOutcome(outcome, ray.get_runtime_context().get_node_id())

    return evaluate


def run_runner(url: str, ray_address: str, seconds: float, in_flight: int) -> None:
    """One runner process: joins the cluster and drives jobs until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ray.init(address=ray_address, log_to_driver=False, logging_level=logging.WARNING)
    warm_up(in_flight)
    print(READY, flush=True)
    sessions = sessionmaker(create_db_engine(url), expire_on_commit=False)
    settings = RunnerSettings(database_url=url, max_in_flight=in_flight, idle_seconds=0.1)
    Runner(settings, sessions, evaluate=stand_in(seconds)).run(stop)
    ray.shutdown()


def warm_up(workers: int) -> None:
    """Start this driver's Ray workers and import the evaluation's modules in each, so that
    worker start-up (seconds per worker on two cores) is not timed as the control plane's."""

    @ray.remote(num_cpus=1)
    def load() -> None:
        import search.engine  # noqa: F401  (what the stand-in's outcome is made of)

        time.sleep(1)  # held, so that the next task needs a worker of its own

    ray.get([load.remote() for _ in range(workers)])


@contextmanager
def ray_cluster(cpus: int, env: dict[str, str]) -> Iterator[str]:
    """A one-node Ray cluster of ``cpus`` slots, its files in a folder of its own (never the
    machine's current cluster); its address."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="enray-") as folder:
        head = [
            RAY, "start", "--head", f"--port={port}", f"--num-cpus={cpus}",
            f"--temp-dir={folder}", "--include-dashboard=false", "--disable-usage-stats",
            "--block",
        ]  # fmt: skip
        with running(head, env, output=subprocess.DEVNULL):
            address = f"127.0.0.1:{port}"
            status = [RAY, "status", "--address", address]
            deadline = time.monotonic() + RUNNER_START_SECONDS
            while subprocess.run(status, env=env, capture_output=True).returncode != 0:
                if time.monotonic() > deadline:
                    raise SystemExit("the Ray head did not start")
                time.sleep(1)
            yield address


@contextmanager
def analyzed(sessions: sessionmaker[Session]) -> Iterator[str]:
    """What keeps the planner's statistics fresh as the study grows: PostgreSQL's autovacuum
    (on by default, and in docker-compose.yml), or, where a server runs with it off (as
    this machine's does), an ``ANALYZE`` every ``autovacuum_naptime`` as autovacuum would
    run one. Without either, the tables keep the statistics of an empty database and Optuna's
    trial reads turn into sequential scans that grow with every trial."""
    with sessions() as session:
        if session.execute(text("SHOW autovacuum")).scalar_one() == "on":
            yield "autovacuum"
            return
        naptime = session.execute(
            text("SELECT setting::int FROM pg_settings WHERE name = 'autovacuum_naptime'")
        ).scalar_one()
    stop = threading.Event()

    def analyze() -> None:
        while not stop.wait(naptime):
            with sessions.begin() as session:
                session.execute(text("ANALYZE"))

    thread = threading.Thread(target=analyze, daemon=True)
    thread.start()
    try:
        yield f"ANALYZE every {naptime} s (the server's autovacuum is off)"
    finally:
        stop.set()
        thread.join()


def queue(sessions: sessionmaker[Session], jobs: int, trials: int, strategy: str) -> list[int]:
    submitted = {
        "space": SPACE,
        "devices": list(DEVICES),
        "strategy": {"name": strategy},
        "budget": {"trials": trials},
    }
    spec = JobSpec.model_validate(submitted)
    with sessions.begin() as session:
        return [
            submit_job(session, spec, submitted, SERVICE, DEVICES, "mnist5k").id
            for _ in range(jobs)
        ]


def wait_finished(sessions: sessionmaker[Session], job_ids: Sequence[int], limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        with sessions() as session:
            states = [session.get_one(Job, job_id).state for job_id in job_ids]
        if all(state in FINISHED_STATES for state in states):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"jobs {list(job_ids)} did not finish within {limit:.0f} s")
        time.sleep(0.5)


def completion_times(sessions: sessionmaker[Session], job_ids: Sequence[int]) -> list[float]:
    """When each trial of the jobs finished (epoch seconds), in order."""
    names = [study_name(job_id) for job_id in job_ids]
    query = text(
        "SELECT extract(epoch FROM t.datetime_complete) FROM trials t "
        "JOIN studies s ON s.study_id = t.study_id "
        "WHERE s.study_name = ANY(:names) AND t.state = 'COMPLETE' "
        "ORDER BY t.datetime_complete"
    )
    with sessions() as session:
        return [float(row[0]) for row in session.execute(query, {"names": names})]


@contextmanager
def runners(count: int, url: str, address: str, seconds: float, args: Any) -> Iterator[None]:
    command = [
        sys.executable, __file__, "--runner", url, address, str(seconds), str(args.in_flight),
    ]  # fmt: skip
    with ExitStack() as stack:
        started = [stack.enter_context(running(command, dict(os.environ))) for _ in range(count)]
        for runner in started:  # each warmed up its Ray workers (or exited: end of output)
            assert runner.stdout is not None
            printed = []
            for line in runner.stdout:
                if line.strip() == READY:
                    break
                printed.append(line)
            else:
                raise SystemExit("a runner did not start:\n" + "".join(printed))
            threading.Thread(target=runner.stdout.read, daemon=True).start()  # never blocks it
        yield


def throughput(
    sessions: sessionmaker[Session], url: str, address: str, args: Any
) -> list[dict[str, float]]:
    rows = []
    for count in args.runners:
        with runners(count, url, address, args.evaluation_seconds, args):
            job_ids = queue(sessions, count, args.jobs_trials, args.strategy)
            wait_finished(sessions, job_ids, limit=RUNNER_START_SECONDS + 10 * args.jobs_trials)
        finished = completion_times(sessions, job_ids)
        span = finished[-1] - finished[0]
        per_second = (len(finished) - 1) / span
        ideal = count * args.in_flight / args.evaluation_seconds
        rows.append(
            {
                "runners": count,
                "trials": len(finished),
                "seconds": span,
                "trials_per_second": per_second,
                "of_ideal": per_second / ideal,
            }
        )
    base = rows[0]["trials_per_second"]
    for row in rows:
        row["speedup"] = row["trials_per_second"] / base
    return rows


def growth(
    sessions: sessionmaker[Session], url: str, address: str, args: Any
) -> tuple[int, list[dict[str, float]]]:
    with runners(1, url, address, 0.0, args):
        (job_id,) = queue(sessions, 1, args.growth_trials, args.strategy)
        wait_finished(sessions, [job_id], limit=RUNNER_START_SECONDS + args.growth_trials)
    finished = completion_times(sessions, [job_id])
    rows = []
    for start in range(0, len(finished) - 1, WINDOW):
        end = min(start + WINDOW, len(finished) - 1)
        rows.append(
            {
                "from_trial": start,
                "to_trial": end,
                "ms_per_trial": (finished[end] - finished[start]) / (end - start) * 1000,
            }
        )
    return job_id, rows


def storage(sessions: sessionmaker[Session], trials: int) -> list[dict[str, float]]:
    """Rows and bytes per trial of Optuna's tables (the database holds this job alone)."""
    rows = []
    with sessions() as session:
        for table in OPTUNA_TABLES:
            count = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            size = session.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
            rows.append({"table": table, "rows_per_trial": count / trials, "bytes": size})
    for row in rows:
        row["bytes_per_trial"] = row["bytes"] / trials
    return rows


def print_tables(result: dict[str, Any], args: Any) -> None:
    console = Console()
    table = Table(
        title=f"throughput: {args.jobs_trials} trials per runner, "
        f"{args.evaluation_seconds:g} s evaluations, {args.in_flight} in flight per runner"
    )
    for column in ("runners", "trials", "seconds", "trials/s", "of ideal", "speedup"):
        table.add_column(column, justify="right")
    for row in result["throughput"]:
        table.add_row(
            str(row["runners"]),
            str(row["trials"]),
            f"{row['seconds']:.1f}",
            f"{row['trials_per_second']:.2f}",
            f"{row['of_ideal']:.0%}",
            f"{row['speedup']:.2f}x",
        )
    console.print(table)
    table = Table(title=f"growth: one study to {args.growth_trials} trials, instant evaluations")
    for column in ("trials", "ms per trial"):
        table.add_column(column, justify="right")
    for row in result["growth"]:
        table.add_row(f"{row['from_trial']}-{row['to_trial']}", f"{row['ms_per_trial']:.1f}")
    console.print(table)
    console.print(f"planner statistics kept fresh by: {result['statistics']}")
    table = Table(title=f"storage after {result['growth_trials_done']} trials")
    for column in ("table", "rows per trial", "bytes per trial"):
        table.add_column(column, justify="right")
    for row in result["storage"]:
        table.add_row(row["table"], f"{row['rows_per_trial']:.2f}", f"{row['bytes_per_trial']:.0f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runners", default="1,2,4", type=lambda v: [int(n) for n in v.split(",")])
    parser.add_argument("--jobs-trials", type=int, default=300)
    parser.add_argument("--evaluation-seconds", type=float, default=1.0)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--growth-trials", type=int, default=10_000)
    parser.add_argument("--strategy", default="random")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "control_plane.json"
    )
    args = parser.parse_args()
    environment = {
        **os.environ,
        "RAY_AUTH_MODE": "token",  # as docker-compose.yml runs the cluster
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    os.environ.update(environment)
    cpus = max(args.runners) * args.in_flight
    result: dict[str, Any] = {"settings": vars(args) | {"out": str(args.out)}}
    with ray_cluster(cpus, environment) as address:
        with scratch_postgres("edgenas_control") as url:
            engine = create_db_engine(url)
            upgrade_database(engine)
            sessions = sessionmaker(engine, expire_on_commit=False)
            with analyzed(sessions):
                result["throughput"] = throughput(sessions, url, address, args)
            engine.dispose()
        with scratch_postgres("edgenas_growth") as url:
            engine = create_db_engine(url)
            upgrade_database(engine)
            sessions = sessionmaker(engine, expire_on_commit=False)
            with analyzed(sessions) as result["statistics"]:
                job_id, result["growth"] = growth(sessions, url, address, args)
            done = len(completion_times(sessions, [job_id]))
            result["growth_trials_done"] = done
            result["storage"] = storage(sessions, done)
            engine.dispose()
    print_tables(result, args)
    last = result["growth"][-1]["ms_per_trial"]
    speedup = result["throughput"][-1]["speedup"]
    met = last < PER_TRIAL_TARGET_MS and speedup >= SPEEDUP_TARGET
    result["target_met"] = met
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    verdict = "met" if met else "MISSED"
    print(
        f"targets (< {PER_TRIAL_TARGET_MS:.0f} ms per trial at the end, 4 runners >= "
        f"{SPEEDUP_TARGET:.0f}x one): {verdict}; wrote {args.out}"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--runner":
        url, address, seconds, in_flight = sys.argv[2:6]
        run_runner(url, address, float(seconds), int(in_flight))
    else:
        main()
