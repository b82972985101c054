"""How well the latency predictor does on this machine's CPU, measured the way its agent measures.

    python benchmarks/predictor_local.py [--n-train 100] [--n-test 200] [--resolution 224]
        [--runs 20] [--rounds 8] [--batch 40] [--passes 3] [--seed 0] [--reuse]

Samples architectures from the ``mnasnet`` and ``mixed`` spaces (half each). The ``--n-train``
to measure are chosen before any is measured, as a device's first measurements are: the most
informative of a pool of samples (``latency.selection.informative_subset``). ``--n-test``
others are drawn at random. All are exported to ONNX and timed with the agent's protocol
(warm-up, rounds, quiet-machine check; ``benchmarks/latency_fidelity.py`` shows it reports
what the agent reports). The device's layer table is every distinct layer of both spaces as a
one-layer probe (``space.probes``), found without looking at the test rows. Networks and
probes are timed in one shuffled order, ``--batch`` models at a time with their rounds
interleaved (``latency.bench.measure_many``), so that a slow spell of the machine hits train,
test and table alike. ``--passes N`` (3 unless told) times everything N times, each pass in
its own order, and keeps each model's geometric mean: on this VM two timings of a network
differ by 4-5% (half of them) to 12-13% (one in ten), too noisy a truth for a ±10% band (one
pass: 89.5-97.5% within it; three: 97.5%, README "Measured"). The predictor is
fitted on the train rows (and the layer table) only and scored on the test rows, once without
the layer table and once with it. Target (issue 6): at least 95% within ±10%.

The measurements are kept in ``benchmarks/results/local_latency.csv`` and
``local_layers.csv`` (the import format, ``edgenas latency import`` reads them, with a
``split`` and a ``pass`` column); ``--reuse`` refits from them, timing only the passes that
are not kept yet. Prints a table, writes ``benchmarks/results/predictor_local.json``, exits 1
when the target is missed.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, write_json
from rich.console import Console
from rich.table import Table

from latency.bench import QuietCheck, measure_many
from latency.calibration import calibration_layers
from latency.metrics import accuracy_report
from latency.predictor import LatencyPredictor, layer_table
from latency.protocol import MeasurementSettings
from latency.selection import informative_subset
from space import Arch, parse_arch
from space.export import export_onnx_bytes
from space.presets import search_space
from space.spaces import SearchSpace

SPACES = ("mnasnet", "mixed")
POOL_PER_TRAIN = 10  # the train set is chosen from this many samples per slot
TARGET_WITHIN10 = 0.95
MEASUREMENTS = RESULTS / "local_latency.csv"
LAYERS = RESULTS / "local_layers.csv"
Measured = list[tuple[str, Arch, float]]  # split, architecture, milliseconds


def _at_resolution(space: SearchSpace, resolution: int) -> SearchSpace:
    return space.with_task(
        resolution=resolution, in_channels=space.in_channels, num_classes=space.num_classes
    )


def sample_archs(count: int, resolution: int, rng: random.Random, seen: set[str]) -> list[Arch]:
    """``count`` distinct architectures, alternating between the spaces, none in ``seen``."""
    spaces = [_at_resolution(search_space(name), resolution) for name in SPACES]
    out: list[Arch] = []
    while len(out) < count:
        space = spaces[len(out) % len(spaces)]
        arch = space.decode(space.sample(rng))
        if arch.hash not in seen:
            seen.add(arch.hash)
            out.append(arch)
    return out


def measure_all(
    rows: list[tuple[str, Arch]], settings: MeasurementSettings, batch: int, seed: int
) -> Measured:
    """Every row timed, ``batch`` at a time in a shuffled order."""
    quiet = QuietCheck()
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    timed: dict[int, float] = {}
    console = Console(stderr=True)
    started = time.monotonic()
    for first in range(0, len(order), batch):
        indices = order[first : first + batch]
        models = [export_onnx_bytes(rows[i][1]) for i in indices]
        for index, result in zip(
            indices, measure_many(models, settings, quiet=quiet, seed=seed), strict=True
        ):
            if isinstance(result, Exception):
                raise result
            timed[index] = result.median_ms
        console.print(f"measured {len(timed)}/{len(rows)} in {time.monotonic() - started:.0f} s")
    return [(split, arch, timed[i]) for i, (split, arch) in enumerate(rows)]


def write_measurements(path: Path, passes: list[Measured]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["arch", "latency_ms", "split", "pass"])
    for number, measured in enumerate(passes):
        writer.writerows((str(arch), f"{ms:.5f}", split, number) for split, arch, ms in measured)
    path.write_text(out.getvalue())


def read_measurements(path: Path) -> list[Measured]:
    """The kept passes, each in the order its rows were listed."""
    passes: dict[int, Measured] = {}
    for row in csv.DictReader(io.StringIO(path.read_text())):
        measured = passes.setdefault(int(row.get("pass") or 0), [])
        measured.append((row["split"], parse_arch(row["arch"]), float(row["latency_ms"])))
    return [passes[number] for number in sorted(passes)]


def pooled(passes: list[Measured]) -> Measured:
    """One latency per row: the geometric mean of its passes (a pass on a slower machine
    scales every row alike, so the mean keeps their ratios)."""
    logs = np.mean([[np.log(ms) for _, _, ms in measured] for measured in passes], axis=0)
    first = passes[0]
    return [
        (split, arch, float(np.exp(log))) for (split, arch, _), log in zip(first, logs, strict=True)
    ]


def network_rows(args: argparse.Namespace) -> list[tuple[str, Arch]]:
    rng, seen = random.Random(args.seed), set[str]()
    pool = sample_archs(args.n_train * POOL_PER_TRAIN, args.resolution, rng, seen)
    train = [pool[i] for i in informative_subset(pool, args.n_train, seed=args.seed)]
    test = sample_archs(args.n_test, args.resolution, rng, {a.hash for a in train})
    return [("train", a) for a in train] + [("test", a) for a in test]


def probe_rows(args: argparse.Namespace) -> list[tuple[str, Arch]]:
    """Every distinct layer of the spaces, as a probe (none chosen by looking at the tests)."""
    probes: dict[str, Arch] = {}
    for name in SPACES:
        space = _at_resolution(search_space(name), args.resolution)
        probes.update((probe.hash, probe) for probe in calibration_layers(space, args.seed))
    return [("probe", probe) for probe in probes.values()]


def kept_or_timed(args: argparse.Namespace) -> tuple[Measured, Measured, float | None]:
    """Networks and probes, each pooled over ``--passes`` timings: the kept passes (with
    ``--reuse``) and new ones for the rest; and the seconds spent timing."""
    networks: list[Measured] = []
    probes: list[Measured] = []
    if args.reuse and MEASUREMENTS.exists() and LAYERS.exists():
        networks, probes = read_measurements(MEASUREMENTS), read_measurements(LAYERS)
    kept, started = len(networks), time.monotonic()
    settings = MeasurementSettings(runs=args.runs, rounds=args.rounds)
    for number in range(kept, args.passes):
        if networks:  # the same rows as the kept passes, in a new order
            rows = [row[:2] for row in networks[0] + probes[0]]
        else:
            rows = network_rows(args) + probe_rows(args)
        measured = measure_all(rows, settings, args.batch, args.seed + number)
        networks.append([row for row in measured if row[0] != "probe"])
        probes.append([row for row in measured if row[0] == "probe"])
        write_measurements(MEASUREMENTS, networks)
        write_measurements(LAYERS, probes)
    seconds = round(time.monotonic() - started, 1) if args.passes > kept else None
    return pooled(networks[: args.passes]), pooled(probes[: args.passes]), seconds


def scored(
    train: list[tuple[Arch, float]], test: list[tuple[Arch, float]], **fit: Any
) -> dict[str, Any]:
    started = time.monotonic()
    predictor = LatencyPredictor.fit([a for a, _ in train], [ms for _, ms in train], **fit)
    fit_seconds = time.monotonic() - started
    predicted = predictor.predict([a for a, _ in test]).mean_ms
    report = accuracy_report(np.array([ms for _, ms in test]), predicted)
    return {
        "model": predictor.model_name,
        "cross_validated_mape": predictor.report.mape,
        "fit_seconds": round(fit_seconds, 2),
        "mape": report.mape,
        "within10": report.within10,
        "spearman": report.spearman,
        "kendall": report.kendall,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    measured, probes, measure_seconds = kept_or_timed(args)
    train = [(arch, ms) for split, arch, ms in measured if split == "train"]
    test = [(arch, ms) for split, arch, ms in measured if split == "test"]
    without = scored(train, test, seed=args.seed)
    table = layer_table({arch: ms for _, arch, ms in probes})
    result = scored(train, test, seed=args.seed, layers=table)
    return {
        "spaces": list(SPACES),
        "resolution": args.resolution,
        "runs": args.runs,
        "rounds": args.rounds,
        "batch": args.batch,
        "seed": args.seed,
        "passes": args.passes,
        "n_train": len(train),
        "n_test": len(test),
        "test_ms_range": [min(ms for _, ms in test), max(ms for _, ms in test)],
        "layers": len(probes),
        "measure_seconds": measure_seconds,
        **result,
        "without_layer_table": without,
        "target_within10": TARGET_WITHIN10,
        "met": result["within10"] >= TARGET_WITHIN10,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds per model")
    parser.add_argument("--batch", type=int, default=40, help="models timed interleaved")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--passes", type=int, default=3, help="time every model this many times, pooled"
    )
    parser.add_argument("--reuse", action="store_true", help="refit from the kept measurements")
    args = parser.parse_args(argv)
    if args.passes < 1:
        parser.error("--passes: at least one")
    if args.n_train > 100:
        parser.error("--n-train: the target allows at most 100 measured architectures")
    result = run(args)
    table = Table(title="Latency predictor on this machine's CPU (test rows only)")
    columns = ("train", "test", "layers", "model", "MAPE", "within ±10%", "Spearman", "Kendall")
    for column in columns:
        table.add_column(column)
    for row, layers in ((result["without_layer_table"], 0), (result, result["layers"])):
        table.add_row(
            str(result["n_train"]),
            str(result["n_test"]),
            str(layers),
            str(row["model"]),
            f"{row['mape']:.2%}",
            f"{row['within10']:.1%}",
            f"{row['spearman']:.3f}",
            f"{row['kendall']:.3f}",
        )
    Console().print(table)
    print(f"wrote {write_json('predictor_local.json', result)}")
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
