"""Reference networks: params, MACs, ONNX export time (both exporters), ONNX Runtime latency.

Prints a table and writes JSON (default ``benchmarks/results/reference_networks.json``).
Latency is the median of interleaved rounds (rounds x runs, batch 1) with the spread of the
round medians, so background load on a shared machine shows up as spread rather than as a
wrong figure.

    python benchmarks/reference_networks.py [--runs 50] [--rounds 3] [--skip-dynamo] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from latency.bench import make_session, time_session
from space.export import export_onnx_bytes
from space.profiler import profile_arch
from space.references import PUBLISHED, reference_arch, reference_names

THREADS = (1, 2)


def _export_seconds(arch, exporter: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    data = export_onnx_bytes(arch, exporter=exporter)
    return time.perf_counter() - start, data


def measure(name: str, runs: int, rounds: int, dynamo: bool) -> dict[str, object]:
    arch = reference_arch(name)
    profile = profile_arch(arch)
    ts_seconds, model = _export_seconds(arch, "torchscript")
    row: dict[str, object] = {
        "name": name,
        "arch": str(arch),
        "hash": arch.hash,
        "params": profile.params,
        "macs": profile.macs,
        "published_params": PUBLISHED[name].params,
        "published_macs": PUBLISHED[name].macs,
        "export_torchscript_s": ts_seconds,
        "export_dynamo_s": _export_seconds(arch, "dynamo")[0] if dynamo else None,
    }
    sessions = {t: make_session(model, threads=t) for t in THREADS}
    medians: dict[int, list[float]] = {t: [] for t in THREADS}
    for _ in range(rounds):  # interleave threads and rounds against drifting load
        for threads, session in sessions.items():
            medians[threads].append(time_session(session, runs=runs, warmup=5).median_ms)
    for threads, values in medians.items():
        row[f"median_ms_{threads}t"] = statistics.median(values)
        row[f"spread_ms_{threads}t"] = max(values) - min(values)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-dynamo", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/reference_networks.json")
    )
    args = parser.parse_args()
    logging.getLogger("torch").setLevel(logging.ERROR)

    rows = [measure(n, args.runs, args.rounds, not args.skip_dynamo) for n in reference_names()]
    table = Table(title="Reference networks at 224x224, batch 1, ONNX Runtime CPU")
    columns = (
        "network",
        "params",
        "MACs M (pub.)",
        "export s TS / dynamo",
        "1 thread ms (spread)",
        "2 threads ms (spread)",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "network" else "right")
    for r in rows:
        dynamo = f"{r['export_dynamo_s']:.2f}" if r["export_dynamo_s"] is not None else "-"
        table.add_row(
            str(r["name"]),
            f"{r['params']:,}",
            f"{r['macs'] / 1e6:.1f} ({r['published_macs'] / 1e6:.0f})",
            f"{r['export_torchscript_s']:.2f} / {dynamo}",
            f"{r['median_ms_1t']:.2f} ({r['spread_ms_1t']:.2f})",
            f"{r['median_ms_2t']:.2f} ({r['spread_ms_2t']:.2f})",
        )
    Console(width=160).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"runs": args.runs, "rounds": args.rounds, "rows": rows}, indent=2)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
