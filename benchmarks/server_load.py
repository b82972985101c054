"""Can one server carry a team? A real ``edgenas serve`` on PostgreSQL under three kinds of
load at once, for a bounded time on loopback:

- ``agents``: devices long-polling for work (``POST /v1/agent/tasks/lease``, no work queued,
  so each poll is held for its whole wait);
- ``waits``: concurrent ``GET /v1/latency/{task}?wait_seconds=`` on a task no agent takes
  (held as long);
- ``reads``: clients asking for a cached latency (``POST /v1/latency``) and a job page
  (``GET /v1/jobs/{id}``) as fast as they are answered.

Each class is driven by its own client process, so one class's client work (two hundred
responses arriving at once) does not show up as another class's latency. Reports requests
per second, p50 and p99 per class, and errors. Target (issue 19): no errors,
and p99 of the cached reads under 200 ms while the long-polls are held. Prints a table, writes
JSON (default ``benchmarks/results/server_load.json``), exits 1 when the target is missed.

    python benchmarks/server_load.py [--agents 50] [--clients 20] [--waits 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import CLI, free_port, running, scratch_postgres, user_key, wait_until_healthy
from rich.console import Console
from rich.table import Table

ARCH = "mobilenet_v2@0.5"
READ_P99_TARGET_MS = 200.0
POLL_SECONDS = 10.0


@dataclass
class Timings:
    """Per request class: how long each answered request took, and the errors."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def record(
        self, kind: str, started: float, response: httpx.Response | None, error: str
    ) -> None:
        if response is not None and response.status_code < 400:
            self.seconds.setdefault(kind, []).append(time.perf_counter() - started)
        else:
            detail = error or f"HTTP {response.status_code if response else '?'}"
            self.errors.setdefault(kind, []).append(detail)


async def timed(
    client: httpx.AsyncClient, timings: Timings, kind: str, method: str, url: str, **options: object
) -> None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **options)
    except httpx.HTTPError as exc:
        timings.record(kind, started, None, f"{type(exc).__name__}: {exc}")
        return
    timings.record(kind, started, response, "")


async def agent_loop(base: str, token: str, until: float, timings: Timings) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=POLL_SECONDS + 30
    ) as client:
        body = {"agent_id": "load", "wait_seconds": POLL_SECONDS}
        while time.time() < until:
            await timed(client, timings, "agents", "POST", "/v1/agent/tasks/lease", json=body)


async def wait_loop(
    client: httpx.AsyncClient, task_id: int, until: float, timings: Timings
) -> None:
    while time.time() < until:
        await timed(
            client,
            timings,
            "waits",
            "GET",
            f"/v1/latency/{task_id}",
            params={"wait_seconds": POLL_SECONDS},
        )


async def read_loop(
    client: httpx.AsyncClient, job_id: int, device: str, until: float, timings: Timings
) -> None:
    body = {"arch": ARCH, "device": device}
    while time.time() < until:
        await timed(client, timings, "reads", "POST", "/v1/latency", json=body)
        await timed(client, timings, "reads", "GET", f"/v1/jobs/{job_id}")


@dataclass(frozen=True)
class Load:
    """One class of load, driven by its own process: a client busy with 200 held waits must
    not show up as latency in the readers' timings."""

    kind: str
    base: str
    key: str
    tokens: tuple[str, ...]
    count: int
    job_id: int
    waiting: int
    device: str

    async def drive(self, until: float) -> Timings:
        timings = Timings()
        if self.kind == "agents":
            await asyncio.gather(*(agent_loop(self.base, t, until, timings) for t in self.tokens))
            return timings
        limits = httpx.Limits(max_connections=self.count + 10)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(
            base_url=self.base, headers=headers, timeout=POLL_SECONDS + 30, limits=limits
        ) as user:
            loops = (
                (wait_loop(user, self.waiting, until, timings) for _ in range(self.count))
                if self.kind == "waits"
                else (
                    read_loop(user, self.job_id, self.device, until, timings)
                    for _ in range(self.count)
                )
            )
            await asyncio.gather(*loops)
        return timings


def drive(load: Load, until: float) -> Timings:
    return asyncio.run(load.drive(until))


def prepare(base: str, key: str, agents: int) -> tuple[list[str], int, int, str]:
    """Devices (their tokens), a queued job, a task no agent takes, and a cached latency."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as user:
        tokens = [
            user.post("/v1/devices", json={"name": f"phone-{n}"}).json()["token"]
            for n in range(agents)
        ]
        user.post("/v1/devices", json={"name": "idle"})
        waiting = user.post("/v1/latency", json={"arch": ARCH, "device": "idle"}).json()["task_id"]
        cached_device = "measured"
        measured = user.post("/v1/devices", json={"name": cached_device}).json()["token"]
        task = user.post("/v1/latency", json={"arch": ARCH, "device": cached_device}).json()
        agent = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {measured}"}, timeout=60
        )
        leased = agent.post(
            "/v1/agent/tasks/lease", json={"agent_id": "setup", "wait_seconds": 0}
        ).json()
        result = {
            "median_ms": 1.0,
            "p90_ms": 1.1,
            "cv": 0.01,
            "runs": 250,
            "rounds": 5,
            "spread_ms": 0.01,
            "threads": 1,
            "provider": "CPUExecutionProvider",
        }
        reported = agent.post(
            f"/v1/agent/tasks/{leased['id']}/result", json={"agent_id": "setup", "result": result}
        )
        assert reported.status_code == 204, reported.text
        assert user.post("/v1/latency", json={"arch": ARCH, "device": cached_device}).json()[
            "cached"
        ]
        job = user.post(
            "/v1/jobs", json={"space": "shufflenet", "devices": ["idle"], "budget": {"trials": 2}}
        )
        job.raise_for_status()
        assert task["task_id"] == leased["id"]
        return tokens, job.json()["id"], waiting, cached_device


def load(
    base: str,
    key: str,
    tokens: list[str],
    job_id: int,
    waiting: int,
    device: str,
    args: argparse.Namespace,
) -> Timings:
    """All classes at once, each from its own process, for ``args.seconds``."""
    counts = {"agents": len(tokens), "waits": args.waits, "reads": args.clients}
    loads = [
        Load(kind, base, key, tuple(tokens), count, job_id, waiting, device)
        for kind, count in counts.items()
        if count
    ]
    until = time.time() + args.seconds
    with ProcessPoolExecutor(len(loads), mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(drive, loads, [until] * len(loads)))
    timings = Timings()
    for result in results:
        timings.seconds |= result.seconds
        timings.errors |= result.errors
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000
        if ordered
        else float("nan")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--waits", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "server_load.json"
    )
    args = parser.parse_args()

    with scratch_postgres("edgenas_load") as url:
        env = {
            **os.environ,
            "EDGENAS_DATABASE_URL": url,
            "EDGENAS_RATE_LIMIT": "1000000/minute",
            "EDGENAS_MAX_WAIT_SECONDS": str(POLL_SECONDS),
        }
        key = user_key(env, "load")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [*CLI, "serve", "--runners", "0", "--port", str(port)]
        with running(serve, env, output=subprocess.DEVNULL) as server:
            wait_until_healthy(base, server)
            tokens, job_id, waiting, device = prepare(base, key, args.agents)
            timings = load(base, key, tokens, job_id, waiting, device, args)

    rows = {}
    for kind in ("agents", "waits", "reads"):
        answered = timings.seconds.get(kind, [])
        rows[kind] = {
            "requests": len(answered),
            "per_second": len(answered) / args.seconds,
            "p50_ms": percentile(answered, 0.50),
            "p99_ms": percentile(answered, 0.99),
            "errors": len(timings.errors.get(kind, [])),
            "first_errors": timings.errors.get(kind, [])[:3],
        }
    table = Table(
        title=f"server load: {args.agents} agents, {args.waits} waits, "
        f"{args.clients} readers, {args.seconds:.0f} s"
    )
    for column in ("class", "requests", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for kind, row in rows.items():
        table.add_row(
            kind,
            str(row["requests"]),
            f"{row['per_second']:.1f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            str(row["errors"]),
        )
    Console().print(table)
    met = (
        all(row["errors"] == 0 for row in rows.values())
        and rows["reads"]["p99_ms"] < READ_P99_TARGET_MS
    )
    payload = {"settings": vars(args) | {"out": str(args.out)}, "classes": rows, "target_met": met}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2))
    verdict = "met" if met else "MISSED"
    print(
        f"target (0 errors, reads p99 < {READ_P99_TARGET_MS:.0f} ms): {verdict}; wrote {args.out}"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
