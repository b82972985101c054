"""What the search benchmarks share: the task (``mnist5k``, one fixed split), spaces and
reference networks retargeted to it, and where results go."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from search.data import ImageDataset, load_dataset
from space import Arch
from space.presets import search_space
from space.spaces import SearchSpace

RESULTS = Path(__file__).parent / "results"


def digits(seed: int = 0) -> tuple[ImageDataset, ImageDataset]:
    """``mnist5k`` split 80/20 (stratified, seeded), as ``edgenas search run`` splits it."""
    return load_dataset("mnist5k").split(0.2, seed=seed)


def task_space(name: str, data: ImageDataset) -> SearchSpace:
    """A preset space retargeted to ``data``'s resolution, channels and classes."""
    return search_space(name).with_task(
        resolution=data.resolution, in_channels=data.channels, num_classes=len(data.classes)
    )


def on_task(arch: Arch, data: ImageDataset) -> Arch:
    """A reference network retargeted to ``data`` (same layers, new input and classifier)."""
    return replace(
        arch,
        resolution=data.resolution,
        in_channels=data.channels,
        num_classes=len(data.classes),
    )


def write_json(name: str, payload: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2))
    return path
