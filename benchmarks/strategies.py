"""Every search strategy at equal budget over several seeds (issue 4).

The objective is cheap but real: accuracy after a one-epoch proxy on 1,000 ``mnist5k`` images
at 28x28 (the proxy's seed fixed, so every strategy searches the same function) and latency
from ONNX Runtime on this CPU (memoised per architecture). ``random``, ``tpe``, ``nsga2``,
``nsga3`` and ``evolution`` search accuracy x latency (pareto mode); ``rl`` optimises MnasNet's
soft reward with T the latency of the MobileNetV2-like network and is scored like the others.
Population sizes are scaled to the budget (Optuna's NSGA-II default of 50 would spend a
24-trial budget on its random first generation). Score: the hypervolume of each run's
non-dominated set at one reference point for all runs (accuracy 0; twice the largest latency
any run saw), after half the budget and after all of it. Random search is the floor.

    python benchmarks/strategies.py [--trials 24] [--seeds 3] [--strategies random,tpe,...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import optuna
from common import digits, on_task, task_space, write_json
from rich.console import Console
from rich.table import Table

from latency.local import LOCAL, local_latency
from search.engine import run_search
from search.objectives import MnasReward
from search.pareto import hypervolume_over_time, reference_point
from search.strategies import STRATEGIES
from search.study import SearchSettings, create_study
from search.train import ProxySettings
from space.references import reference_arch

PROXY = ProxySettings(epochs=1, train_images=1000, seed=0)
SETTINGS_FOR_BUDGET = {
    "tpe": {"n_startup_trials": 6},
    "nsga2": {"population_size": 8},
    "nsga3": {"population_size": 8},
    "evolution": {"population_size": 8, "sample_size": 3},
}


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--space", default="mnasnet")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args()
    train, validation = digits()
    validation = validation.subset(500, seed=0)
    space = task_space(args.space, train)
    latency = local_latency(runs=20)
    target = latency(on_task(reference_arch("mobilenet_v2"), train))[LOCAL]
    console = Console(width=120)
    runs = []
    for strategy in args.strategies.split(","):
        for seed in range(args.seeds):
            mnas = strategy == "rl"
            settings = SearchSettings(
                space=space,
                devices=(LOCAL,),
                mode="mnas" if mnas else "pareto",
                reward=MnasReward.preset("soft", {LOCAL: target}) if mnas else None,
                strategy=strategy,
                strategy_settings=SETTINGS_FOR_BUDGET.get(strategy, {}),
                trials=args.trials,
                seed=seed,
                proxy=PROXY,
                pruner="none",
            )
            start = time.perf_counter()
            records = run_search(settings, train, validation, latency, study=create_study(settings))
            runs.append(
                {
                    "strategy": strategy,
                    "seed": seed,
                    "seconds": time.perf_counter() - start,
                    "points": [(r.accuracy, r.latency_ms[LOCAL]) for r in records],
                    "archs": [r.arch for r in records],
                }
            )
            best = max(r.accuracy for r in records)
            console.print(f"{strategy} seed {seed}: best accuracy {best:.3f}")

    maximize = (True, False)
    reference = reference_point(maximize, [None, None], [p for r in runs for p in r["points"]])
    for run in runs:
        run["hypervolume"] = hypervolume_over_time(run["points"], maximize, reference)
    half = args.trials // 2 - 1
    summary = {}
    for strategy in dict.fromkeys(r["strategy"] for r in runs):
        finals = [r["hypervolume"][-1] for r in runs if r["strategy"] == strategy]
        halves = [r["hypervolume"][half] for r in runs if r["strategy"] == strategy]
        summary[strategy] = {
            "final_mean": statistics.mean(finals),
            "final_std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "half_mean": statistics.mean(halves),
            "half_std": statistics.stdev(halves) if len(halves) > 1 else 0.0,
            "finals": finals,
        }
    table = Table(
        title=f"Hypervolume (reference {reference[0]:.0f}, {reference[1]:.2f} ms), "
        f"{args.seeds} seeds x {args.trials} trials"
    )
    for column in ("strategy", f"after {half + 1}", f"after {args.trials}", "vs random"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    floor = summary.get("random", {}).get("final_mean")
    for strategy, values in summary.items():
        table.add_row(
            strategy,
            f"{values['half_mean']:.4f} ± {values['half_std']:.4f}",
            f"{values['final_mean']:.4f} ± {values['final_std']:.4f}",
            f"{values['final_mean'] / floor:.3f}x" if floor else "-",
        )
    console.print(table)
    path = write_json(
        "strategies.json",
        {
            "space": args.space,
            "trials": args.trials,
            "seeds": args.seeds,
            "proxy": PROXY.__dict__,
            "rl_target_ms": target,
            "reference_point": reference,
            "summary": summary,
            "runs": runs,
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
