"""A candidate at int8 (``search.precision``): its proxy-trained network quantized as
trained models are (``artifacts.quantize``), scored in ONNX Runtime on the search's
validation images, and timed as that very file: by the job's devices' agents
(``QueuedInt8``, in every latency mode: predictors know fp32 only), or on this machine
(``LocalInt8``, ``edgenas search run``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from latency.local import LOCAL, local_timer
from latency.protocol import MeasurementSettings, TaskSettings
from search.precision import LowPrecisionPoint, Precision, TrainedProxy
from space import Arch
from workers.queued_latency import QueuedLatency


def _int8(arch: Arch, trained: TrainedProxy, precision: Precision) -> tuple[bytes, float]:
    from artifacts.package import int8_point  # torch: only where candidates are trained

    if precision != "int8":
        raise ValueError(f"precision {precision!r}: only int8 is evaluated below fp32")
    return int8_point(arch, trained.model, trained.calibration, trained.validation, trained.labels)


class QueuedInt8:
    """Int8 points timed by the job's devices through the measurement queue."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        devices: Mapping[str, int],
        settings: MeasurementSettings,
    ) -> None:
        self._sessions, self._devices, self._settings = sessions, dict(devices), settings

    def __call__(
        self, arch: Arch, trained: TrainedProxy, precision: Precision
    ) -> LowPrecisionPoint:
        model, accuracy = _int8(arch, trained, precision)
        settings = TaskSettings(
            **{
                **self._settings.model_dump(),
                "precision": precision,
                "artifact": hashlib.sha256(model).hexdigest(),
            }
        )
        latency = QueuedLatency(self._sessions, self._devices, settings, model=model)(arch)
        return LowPrecisionPoint(precision, accuracy, latency)


class LocalInt8:
    """Int8 points timed on this machine, as ``latency.local`` times fp32 ones."""

    def __init__(self) -> None:
        self._timer = local_timer()

    def __call__(
        self, arch: Arch, trained: TrainedProxy, precision: Precision
    ) -> LowPrecisionPoint:
        model, accuracy = _int8(arch, trained, precision)
        return LowPrecisionPoint(precision, accuracy, {LOCAL: self._timer(model)})
