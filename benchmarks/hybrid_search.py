"""What hybrid latency saves: the same search job in ``measured`` and in ``hybrid`` mode.

    python benchmarks/hybrid_search.py [--trials 30] [--epochs 1] [--train-images 1000]
        [--seed 0]

Each mode runs on its own fresh embedded service (``edgenas demo``'s: SQLite, a runner on a
local Ray, this machine's CPU agent as the device ``local``), so neither inherits the other's
measurements and the hybrid predictor starts from nothing. Same space, data, strategy, seed
and budget. Reported per mode: latencies measured by the agent, measurements saved, wall
time, and the hypervolume of the reported Pareto front (every member measured in both modes),
at one reference point shared by both. Prints a table, writes
``benchmarks/results/hybrid_search.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import write_json
from rich.console import Console
from rich.table import Table

from api.cli.demo_commands import DEMO_SPEC, local_service
from search.pareto import hypervolume, reference_point

MODES = ("measured", "hybrid")
POLL_SECONDS = 2.0
DEVICE = "local"


def run_job(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Submit ``spec``, wait for it to finish; its progress, front and trials."""
    response = client.post("/v1/jobs", json=spec)
    response.raise_for_status()
    job_id = response.json()["id"]
    while (job := client.get(f"/v1/jobs/{job_id}").json())["state"] in ("queued", "running"):
        time.sleep(POLL_SECONDS)
    if job["state"] != "succeeded":
        raise SystemExit(f"job {job_id} {job['state']}: {job['error']}")
    front = client.get(f"/v1/jobs/{job_id}/pareto").json()["members"]
    trials = client.get(f"/v1/jobs/{job_id}/trials", params={"limit": 200}).json()["items"]
    return {"progress": job["progress"], "front": front, "trials": trials}


def points(front: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(m["accuracy"], m["latency_ms"][DEVICE]) for m in front]


def run(args: argparse.Namespace) -> dict[str, Any]:
    spec = {
        **DEMO_SPEC,
        "name": "hybrid benchmark",
        "budget": {"trials": args.trials},
        "proxy": {"epochs": args.epochs, "train_images": args.train_images},
        "seed": args.seed,
    }
    found: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        with tempfile.TemporaryDirectory() as out, local_service(Path(out)) as client:
            started = time.monotonic()
            found[mode] = run_job(client, {**spec, "latency": mode})
            found[mode]["wall_seconds"] = time.monotonic() - started
    maximize = [True, False]
    every_point = [p for mode in MODES for p in points(found[mode]["front"])]
    reference = reference_point(maximize, [None, None], every_point)
    rows = {}
    for mode in MODES:
        front = found[mode]["front"]
        predicted = [
            t for t in found[mode]["trials"] if t["latency_predicted"] and t["state"] == "complete"
        ]
        rows[mode] = {
            "trials": found[mode]["progress"]["trials_done"],
            "latency_measured": found[mode]["progress"]["latency_measured"],
            "measurements_saved": found[mode]["progress"]["measurements_saved"],
            "wall_seconds": round(found[mode]["wall_seconds"], 1),
            "front_size": len(front),
            "front_all_measured": all(not m["latency_predicted"] for m in front),
            "hypervolume": hypervolume(points(front), maximize, reference),
            "best_accuracy": max(m["accuracy"] for m in front),
            "predicted_trials": len(predicted),
        }
    return {
        "spec": spec,
        "reference_point": reference,
        "modes": rows,
        "fronts": {mode: points(found[mode]["front"]) for mode in MODES},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    result = run(parser.parse_args(argv))
    table = Table(title="The same search, latency measured vs hybrid (this machine's CPU)")
    columns = ("latency_measured", "measurements_saved", "wall_seconds", "front_size")
    for column in ("mode", *columns, "hypervolume", "best_accuracy"):
        table.add_column(column)
    for mode, row in result["modes"].items():
        table.add_row(
            mode,
            *(str(row[c]) for c in columns),
            f"{row['hypervolume']:.4f}",
            f"{row['best_accuracy']:.3f}",
        )
    Console().print(table)
    print(f"wrote {write_json('hybrid_search.json', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
