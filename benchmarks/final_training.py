"""Final training of the demo's front and the baseline MobileNetV2s: test accuracy in fp32
and int8, latency of both files on this CPU, sizes.

Each network is trained with the training jobs' default recipe (``artifacts.training.
FinalRecipe``, override with ``--epochs``/``--learning-rate``) on the nine tenths of
``mnist5k`` that searches may use, made into its files exactly as a training job makes them
(``artifacts.package``), scored on the test tenth in ONNX Runtime, and timed with ONNX Runtime on
one thread (interleaved rounds, median of medians).

    python benchmarks/final_training.py --front demo-out/results.json [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from common import on_task, write_json
from rich.console import Console
from rich.table import Table

from artifacts.compression import CompressionSettings
from artifacts.package import compression_report, package, ternary_report
from artifacts.training import Checkpoint, FinalRecipe, train_final
from latency.bench import make_session, time_session
from search.data import load_dataset
from space import Arch, parse_arch
from space.profiler import profile_arch
from space.references import reference_arch

BASELINES = ("mobilenet_v2@0.5", "mobilenet_v2@0.75")
ROUNDS = 5


class InMemory:
    """Checkpoints kept in memory (a benchmark run is not resumed)."""

    def __init__(self) -> None:
        self.last: Checkpoint | None = None

    def newest(self) -> Checkpoint | None:
        return self.last

    def save(self, checkpoint: Checkpoint) -> None:
        self.last = checkpoint


def front_archs(path: Path) -> list[tuple[str, Arch]]:
    """The front members of a demo's ``results.json``, fastest first."""
    results = json.loads(path.read_text())
    return [(f"trial {m['number']}", parse_arch(m["arch"])) for m in results["pareto"]["members"]]


def latency_ms(models: list[bytes]) -> list[float]:
    """Median latency of each model on one thread: rounds interleaved across the models."""
    sessions = [make_session(model, 1) for model in models]
    rounds: list[list[float]] = [[] for _ in models]
    for _ in range(ROUNDS):
        for index, session in enumerate(sessions):
            rounds[index].append(time_session(session, runs=100, warmup=20).median_ms)
    return [statistics.median(times) for times in rounds]


def one_network(
    label: str, arch: Arch, recipe: FinalRecipe, compress: bool, ternary_epochs: int
) -> dict[str, Any]:
    usable, test = load_dataset("mnist5k").test_split()
    started = time.monotonic()
    trained = train_final(arch, usable, recipe, InMemory())
    made = package(arch, trained, usable, test, recipe.seed)
    train_s = round(time.monotonic() - started, 1)
    fp32_ms, int8_ms = latency_ms([made.fp32, made.int8])
    profile = profile_arch(arch)
    extra: dict[str, Any] = {}
    if compress:
        stages = compression_report(arch, trained, usable, test, CompressionSettings(), recipe)
        timings = latency_ms([s.onnx for s in stages])  # dense kernels whatever the zeros
        extra["compression"] = [
            {
                "stage": s.stage,
                "accuracy": s.test_accuracy,
                "bytes": s.encoded_bytes,
                "ms": round(ms, 4),
            }
            for s, ms in zip(stages, timings, strict=True)
        ]
    if ternary_epochs:
        found = ternary_report(arch, trained, usable, test, ternary_epochs, recipe)
        extra["ternary"] = {"accuracy": found.test_accuracy, "bytes": found.bytes}
    return extra | {
        "network": label,
        "arch": str(arch),
        "params": profile.params,
        "macs": profile.macs,
        "epochs": recipe.epochs,
        "train_s": train_s,
        "fp32_accuracy": made.fp32_accuracy,
        "int8_accuracy": made.int8_accuracy,
        "fp32_ms": round(fp32_ms, 4),
        "int8_ms": round(int8_ms, 4),
        "fp32_bytes": len(made.fp32),
        "int8_bytes": len(made.int8),
        "weights_bytes": len(made.weights),
        "test_images": len(test),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--front", type=Path, help="a demo's results.json")
    parser.add_argument("--epochs", type=int, default=FinalRecipe.epochs)
    parser.add_argument("--learning-rate", type=float, default=FinalRecipe.learning_rate)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--compress", action="store_true", help="Deep Compression's defaults")
    parser.add_argument("--ternary-epochs", type=int, default=0, help="TTQ fine-tuning")
    parser.add_argument("--out", default="final_training.json")
    args = parser.parse_args()
    recipe = FinalRecipe(epochs=args.epochs, learning_rate=args.learning_rate, threads=args.threads)
    usable, _ = load_dataset("mnist5k").test_split()
    networks = front_archs(args.front) if args.front else []
    if not args.no_baselines:
        networks += [(name, on_task(reference_arch(name), usable)) for name in BASELINES]
    rows = []
    for label, arch in networks:
        rows.append(one_network(label, arch, recipe, args.compress, args.ternary_epochs))
        print(json.dumps(rows[-1]), flush=True)
    table = Table(title=f"final training, {args.epochs} epochs, mnist5k test split")
    columns = ("network", "params", "fp32 acc", "int8 acc", "fp32 ms", "int8 ms", "fp32 B")
    for column in (*columns, "int8 B", "train s"):
        table.add_column(column, justify="left" if column == "network" else "right")
    for row in rows:
        table.add_row(
            row["network"],
            f"{row['params']:,}",
            f"{row['fp32_accuracy']:.4f}",
            f"{row['int8_accuracy']:.4f}",
            f"{row['fp32_ms']:.3f}",
            f"{row['int8_ms']:.3f}",
            f"{row['fp32_bytes']:,}",
            f"{row['int8_bytes']:,}",
            f"{row['train_s']:.0f}",
        )
    Console(width=140).print(table)
    payload = {"recipe": recipe.__dict__ | {"augment": list(recipe.augment)}, "rows": rows}
    print(f"wrote {write_json(args.out, payload)}")


if __name__ == "__main__":
    main()
