"""How well the latency predictor does on devices nobody on the team has (HELP's FBNet data).

    python benchmarks/predictor_fbnet.py --train TRAIN.csv --test TEST.csv \
        --column samsung_a50_ms --n-train 100 [--transfer-columns gold_6240_ms,...] [--seed 0]

Fits the device's predictor on ``--n-train`` rows of the train file (chosen as the service
chooses what to measure first: the most informative, ``--pick random`` for comparison), with
``--transfer-columns`` each fitted on *every* train row as a source device, then predicts every
row of the test file and prints one JSON object: ``mape`` and ``within10`` as shares, Spearman
and Kendall rank correlations. The test file is never seen while fitting.

``--split FILE --test-share 0.2`` writes the two files from one (seeded) to start from.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from latency.measurement_csv import read_latency_csv
from latency.metrics import accuracy_report
from latency.predictor import LatencyPredictor
from latency.selection import informative_subset


def split_file(path: Path, test_share: float, seed: int) -> tuple[Path, Path]:
    """Write ``<stem>_train.csv`` and ``<stem>_test.csv`` beside ``path``."""
    header, *rows = path.read_text().splitlines()
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = round(len(rows) * test_share)
    written = []
    for suffix, part in (("train", order[cut:]), ("test", order[:cut])):
        target = path.with_name(f"{path.stem}_{suffix}.csv")
        target.write_text("\n".join([header, *(rows[i] for i in sorted(part))]) + "\n")
        written.append(target)
    return written[0], written[1]


def run(args: argparse.Namespace) -> dict[str, object]:
    train_text, test_text = args.train.read_text(), args.test.read_text()
    train = read_latency_csv(train_text, args.column)
    test = read_latency_csv(test_text, args.column)
    archs = [row.arch for row in train]
    if args.n_train > len(train):
        raise SystemExit(f"--n-train {args.n_train}: the train file has {len(train)} rows")
    if args.pick == "informative":
        chosen = informative_subset(archs, args.n_train, seed=args.seed)
    else:
        chosen = list(np.random.default_rng(args.seed).permutation(len(archs))[: args.n_train])
    started = time.perf_counter()
    sources = [
        LatencyPredictor.fit(
            archs, [r.ms for r in read_latency_csv(train_text, name)], seed=args.seed
        )
        for name in args.transfer_columns
    ]
    predictor = LatencyPredictor.fit(
        [archs[i] for i in chosen], [train[i].ms for i in chosen], sources=sources, seed=args.seed
    )
    fit_seconds = time.perf_counter() - started
    predicted = predictor.predict([row.arch for row in test]).mean_ms
    report = accuracy_report(np.array([row.ms for row in test]), predicted)
    return {
        "column": args.column,
        "n_train": args.n_train,
        "transfer_columns": args.transfer_columns,
        "pick": args.pick,
        "seed": args.seed,
        "test_rows": len(test),
        "model": predictor.model_name,
        "fit_seconds": round(fit_seconds, 2),
        "mape": report.mape,
        "within10": report.within10,
        "spearman": report.spearman,
        "kendall": report.kendall,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--column")
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument(
        "--transfer-columns",
        type=lambda text: [c for c in text.split(",") if c],
        default=[],
        help="comma-separated source device columns, fitted on every train row",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pick", choices=("informative", "random"), default="informative")
    parser.add_argument("--split", type=Path, help="write FILE_train.csv and FILE_test.csv")
    parser.add_argument("--test-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    if args.split:
        train, test = split_file(args.split, args.test_share, args.seed)
        print(json.dumps({"train": str(train), "test": str(test)}))
        return
    if not (args.train and args.test and args.column):
        parser.error("--train, --test and --column are required")
    print(json.dumps(run(args)))


if __name__ == "__main__":
    sys.exit(main())
