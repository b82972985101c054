"""Zero-cost proxies and the pareto early stop, measured on trained candidates (issue 4).

Samples ``--samples`` distinct architectures from a space (retargeted to ``mnist5k``), trains
each with the default proxy, times each with ONNX Runtime here, and reports:

- the rank correlation (Spearman, Kendall) of every zero-cost proxy with trained accuracy,
  next to the naive scores (parameter and MAC counts) a proxy has to beat;
- the pareto early stop replayed, for each of ``--margins``, over the trained candidates in
  ``--orders`` random orders: share of epochs saved, candidates stopped, and final Pareto
  front members it would have stopped (the candidates it must not lose).

    python benchmarks/multi_fidelity.py [--space mnasnet] [--samples 30] [--orders 20]
        [--margins 0.03,0.05,0.08,0.1,0.15] [--seed 0] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import asdict

from common import RESULTS, digits, task_space, write_json
from rich.console import Console
from rich.table import Table
from scipy.stats import kendalltau, spearmanr

from latency.local import LOCAL, local_latency
from search.early_stop import Curve, replay
from search.train import ProxySettings, evaluate_arch, score_batch
from search.zero_cost import PROXIES, zero_cost_score
from space.profiler import profile_arch

OUTPUT = "multi_fidelity.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="mnasnet")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--margins", default="0.03,0.05,0.08,0.1,0.15")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score the candidates trained by the last run with the same arguments again",
    )
    args = parser.parse_args()
    proxy = ProxySettings(seed=args.seed)
    console = Console(width=140)
    rows = _reused(args, proxy) if args.reuse else _trained(args, proxy, console)
    accuracies = [row["accuracy"] for row in rows]
    correlations = {
        name: {
            "spearman": float(spearmanr([row[name] for row in rows], accuracies).statistic),
            "kendall": float(kendalltau([row[name] for row in rows], accuracies).statistic),
        }
        for name in (*PROXIES, "params", "macs")
    }
    table = Table(title=f"Rank correlation with proxy-trained accuracy ({len(rows)} networks)")
    for column in ("score", "Spearman", "Kendall"):
        table.add_column(column, justify="left" if column == "score" else "right")
    for name, values in correlations.items():
        table.add_row(name, f"{values['spearman']:+.3f}", f"{values['kendall']:+.3f}")
    console.print(table)

    curves = [Curve(tuple(row["epoch_accuracies"]), {LOCAL: row["latency_ms"]}) for row in rows]
    early_stop = [
        _replayed(curves, float(margin), args.orders, args.seed)
        for margin in args.margins.split(",")
    ]
    table = Table(
        title=f"Early stop replayed over {args.orders} orders of {len(curves)} candidates "
        f"({early_stop[0]['front_size']} final front members)"
    )
    for column in ("margin", "epochs saved", "stopped", "front members lost", "orders losing"):
        table.add_column(column, justify="right")
    for entry in early_stop:
        table.add_row(
            f"{entry['margin']:.2f}",
            f"{entry['saved_share_mean']:.1%} ({entry['saved_share_min']:.0%}-"
            f"{entry['saved_share_max']:.0%})",
            f"{entry['stopped_mean']:.1f}",
            f"{entry['front_members_stopped_mean']:.2f}",
            f"{entry['orders_losing_a_front_member']}/{args.orders}",
        )
    console.print(table)
    path = write_json(
        OUTPUT,
        {
            "space": args.space,
            "proxy": asdict(proxy),
            "samples": args.samples,
            "seed": args.seed,
            "median_seconds": statistics.median(row["seconds"] for row in rows),
            "correlations": correlations,
            "early_stop": early_stop,
            "rows": rows,
        },
    )
    console.print(f"wrote {path}")


def _trained(args: argparse.Namespace, proxy: ProxySettings, console: Console) -> list[dict]:
    """Sample, score, train and time ``args.samples`` distinct candidates."""
    train, validation = digits(args.seed)
    space = task_space(args.space, train)
    rng = random.Random(args.seed)
    archs = {}
    while len(archs) < args.samples:
        arch = space.decode(space.sample(rng))
        archs.setdefault(arch.hash, arch)
    latency = local_latency()
    rows = []
    for number, arch in enumerate(archs.values()):
        images, labels = score_batch(train, arch.resolution, args.seed)
        scores = {name: zero_cost_score(name, arch, images, labels) for name in PROXIES}
        start = time.perf_counter()
        result = evaluate_arch(arch, train, validation, proxy)
        profile = profile_arch(arch)
        rows.append(
            {
                "arch": str(arch),
                "accuracy": result.accuracy,
                "epoch_accuracies": list(result.epoch_accuracies),
                "seconds": time.perf_counter() - start,
                "latency_ms": latency(arch)[LOCAL],
                "params": profile.params,
                "macs": profile.macs,
                **scores,
            }
        )
        console.print(f"{number + 1}/{len(archs)} {rows[-1]['accuracy']:.3f} {arch}")
    return rows


def _reused(args: argparse.Namespace, proxy: ProxySettings) -> list[dict]:
    """The rows of the last run, when it ran with the same space, samples, seed and proxy."""
    previous = json.loads((RESULTS / OUTPUT).read_text())
    same = (previous["space"], previous["samples"], previous["seed"], previous["proxy"]) == (
        args.space,
        args.samples,
        args.seed,
        asdict(proxy),
    )
    if not same:
        raise SystemExit("--reuse: the last run used other arguments; run without --reuse")
    return previous["rows"]


def _replayed(curves: list[Curve], margin: float, orders: int, seed: int) -> dict:
    """The early stop replayed over ``orders`` shuffles of the candidates."""
    rng = random.Random(seed)
    replays = [replay(rng.sample(curves, len(curves)), margin) for _ in range(orders)]
    return {
        "margin": margin,
        "saved_share_mean": statistics.mean(r.saved_share for r in replays),
        "saved_share_min": min(r.saved_share for r in replays),
        "saved_share_max": max(r.saved_share for r in replays),
        "stopped_mean": statistics.mean(r.stopped for r in replays),
        "front_size": replays[0].front_size,
        "front_members_stopped_mean": statistics.mean(r.front_members_stopped for r in replays),
        "orders_losing_a_front_member": sum(r.front_members_stopped > 0 for r in replays),
    }


if __name__ == "__main__":
    main()
