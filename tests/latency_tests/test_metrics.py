"""The predictor report's figures against a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from latency.metrics import accuracy_report


def test_report_matches_hand_computation() -> None:
    measured = np.array([10.0, 20.0, 30.0, 40.0])
    predicted = np.array([11.0, 19.0, 36.0, 35.0])
    report = accuracy_report(measured, predicted)
    # relative errors 0.1, 0.05, 0.2, 0.125 -> mean 0.11875; two of four within 10%
    assert report.measurements == 4
    assert report.mape == pytest.approx(0.11875)
    assert report.within10 == pytest.approx(0.5)
    # predicted ranks 1, 2, 4, 3: d^2 = 0+0+1+1 -> Spearman 1 - 6*2/(4*15) = 0.8
    assert report.spearman == pytest.approx(0.8)
    # pairs: 5 concordant, 1 discordant (3rd vs 4th) -> Kendall (5-1)/6
    assert report.kendall == pytest.approx(4 / 6)


def test_constant_predictions_have_no_rank_correlation() -> None:
    report = accuracy_report(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))
    assert report.spearman == 0.0 and report.kendall == 0.0
    assert report.within10 == pytest.approx(1 / 3)
