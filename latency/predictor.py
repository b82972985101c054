"""Per-device latency predictor: architecture -> milliseconds, with an uncertainty.

The model is additive over operators (``latency.features``: count, MACs and traffic summed per
kind of kernel), fitted on relative error with scikit-learn's ridge regression or, robust to
the odd wild measurement (a device busy for a moment), its Huber regression. What does not
add up (fusion, cache effects, the head) is left to a gradient-boosted correction on the
residuals, which is kept only where cross-validation shows that it helps. A device whose layers
were timed alone (``latency.layer_table``) also gets candidates that weigh those timings'
sums per kind of block: on this machine's CPU they are twice as exact. Few-shot transfer: a
device with few measurements may lean on predictors of devices with many; their predictions
become features, so the new device only has to learn a scale and a small correction.

Every choice (feature level, correction, transfer) is made by K-fold cross-validation on the
device's own measurements, so the same code serves a phone, a Xeon or a GPU without tuning.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor, RidgeCV
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from latency.errors import PredictorError
from latency.features import STATS, ArchFeatures, FeatureLevel, FeatureMap, features_of
from latency.layer_table import LayerTable
from latency.metrics import accuracy_report
from space import Arch

MIN_MEASUREMENTS = 5
MAX_FOLDS = 5
CORRECTION_MIN_MEASUREMENTS = 200  # a tree model on fewer sums of layers only memorises noise
ALPHAS = np.logspace(-4, 3, 15)
# per 100 measurements (the penalty grows with the rows, as the loss does): best of 1e-4..0.1 on
# the FBNet Xeon columns at 100 measurements
HUBER_ALPHA = 0.01
# a Huber fit of the finer levels' hundreds of columns is slow to converge and was never better
ROBUST_LEVELS = (None, FeatureLevel.KIND, FeatureLevel.NARROW)


@dataclass(frozen=True)
class Candidate:
    """One way to model a device, compared with the others by cross-validation."""

    level: FeatureLevel | None  # None: source predictions or layer sums only
    transfer: bool = False
    layers: bool = False  # the device's layer table: summed latencies of the timed layers
    correction: bool = False
    robust: bool = False  # Huber loss instead of squared error

    @property
    def name(self) -> str:
        parts = [self.level.value] if self.level else []
        if self.layers:
            parts.append("layers")
        if self.transfer and (self.level or self.layers):
            parts.append("transfer")
        parts = parts or ["transfer-only"]
        if self.robust:
            parts.append("robust")
        if self.correction:
            parts.append("correction")
        return "+".join(parts)


@dataclass(frozen=True)
class Prediction:
    mean_ms: np.ndarray
    std_ms: np.ndarray


class _Design:
    """The columns a candidate sees: per-kind sums (``latency.features``), the device's layer
    table sums and, when it transfers, the source devices' predictions. Fixed once, from the
    measured architectures."""

    def __init__(
        self,
        candidate: Candidate,
        table: Sequence[ArchFeatures],
        sources: Sequence[LatencyPredictor],
        layers: LayerTable | None,
    ) -> None:
        self.features = FeatureMap(candidate.level, table) if candidate.level else None
        self.sources = list(sources) if candidate.transfer else []
        self.layers = layers if candidate.layers else None

    def matrix(self, archs: Sequence[Arch], table: Sequence[ArchFeatures]) -> np.ndarray:
        blocks = [] if self.features is None else [self.features.matrix(table)]
        if self.layers is not None:
            blocks.append(self.layers.columns(archs))
        blocks += [source.predict(archs).mean_ms[:, None] for source in self.sources]
        return np.hstack(blocks)

    def totals(self, x: np.ndarray) -> np.ndarray:
        """Whole-network count, MACs and traffic: what a correction for effects that do not
        add up (fusion, caches) looks at, besides the additive prediction."""
        if self.features is None:
            return x
        columns = np.array(self.features.columns)
        sums = x[:, : len(columns)]
        return np.column_stack(
            [sums[:, np.char.endswith(columns, f".{stat}")].sum(axis=1) for stat in STATS]
        )


class _RelativeHuber:
    """A linear model with Huber loss on relative error: the rows are divided by the measured
    latency, so the residual is ``predicted / measured - 1``, and a few wild measurements pull
    it less than squared error would."""

    def __init__(self) -> None:
        self.scaler = StandardScaler()
        self.coef = np.zeros(0)

    def _design(self, z: np.ndarray) -> np.ndarray:
        return np.column_stack([z, np.ones(len(z))])  # the last column is the intercept

    def fit(self, x: np.ndarray, ms: np.ndarray) -> _RelativeHuber:
        rows = self._design(self.scaler.fit_transform(x)) / ms[:, None]
        huber = HuberRegressor(
            alpha=HUBER_ALPHA * len(ms) / 100, fit_intercept=False, max_iter=2000
        )
        with warnings.catch_warnings():  # an unconverged fit is still judged by cross-validation
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.coef = huber.fit(rows, np.ones(len(ms))).coef_
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._design(self.scaler.transform(x)) @ self.coef


class _Model:
    """One candidate fitted on one set of measurements (rows of its design matrix)."""

    def __init__(
        self, candidate: Candidate, x: np.ndarray, totals: np.ndarray, ms: np.ndarray
    ) -> None:
        self.linear: Pipeline | _RelativeHuber
        if candidate.robust:
            self.linear = _RelativeHuber().fit(x, ms)
        else:
            self.linear = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS))
            self.linear.fit(x, ms, ridgecv__sample_weight=1.0 / ms**2)
        self.correction: HistGradientBoostingRegressor | None = None
        if candidate.correction:
            additive = self.linear.predict(x)
            self.correction = HistGradientBoostingRegressor(
                max_iter=100, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=20
            ).fit(np.column_stack([additive, totals]), ms / additive - 1.0)

    def predict(self, x: np.ndarray, totals: np.ndarray) -> np.ndarray:
        ms = self.linear.predict(x)
        if self.correction is not None:
            ms = ms * (1.0 + self.correction.predict(np.column_stack([ms, totals])))
        return np.maximum(ms, 1e-6)


@dataclass
class _Trial:
    """A candidate's cross-validation: out-of-fold predictions and the fold models."""

    candidate: Candidate
    design: _Design
    x: np.ndarray
    totals: np.ndarray
    folds: list[_Model]
    out_of_fold: np.ndarray

    def errors(self, y: np.ndarray) -> np.ndarray:
        return np.abs(self.out_of_fold - y) / y


def _cross_validate(
    candidate: Candidate,
    design: _Design,
    x: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> _Trial:
    models, out_of_fold, totals = [], np.empty_like(y), design.totals(x)
    for train, test in folds:
        model = _Model(candidate, x[train], totals[train], y[train])
        out_of_fold[test] = model.predict(x[test], totals[test])
        models.append(model)
    return _Trial(candidate, design, x, totals, models, out_of_fold)


def _linear_candidates(has_sources: bool, has_layers: bool) -> list[Candidate]:
    """Simplest first (fewest coefficients), so that a tie goes to the simpler model."""
    out = [Candidate(None, transfer=True)] if has_sources else []
    if has_layers:
        out += [Candidate(None, layers=True), Candidate(FeatureLevel.KIND, layers=True)]
    out += [Candidate(level) for level in FeatureLevel]
    if has_sources:
        out.append(Candidate(FeatureLevel.KIND, transfer=True))
    coarse = [c for c in out if c.level in ROBUST_LEVELS]
    return out + [replace(c, robust=True) for c in coarse]


def _best(tried: list[_Trial], y: np.ndarray) -> _Trial:
    """The candidate with the lowest cross-validated MAPE (the first, simplest, on a tie)."""
    return min(tried, key=lambda trial: float(trial.errors(y).mean()))


def _folds(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    splitter = KFold(n_splits=min(MAX_FOLDS, n), shuffle=True, random_state=seed)
    return list(splitter.split(np.arange(n)))


class LatencyPredictor:
    """Fit with ``LatencyPredictor.fit``; ``report`` holds the cross-validated accuracy."""

    def __init__(
        self,
        trial: _Trial,
        y: np.ndarray,
        chosen_at: int | None = None,
        layers: LayerTable | None = None,
    ) -> None:
        self._candidate = trial.candidate
        self.layers = layers  # the layer table it was fitted with, used or not
        self._design = trial.design
        # every measurement: the prediction
        self._full = _Model(trial.candidate, trial.x, trial.totals, y)
        self._folds = trial.folds  # once per fold: their spread is its variance
        self.report = accuracy_report(y, trial.out_of_fold)
        # RMS relative error out of fold: what a new architecture should expect
        self.relative_residual = float(np.sqrt(np.mean((trial.out_of_fold / y - 1.0) ** 2)))
        self.model_name = trial.candidate.name
        self.chosen_at = len(y) if chosen_at is None else chosen_at  # measurements when chosen

    @classmethod
    def fit(
        cls,
        archs: Sequence[Arch],
        ms: Sequence[float],
        *,
        sources: Sequence[LatencyPredictor] = (),
        layers: LayerTable | None = None,
        seed: int = 0,
    ) -> LatencyPredictor:
        """Choose and fit the best-validated model of ``archs`` -> ``ms`` (milliseconds),
        with the device's layer table when it has one."""
        y = _checked(archs, ms)
        folds = _folds(len(y), seed)
        table = [features_of(arch) for arch in archs]
        tried = []
        for candidate in _linear_candidates(bool(sources), layers is not None):
            design = _Design(candidate, table, sources, layers)
            x = design.matrix(archs, table)
            tried.append(_cross_validate(candidate, design, x, y, folds))
        if len(y) >= CORRECTION_MIN_MEASUREMENTS:
            linear = _best(tried, y)
            corrected = replace(linear.candidate, correction=True)
            tried.append(_cross_validate(corrected, linear.design, linear.x, y, folds))
        return cls(_best(tried, y), y, layers=layers)

    def recalibrated(
        self,
        archs: Sequence[Arch],
        ms: Sequence[float],
        *,
        layers: LayerTable | None = None,
        seed: int = 0,
    ) -> LatencyPredictor:
        """The same kind of model refitted on new measurements (and a grown layer table),
        without choosing again: cheap enough to run after every measurement of a search."""
        y = _checked(archs, ms)
        table = [features_of(arch) for arch in archs]
        layers = layers or self.layers
        design = _Design(self._candidate, table, self._design.sources, layers)
        x = design.matrix(archs, table)
        return LatencyPredictor(
            _cross_validate(self._candidate, design, x, y, _folds(len(y), seed)),
            y,
            chosen_at=self.chosen_at,
            layers=layers,
        )

    @property
    def measurements(self) -> int:
        return self.report.measurements

    def predict(self, archs: Sequence[Arch]) -> Prediction:
        """The full model's prediction, with an uncertainty joining the fold models'
        disagreement and the out-of-fold error (so unlike architectures are flagged)."""
        if not archs:
            return Prediction(np.zeros(0), np.zeros(0))
        x = self._design.matrix(archs, [features_of(arch) for arch in archs])
        totals = self._design.totals(x)
        mean = self._full.predict(x, totals)
        spread = np.stack([model.predict(x, totals) for model in self._folds]).var(axis=0)
        std = np.sqrt(spread + (self.relative_residual * mean) ** 2)
        return Prediction(mean, std)


def _checked(archs: Sequence[Arch], ms: Sequence[float]) -> np.ndarray:
    y = np.asarray(ms, dtype=float)
    if len(archs) != len(y):
        raise PredictorError(f"{len(archs)} architectures but {len(y)} latencies")
    if len(y) < MIN_MEASUREMENTS:
        raise PredictorError(
            f"a predictor needs at least {MIN_MEASUREMENTS} measurements, got {len(y)}"
        )
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise PredictorError("latencies must be positive, finite milliseconds")
    return y


def layer_table(timings: Mapping[Arch, float]) -> LayerTable | None:
    """The device's layer table (None with too few probes to estimate a missing one from): a
    layer it lacks is estimated by a predictor fitted on the probes, on first need."""
    if len(timings) < MIN_MEASUREMENTS:
        return None
    fitted: list[LatencyPredictor] = []

    def estimate(probes: Sequence[Arch]) -> np.ndarray:
        if not fitted:
            fitted.append(LatencyPredictor.fit(list(timings), list(timings.values())))
        return fitted[0].predict(probes).mean_ms

    return LayerTable(timings, estimate)
