"""fp32 against int8 latency on this CPU, for the reference networks and a searched front,
at ImageNet's input (224x224x3, 1000 classes) and at the demo's (28x28x1, 10 classes).

The int8 files are made as training jobs make them (``artifacts.quantize``: ORT static, QDQ,
per channel, S8S8), calibrated here on random images: latency does not depend on the
calibration's ranges, accuracy does, and accuracy is measured on trained networks by
``benchmarks/final_training.py``. Timing: ONNX Runtime on one thread, the fp32 and int8 files
of a network in interleaved rounds, median of the round medians. The CPU's int8 instructions
(``lscpu`` flags: VNNI, AMX) decide whether int8 can be faster, so they are reported.

    python benchmarks/int8.py [--front demo-out/results.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from common import write_json
from final_training import front_archs, latency_ms
from rich.console import Console
from rich.table import Table

from artifacts.quantize import quantize_int8
from space import Arch
from space.export import INPUT_NAME, export_onnx_bytes
from space.references import reference_arch

REFERENCES = (
    "mobilenet_v2@0.35",
    "mobilenet_v2@0.5",
    "mobilenet_v2@0.75",
    "mobilenet_v2",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "mnasnet_b1",
)
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16", "asimddp")
CALIBRATION = 32


def cpu() -> dict[str, Any]:
    """The CPU's model name and which int8 dot-product instructions it has."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    return {
        "model": fields.get("Model name", platform.processor()).strip(),
        "int8_flags": {flag: flag in flags for flag in INT8_FLAGS},
    }


def timed(label: str, arch: Arch) -> dict[str, Any]:
    fp32 = export_onnx_bytes(arch)
    images = np.random.default_rng(0).standard_normal((CALIBRATION, *arch.input_shape()[1:]))
    int8 = quantize_int8(fp32, INPUT_NAME, images.astype(np.float32))
    fp32_ms, int8_ms = latency_ms([fp32, int8])
    return {
        "network": label,
        "input": f"{arch.resolution}x{arch.resolution}x{arch.in_channels}",
        "fp32_ms": round(fp32_ms, 4),
        "int8_ms": round(int8_ms, 4),
        "speedup": round(fp32_ms / int8_ms, 2),
        "fp32_bytes": len(fp32),
        "int8_bytes": len(int8),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--front", type=Path, help="a demo's results.json")
    parser.add_argument("--out", default="int8.json")
    args = parser.parse_args()
    found = cpu()
    print(json.dumps(found))
    networks = [(name, reference_arch(name)) for name in REFERENCES]
    small = [
        (name, replace(arch, resolution=28, in_channels=1, num_classes=10))
        for name, arch in networks
    ]
    front = front_archs(args.front) if args.front else []
    rows = []
    for label, arch in [*networks, *small, *front]:
        rows.append(timed(label, arch))
        print(json.dumps(rows[-1]), flush=True)
    table = Table(title=f"fp32 vs int8 on {found['model']}, ONNX Runtime, one thread")
    for column in ("network", "input", "fp32 ms", "int8 ms", "speed-up", "fp32 B", "int8 B"):
        table.add_column(column, justify="left" if column == "network" else "right")
    for row in rows:
        table.add_row(
            row["network"],
            row["input"],
            f"{row['fp32_ms']:.3f}",
            f"{row['int8_ms']:.3f}",
            f"{row['speedup']:.2f}x",
            f"{row['fp32_bytes']:,}",
            f"{row['int8_bytes']:,}",
        )
    Console(width=140).print(table)
    print(f"wrote {write_json(args.out, {'cpu': found, 'rows': rows})}")


if __name__ == "__main__":
    main()
