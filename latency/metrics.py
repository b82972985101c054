"""How good a latency prediction is: the figures users compare predictors by."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import kendalltau, spearmanr

WITHIN = 0.10  # "within ±10%"


@dataclass(frozen=True)
class AccuracyReport:
    """MAPE and within-10% as shares (0.031 = 3.1%); rank correlations in [-1, 1]."""

    measurements: int
    mape: float
    within10: float
    spearman: float
    kendall: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def accuracy_report(measured: np.ndarray, predicted: np.ndarray) -> AccuracyReport:
    """Compare predictions with measurements of the same architectures."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    relative = np.abs(predicted - measured) / measured
    ranked = len(measured) > 1 and np.ptp(measured) > 0 and np.ptp(predicted) > 0
    return AccuracyReport(
        measurements=len(measured),
        mape=float(relative.mean()),
        within10=float(np.mean(relative <= WITHIN)),
        spearman=float(spearmanr(measured, predicted).statistic) if ranked else 0.0,
        kendall=float(kendalltau(measured, predicted).statistic) if ranked else 0.0,
    )
