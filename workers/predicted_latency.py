"""Latency for a job in ``predicted`` or ``hybrid`` mode: each device's predictor first.

Per device, an architecture already measured with the job's settings costs nothing and counts
as measured. Otherwise the device's predictor (``latency.device_predictor``, refitted whenever
the device's records change, so every measurement recalibrates it) predicts. ``hybrid``
measures instead while the device has too few measurements for a predictor or when the
prediction's relative standard deviation exceeds ``MAX_RELATIVE_STD``, and ``confirm``
measures the candidates the engine finds could join the front (``search.latency_source``).
``predicted`` never measures: a device without a predictor is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from latency.device_predictor import DevicePredictors, measured_architectures
from latency.devices import job_device
from latency.predictor import MIN_MEASUREMENTS
from latency.protocol import MeasurementSettings
from latency.queue import cached_record
from search.latency_source import LatencyEstimate
from space import Arch
from workers.queued_latency import MeasurementFailed, QueuedLatency

# hybrid: a prediction this vague (an operator the device has hardly been measured with) is
# measured before training, where it would steer the early stop; milder doubt is handled by the
# optimistic point after training (search.latency_source)
MAX_RELATIVE_STD = 0.25


class PredictedLatency:
    """A ``search.latency_source.LatencySource`` over the job's devices and their predictors."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        devices: Mapping[str, int],
        settings: MeasurementSettings,
        predictors: DevicePredictors,
        mode: Literal["predicted", "hybrid"],
    ) -> None:
        self._sessions = sessions
        self._devices = dict(devices)  # name -> id, fixed when the job was submitted
        self._settings = settings
        self._predictors = predictors
        self._mode = mode

    def estimate(self, arch: Arch) -> LatencyEstimate:
        ms: dict[str, float] = {}
        std: dict[str, float] = {}
        to_measure = []
        with self._sessions.begin() as session:
            for name, device_id in self._devices.items():
                device = job_device(session, name, device_id)
                record = cached_record(session, device, arch.hash, self._settings)
                if record is not None:
                    ms[name] = record.median_ms
                    continue
                predictor = self._predictors.predictor(session, device.id)
                if predictor is None and self._mode == "predicted":
                    raise MeasurementFailed(
                        f"{name}: no predictor yet ({measured_architectures(session, device.id)} "
                        f"measured architectures, {MIN_MEASUREMENTS} needed); import "
                        "measurements or use latency 'hybrid'"
                    )
                prediction = predictor.predict([arch]) if predictor is not None else None
                if prediction is None or (
                    self._mode == "hybrid"
                    and prediction.std_ms[0] > MAX_RELATIVE_STD * prediction.mean_ms[0]
                ):
                    to_measure.append(name)
                    continue
                ms[name], std[name] = float(prediction.mean_ms[0]), float(prediction.std_ms[0])
        if to_measure:
            measure = {name: self._devices[name] for name in to_measure}
            ms.update(QueuedLatency(self._sessions, measure, self._settings)(arch))
        return LatencyEstimate(ms, std)

    def confirm(self, arch: Arch, estimate: LatencyEstimate) -> LatencyEstimate:
        if self._mode == "predicted" or not estimate.predicted:
            return estimate
        devices = {name: self._devices[name] for name in estimate.predicted}
        measured = QueuedLatency(self._sessions, devices, self._settings)(arch)
        return LatencyEstimate({**estimate.ms, **measured})
