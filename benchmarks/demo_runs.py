"""``make demo`` from fresh clones, one after another: how long a newcomer waits.

Each run clones this repository's HEAD into a new folder, then times ``make install`` and
``.venv/bin/edgenas demo`` there, reads when the demo said its first trial was done, and reads
its front from ``demo-out/results.json``. Nothing else should run on the machine meanwhile.

    python benchmarks/demo_runs.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import write_json

REPOSITORY = Path(__file__).resolve().parents[1]
FIRST_TRIAL = re.compile(r"first trial done after (\d+) s")


def timed(command: list[str], folder: Path, log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as output:
        subprocess.run(command, cwd=folder, stdout=output, stderr=subprocess.STDOUT, check=True)
    return time.monotonic() - started


def one_run(number: int, scratch: Path) -> dict[str, Any]:
    clone = scratch / f"clone-{number}"
    subprocess.run(["git", "clone", "-q", str(REPOSITORY), str(clone)], check=True)
    install = timed(["make", "install"], clone, scratch / f"install-{number}.log")
    demo_log = scratch / f"demo-{number}.log"
    demo = timed([".venv/bin/edgenas", "demo"], clone, demo_log)
    first = FIRST_TRIAL.search(demo_log.read_text())
    results = json.loads((clone / "demo-out" / "results.json").read_text())
    accuracies = [t["accuracy"] for t in results["trials"]["items"] if t["accuracy"] is not None]
    members = results["pareto"]["members"]
    device = results["pareto"]["devices"][0]
    return {
        "run": number,
        "install_s": round(install, 1),
        "demo_s": round(demo, 1),
        "total_s": round(install + demo, 1),
        "first_trial_s": int(first.group(1)) if first else None,
        "best_accuracy": max(accuracies),
        "front": [(m["accuracy"], round(m["latency_ms"][device], 3)) for m in members],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="edgenas-demo-runs-") as folder:
        for number in range(1, args.runs + 1):
            runs.append(one_run(number, Path(folder)))
            row = runs[-1]
            print(
                f"run {row['run']}: install {row['install_s']} s, demo {row['demo_s']} s, "
                f"total {row['total_s']} s, first trial {row['first_trial_s']} s, "
                f"best {row['best_accuracy']:.3f}, front {row['front']}",
                flush=True,
            )
    summary = {
        "runs": runs,
        "median_total_s": statistics.median(r["total_s"] for r in runs),
        "median_demo_s": statistics.median(r["demo_s"] for r in runs),
    }
    print(f"median: total {summary['median_total_s']} s, demo {summary['median_demo_s']} s")
    print(f"wrote {write_json('demo_runs.json', summary)}")


if __name__ == "__main__":
    main()
