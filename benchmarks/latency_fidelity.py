"""Does the agent report what the device does? Agent-reported vs direct ONNX Runtime latency.

Starts the real stack the README describes (``edgenas serve`` on a temporary SQLite database,
``edgenas users create``, ``edgenas keys create``, ``edgenas agent --register``), then for
every architecture:

1. asks the server for a fresh measurement on the agent's device (agent #1),
2. downloads the very ONNX file the agent timed and times it here, in this process, with the
   same settings and the same protocol (direct),
3. asks for a second fresh measurement (agent #2).

Targets (issue 3): agent vs direct within 5%, agent #1 vs agent #2 within 5%. Prints a table,
writes JSON (default ``benchmarks/results/latency_fidelity.json``), exits 1 when a target
is missed.

    python benchmarks/latency_fidelity.py [--threads N] [--runs N] [--rounds N] [--sampled 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from common import CLI, free_port, running, user_key, wait_until_healthy
from rich.console import Console
from rich.table import Table

from api.client.latency_requests import measure_latency
from latency.bench import QuietCheck, measure
from latency.protocol import MeasurementSettings
from space.presets import search_space
from space.references import reference_names

TOLERANCE = 0.05
DEVICE = "fidelity-cpu"


@contextmanager
def running_stack(folder: Path) -> Iterator[tuple[str, str, str]]:
    """(base URL, user API key, device token) of a server and one registered CPU agent."""
    env = {**os.environ, "EDGENAS_DATABASE_URL": f"sqlite:///{folder / 'edgenas.db'}"}
    key = user_key(env, "fidelity")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([*CLI, "serve", "--port", str(port)], env) as server:
        wait_until_healthy(base, server)
        config = folder / "agent.json"
        agent_args = ["agent", "--server", base, "--register", DEVICE, "--api-key", key]
        with running([*CLI, *agent_args, "--config", str(config)], env) as agent:
            first = agent.stdout.readline() if agent.stdout else ""
            if "registered device" not in first:
                raise SystemExit(f"agent did not register: {first}")
            yield base, key, json.loads(config.read_text())["token"]


def _agent_measurement(
    client: httpx.Client, arch: str, settings: MeasurementSettings
) -> tuple[dict, int]:
    """(latency record, task id) of a fresh measurement by the agent."""
    body = {"arch": arch, "device": DEVICE, "settings": settings.model_dump(), "fresh": True}
    result = measure_latency(client, body, wait_seconds=600)
    if result["status"] != "done":
        raise SystemExit(f"measurement of {arch} did not finish: {result}")
    return result["record"], result["task_id"]


def architectures(sampled: int, seed: int) -> list[tuple[str, str]]:
    """(label, architecture) pairs: every reference network plus samples of two spaces."""
    picks = [(name, name) for name in reference_names()]
    rng = random.Random(seed)
    for preset in ("mnasnet", "mixed"):
        space = search_space(preset)
        for index in range(sampled):
            picks.append((f"{preset} sample {index}", str(space.decode(space.sample(rng)))))
    return picks


def run(settings: MeasurementSettings, sampled: int, seed: int) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder, running_stack(Path(folder)) as stack:
        base, key, token = stack
        user = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
        device = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        quiet = QuietCheck()  # like the agent's: one per process, learning the machine
        for label, arch in architectures(sampled, seed):
            first, task_id = _agent_measurement(user, arch, settings)
            model = device.get(f"/v1/agent/tasks/{task_id}/model", timeout=60).content
            direct = measure(model, settings, quiet=quiet)
            second, _ = _agent_measurement(user, arch, settings)
            a, d, b = first["median_ms"], direct.median_ms, second["median_ms"]
            rows.append(
                {
                    "name": label,
                    "arch": arch,
                    "agent_ms": a,
                    "direct_ms": d,
                    "agent_again_ms": b,
                    "agent_vs_direct": abs(a - d) / d,
                    "agent_vs_agent": abs(a - b) / min(a, b),
                    "disturbed_rounds": [
                        first["disturbed_rounds"],
                        direct.disturbed_rounds,
                        second["disturbed_rounds"],
                    ],
                }
            )
    return rows


def report(rows: list[dict[str, object]], settings: MeasurementSettings) -> bool:
    table = Table(
        title=f"Agent vs direct ONNX Runtime ({settings.threads} thread(s), "
        f"{settings.rounds} rounds x {settings.runs} runs)"
    )
    columns = ("network", "agent ms", "direct ms", "agent again ms", "vs direct", "repeat", "busy")
    for column in columns:
        table.add_column(column, justify="left" if column == "network" else "right")
    for row in rows:
        table.add_row(
            str(row["name"]),
            f"{row['agent_ms']:.3f}",
            f"{row['direct_ms']:.3f}",
            f"{row['agent_again_ms']:.3f}",
            f"{row['agent_vs_direct']:.1%}",
            f"{row['agent_vs_agent']:.1%}",
            "/".join(str(n) for n in row["disturbed_rounds"]),
        )
    Console(width=120).print(table)
    worst_direct = max(float(row["agent_vs_direct"]) for row in rows)
    worst_repeat = max(float(row["agent_vs_agent"]) for row in rows)
    holds = worst_direct <= TOLERANCE and worst_repeat <= TOLERANCE
    print(
        f"worst agent vs direct {worst_direct:.1%}, worst repeat {worst_repeat:.1%} "
        f"(target {TOLERANCE:.0%}): {'PASS' if holds else 'FAIL'}"
    )
    return holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = MeasurementSettings()
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--runs", type=int, default=defaults.runs)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--sampled", type=int, default=2, help="samples per space")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "latency_fidelity.json"
    )
    args = parser.parse_args()
    settings = MeasurementSettings(threads=args.threads, runs=args.runs, rounds=args.rounds)
    rows = run(settings, args.sampled, args.seed)
    holds = report(rows, settings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "settings": settings.model_dump(),
                "tolerance": TOLERANCE,
                "holds": holds,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")
    sys.exit(0 if holds else 1)


if __name__ == "__main__":
    main()
