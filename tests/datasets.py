"""Data sets for tests that upload one: real MNIST digits from the bundled ``mnist5k``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from search.data import load_dataset


def digits_npz(path: Path, count: int = 200) -> Path:
    """``count`` real MNIST digits as an .npz upload."""
    data = load_dataset("mnist5k").subset(count, seed=0)
    np.savez_compressed(path, images=data.images[:, 0], labels=data.labels)
    return path
