"""The searched Pareto front against hand-designed networks (issue 4).

The reference families (MobileNetV2 at several widths, ShuffleNetV2 0.5x and 1.0x, MnasNet-B1
at several widths), retargeted to ``mnist5k`` at 28x28, get the same proxy training on the
same split and the same latency timing on this CPU as the candidates of a search with a fixed
budget (``--strategy`` on ``--space``, pareto mode). For each reference network: the fastest
searched network at least as accurate, and the latency ratio (MnasNet reports 1.5x over
MobileNetV2 on ImageNet). The search runs without the early stop, so the same run also says
what the early stop would have saved on a real search stream (``search.early_stop.replay``).
Writes JSON and a plot (accuracy against latency) under benchmarks/results/.

    python benchmarks/search_vs_baselines.py [--trials 30] [--strategy tpe] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import asdict, replace

import optuna
from common import RESULTS, digits, on_task, task_space, write_json
from rich.console import Console
from rich.table import Table

from latency.local import LOCAL, local_latency
from search.early_stop import Curve, replay
from search.engine import run_search
from search.results import front_of
from search.study import SearchSettings, create_study
from search.train import ProxySettings, evaluate_arch
from space import Arch
from space.references import reference_arch

BASELINES = (
    "mobilenet_v2@0.35",
    "mobilenet_v2@0.5",
    "mobilenet_v2@0.75",
    "mobilenet_v2",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "mnasnet_b1@0.5",
    "mnasnet_b1@0.75",
    "mnasnet_b1",
)


def baseline_arch(name: str) -> Arch:
    """``family@width``: the reference network with the architecture's width multiplier."""
    base, _, width = name.partition("@")
    arch = reference_arch(base)
    return replace(arch, width=float(width)) if width else arch


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="mnasnet")
    parser.add_argument("--strategy", default="tpe")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--margin", type=float, default=SearchSettings.stop_margin, help="early-stop replay margin"
    )
    args = parser.parse_args()
    train, validation = digits()
    proxy = ProxySettings(seed=0)
    latency = local_latency()
    console = Console(width=140)

    baselines = []
    for name in BASELINES:
        arch = on_task(baseline_arch(name), train)
        result = evaluate_arch(arch, train, validation, proxy)
        baselines.append(
            {"name": name, "accuracy": result.accuracy, "latency_ms": latency(arch)[LOCAL]}
        )
        console.print(f"{name}: {result.accuracy:.3f} @ {baselines[-1]['latency_ms']:.3f} ms")

    settings = SearchSettings(
        space=task_space(args.space, train),
        devices=(LOCAL,),
        strategy=args.strategy,
        trials=args.trials,
        seed=args.seed,
        proxy=proxy,
        early_stop=False,
    )
    records = run_search(settings, train, validation, latency, study=create_study(settings))
    front = front_of(records, (LOCAL,))
    for baseline in baselines:
        matches = [m for m in front if m.accuracy >= baseline["accuracy"]]
        fastest = min(matches, key=lambda m: m.latency_ms[LOCAL]) if matches else None
        baseline["searched_arch"] = fastest.arch if fastest else None
        baseline["searched_accuracy"] = fastest.accuracy if fastest else None
        baseline["searched_latency_ms"] = fastest.latency_ms[LOCAL] if fastest else None
        baseline["latency_ratio"] = (
            baseline["latency_ms"] / fastest.latency_ms[LOCAL] if fastest else None
        )
    early_stop = replay(
        [Curve(r.epoch_accuracies, r.latency_ms) for r in records], margin=args.margin
    )

    table = Table(title=f"{args.strategy} on {args.space}, {args.trials} trials, vs references")
    for column in ("reference", "accuracy", "ms", "searched accuracy", "searched ms", "speed-up"):
        table.add_column(column, justify="left" if column == "reference" else "right")
    for b in baselines:
        matched = b["latency_ratio"] is not None
        table.add_row(
            b["name"],
            f"{b['accuracy']:.3f}",
            f"{b['latency_ms']:.3f}",
            f"{b['searched_accuracy']:.3f}" if matched else "none as accurate",
            f"{b['searched_latency_ms']:.3f}" if matched else "-",
            f"{b['latency_ratio']:.2f}x" if matched else "-",
        )
    console.print(table)
    ratios = [b["latency_ratio"] for b in baselines if b["latency_ratio"] is not None]
    console.print(
        f"matched {len(ratios)} of {len(baselines)} references; median speed-up at matched "
        f"accuracy {statistics.median(ratios):.2f}x"
        if ratios
        else "no reference matched"
    )
    console.print(
        f"early stop replayed on this search: {early_stop.saved_share:.1%} of epochs saved, "
        f"{early_stop.stopped} candidates stopped, {early_stop.front_members_stopped} of "
        f"{early_stop.front_size} front members lost"
    )
    plot = _plot(baselines, records, front)
    path = write_json(
        "search_vs_baselines.json",
        {
            "space": args.space,
            "strategy": args.strategy,
            "trials": args.trials,
            "proxy": asdict(proxy),
            "baselines": baselines,
            "median_latency_ratio": statistics.median(ratios) if ratios else None,
            "front": [asdict(m) for m in front],
            "trials_records": [asdict(r) for r in records],
            "early_stop_replay": {**asdict(early_stop), "saved_share": early_stop.saved_share},
        },
    )
    console.print(f"wrote {path} and {plot}")


def _plot(baselines: list[dict], records: list, front: list) -> str:  # type: ignore[type-arg]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes = plt.figure(figsize=(8, 5)).gca()
    axes.scatter(
        [r.latency_ms[LOCAL] for r in records],
        [r.accuracy for r in records],
        color="lightgrey",
        label="searched",
    )
    axes.plot(
        [m.latency_ms[LOCAL] for m in front],
        [m.accuracy for m in front],
        "o-",
        color="tab:blue",
        label="searched Pareto front",
    )
    for family, marker in (("mobilenet_v2", "s"), ("shufflenet_v2", "^"), ("mnasnet_b1", "D")):
        members = [b for b in baselines if b["name"].startswith(family)]
        axes.scatter(
            [b["latency_ms"] for b in members],
            [b["accuracy"] for b in members],
            marker=marker,
            label=family,
        )
        for b in members:
            axes.annotate(b["name"].split("@")[-1], (b["latency_ms"], b["accuracy"]), fontsize=7)
    axes.set_xlabel(f"latency on this CPU ({LOCAL}, ms)")
    axes.set_ylabel("proxy accuracy on mnist5k")
    axes.legend()
    path = RESULTS / "search_vs_baselines.png"
    axes.figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(axes.figure)
    return str(path)


if __name__ == "__main__":
    main()
