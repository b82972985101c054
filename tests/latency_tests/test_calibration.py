"""A device's first measurements cover the space."""

from __future__ import annotations

import pytest

from latency.calibration import MAX_CALIBRATION, calibration_archs
from space.presets import search_space


def test_calibration_covers_every_operator_of_the_space() -> None:
    archs = calibration_archs(search_space("mnasnet"), 12, seed=3)
    assert len({arch.hash for arch in archs}) == 12
    ops = {(type(op).__name__, getattr(op, "expansion", 0)) for a in archs for op in a.layers[1:]}
    assert ops == {  # the space's four operators, rare ones included
        ("Conv", 0),
        ("DepthwiseSeparable", 0),
        ("InvertedResidual", 3),
        ("InvertedResidual", 6),
    }
    assert archs == calibration_archs(search_space("mnasnet"), 12, seed=3)  # reproducible


@pytest.mark.parametrize("count", [0, MAX_CALIBRATION + 1])
def test_calibration_counts_are_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="count"):
        calibration_archs(search_space("mnasnet"), count)
