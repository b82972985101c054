"""Proxy evaluation cost and accuracy on ``mnist5k`` (issue 4's throughput targets).

Trains, with one proxy recipe, a MobileNetV2-like candidate (the ``mobilenet_v2`` reference
retargeted to 28x28 grey digits, at a chosen width) and ``--samples`` architectures sampled
from the ``mnasnet`` space (retargeted the same way), one after another, and reports the time
of each evaluation (train + evaluate) and its held-out accuracy per epoch. Targets: median
evaluation under 30 s for the space's networks; MobileNetV2-like accuracy above 95%.

    python benchmarks/evaluator.py [--samples 5] [--epochs 3] [--train-images 4000]
        [--batch-size 64] [--lr 0.1] [--threads 1] [--width 1.0] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from search.data import load_dataset
from search.train import ProxySettings, evaluate_arch
from space import Arch, parse_arch
from space.presets import search_space
from space.profiler import profile_arch
from space.references import reference_arch

TARGET_SECONDS = 30.0
TARGET_ACCURACY = 0.95


def candidates(samples: int, width: str, seed: int) -> list[tuple[str, Arch]]:
    body = str(reference_arch("mobilenet_v2")).split(":", 1)[1]
    picks = [(f"mobilenet_v2-like w{width}", parse_arch(f"r28_w{width}_i1_n10:{body}"))]
    space = search_space("mnasnet").with_task(resolution=28, in_channels=1, num_classes=10)
    rng = random.Random(seed)
    picks += [(f"mnasnet sample {i}", space.decode(space.sample(rng))) for i in range(samples)]
    return picks


def main() -> None:
    defaults = ProxySettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--train-images", type=int, default=defaults.train_images)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--width", default="1.0", help="MobileNetV2-like candidate's width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "evaluator.json"
    )
    args = parser.parse_args()
    settings = ProxySettings(
        epochs=args.epochs,
        train_images=args.train_images,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        threads=args.threads,
        seed=args.seed,
    )
    train, validation = load_dataset("mnist5k").split(0.2, seed=args.seed)
    rows = []
    for name, arch in candidates(args.samples, args.width, args.seed):
        start = time.perf_counter()
        result = evaluate_arch(arch, train, validation, settings)
        profile = profile_arch(arch)
        rows.append(
            {
                "name": name,
                "arch": str(arch),
                "params": profile.params,
                "macs": profile.macs,
                "seconds": time.perf_counter() - start,
                "accuracy": result.accuracy,
                "epoch_accuracies": list(result.epoch_accuracies),
            }
        )
    sampled = [row["seconds"] for row in rows[1:]]
    summary = {
        "median_seconds_space": statistics.median(sampled) if sampled else None,
        "mobilenet_v2_like_accuracy": rows[0]["accuracy"],
    }
    table = Table(title=f"Proxy evaluations on mnist5k ({settings})")
    for column in ("candidate", "params", "MACs", "seconds", "accuracy per epoch"):
        table.add_column(column, justify="left" if column == "candidate" else "right")
    for row in rows:
        table.add_row(
            row["name"],
            f"{row['params']:,}",
            f"{row['macs'] / 1e6:.1f}M",
            f"{row['seconds']:.1f}",
            " ".join(f"{a:.3f}" for a in row["epoch_accuracies"]),
        )
    Console(width=140).print(table)
    print(
        f"median evaluation {summary['median_seconds_space']:.1f} s "
        f"(target < {TARGET_SECONDS:.0f}); "
        f"MobileNetV2-like accuracy {summary['mobilenet_v2_like_accuracy']:.3f} "
        f"(target > {TARGET_ACCURACY})"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"settings": asdict(settings), "summary": summary, "rows": rows}, indent=2)
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
