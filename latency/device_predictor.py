"""Each registered device's predictor, fitted on its measurements and refitted when they change.

A device's measurements are its latency records, agent-measured and imported alike, the newest
per architecture; those of layer probes (``space.probes``) make its layer table. A new record
refits the device's chosen model at once (a search's every measurement recalibrates it); the
model is chosen again once the measurements or the layer table grew by half.
A device with few measurements borrows from devices with many (their predictors become
features, ``latency.predictor``); cross-validation decides whether that helps.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import Lock
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edgenas.errors import InvalidRequestError
from latency.layer_table import LayerTable
from latency.measurement_csv import MAX_IMPORT_BATCH
from latency.predictor import MIN_MEASUREMENTS, LatencyPredictor, layer_table
from latency.tables import OF_ARCHITECTURES, Device, LatencyRecord, RecordSource, utcnow
from space import Arch, parse_arch
from space.probes import PROBE_MARK, is_probe

SOURCE_MIN_MEASUREMENTS = 100  # a device this well measured can teach a new one
RECHOOSE_GROWTH = 1.5  # the model is chosen again once the measurements grew by half


def _version(session: Session, device_id: int) -> tuple[int, int]:
    count, newest = session.execute(
        select(func.count(LatencyRecord.id), func.max(LatencyRecord.id)).where(
            LatencyRecord.device_id == device_id, OF_ARCHITECTURES
        )
    ).one()
    return int(count), int(newest or 0)


def measured_architectures(session: Session, device_id: int, *, probes: bool = False) -> int:
    """How many different networks (or, with ``probes``, layer probes) the device has
    latencies for."""
    is_probe_record = LatencyRecord.arch.contains(PROBE_MARK, autoescape=True)
    return int(
        session.scalar(
            select(func.count(func.distinct(LatencyRecord.arch_hash))).where(
                LatencyRecord.device_id == device_id,
                OF_ARCHITECTURES,
                is_probe_record if probes else ~is_probe_record,
            )
        )
        or 0
    )


class _Measurements:
    """The newest latency of each network measured on a device, and its probes' (the layer
    table's rows)."""

    def __init__(self, newest: dict[str, tuple[Arch, float]]) -> None:
        networks = [(arch, ms) for arch, ms in newest.values() if not is_probe(arch)]
        self.archs = [arch for arch, _ in networks]
        self.ms = [ms for _, ms in networks]
        self.probes = {arch: ms for arch, ms in newest.values() if is_probe(arch)}


def _worth_rechoosing(previous: LatencyPredictor, networks: int, layers: LayerTable | None) -> bool:
    """Whether the networks or the layer table grew by ``RECHOOSE_GROWTH`` since the model was
    chosen: then another model may do better."""
    if networks >= RECHOOSE_GROWTH * previous.chosen_at:
        return True
    before = len(previous.layers) if previous.layers is not None else 0
    return layers is not None and len(layers) >= RECHOOSE_GROWTH * before


class DevicePredictors:
    """Fitted predictors per device, kept until the device's records change (one per process:
    made at the composition root and passed in)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._fitted: dict[tuple[int, bool], tuple[tuple[int, int], LatencyPredictor | None]] = {}
        self._archs: dict[str, Arch] = {}
        # per device: its probe timings and the table made of them, kept while they are the
        # same (a table estimates missing layers with a model fitted on first need)
        self._tables: dict[int, tuple[frozenset[tuple[str, float]], LayerTable | None]] = {}

    def _measurements(self, session: Session, device_id: int) -> _Measurements:
        rows = session.execute(
            select(LatencyRecord.arch_hash, LatencyRecord.arch, LatencyRecord.median_ms)
            .where(LatencyRecord.device_id == device_id, OF_ARCHITECTURES)
            .order_by(LatencyRecord.id)
        )
        return _Measurements({h: (self._arch(h, text), ms) for h, text, ms in rows})

    def _table(self, device_id: int, probes: dict[Arch, float]) -> LayerTable | None:
        timings = frozenset((probe.hash, ms) for probe, ms in probes.items())
        with self._lock:
            cached = self._tables.get(device_id)
        if cached is not None and cached[0] == timings:
            return cached[1]
        table = layer_table(probes)
        with self._lock:
            self._tables[device_id] = (timings, table)
        return table

    def _arch(self, arch_hash: str, text: str) -> Arch:
        if arch_hash not in self._archs:
            self._archs[arch_hash] = parse_arch(text)
        return self._archs[arch_hash]

    def predictor(
        self, session: Session, device_id: int, *, transfer: bool = True
    ) -> LatencyPredictor | None:
        """The device's predictor, or None while it has fewer than ``MIN_MEASUREMENTS``."""
        version = _version(session, device_id)
        with self._lock:
            cached = self._fitted.get((device_id, transfer))
        if cached is not None and cached[0] == version:
            return cached[1]
        measured = self._measurements(session, device_id)
        archs, ms, layers = measured.archs, measured.ms, self._table(device_id, measured.probes)
        previous = cached[1] if cached is not None else None
        fitted: LatencyPredictor | None
        if len(ms) < MIN_MEASUREMENTS:
            fitted = None
        elif previous is not None and not _worth_rechoosing(previous, len(ms), layers):
            fitted = previous.recalibrated(archs, ms, layers=layers)  # a search's new one: cheap
        else:
            sources = self._sources(session, device_id, len(ms)) if transfer else []
            fitted = LatencyPredictor.fit(archs, ms, sources=sources, layers=layers)
        with self._lock:
            self._fitted[(device_id, transfer)] = (version, fitted)
        return fitted

    def _sources(self, session: Session, device_id: int, own: int) -> list[LatencyPredictor]:
        """Predictors of devices measured at least twice as often (and well enough to teach)."""
        counts = session.execute(
            select(LatencyRecord.device_id, func.count(func.distinct(LatencyRecord.arch_hash)))
            .where(LatencyRecord.device_id != device_id, OF_ARCHITECTURES)
            .group_by(LatencyRecord.device_id)
        )
        teachers = [
            other for other, count in counts if count >= max(SOURCE_MIN_MEASUREMENTS, 2 * own)
        ]
        fitted = [self.predictor(session, other, transfer=False) for other in sorted(teachers)]
        return [p for p in fitted if p is not None]


def predictor_report(
    session: Session, predictors: DevicePredictors, device: Device
) -> dict[str, Any]:
    """What ``GET /v1/devices/{id}/predictor`` shows: how far the predictor can be trusted."""
    predictor = predictors.predictor(session, device.id)
    measured = measured_architectures(session, device.id)
    report: dict[str, Any] = {
        "device": device.name,
        "measurements": measured,
        "layers": measured_architectures(session, device.id, probes=True),
        "imported": session.scalar(
            select(func.count(LatencyRecord.id)).where(
                LatencyRecord.device_id == device.id,
                LatencyRecord.source == RecordSource.IMPORT,
            )
        ),
        "ready": predictor is not None,
    }
    if predictor is None:
        report["message"] = (
            f"the predictor needs at least {MIN_MEASUREMENTS} measured architectures; "
            f"this device has {measured}"
        )
        return report
    return {
        **report,
        "model": predictor.model_name,
        "cross_validated": predictor.report.to_dict(),
    }


def import_measurements(
    session: Session, device: Device, rows: Sequence[tuple[str, float]], source: str
) -> int:
    """Store a lab's measurements as the device's latency records; every row is checked first,
    so a bad row imports nothing."""
    if len(rows) > MAX_IMPORT_BATCH:
        raise InvalidRequestError(f"at most {MAX_IMPORT_BATCH} measurements per request")
    parsed = []
    for number, (text, ms) in enumerate(rows):
        try:
            arch = parse_arch(text)
        except ValueError as exc:
            raise InvalidRequestError(f"measurements[{number}].arch: {exc}") from None
        if not ms > 0:
            raise InvalidRequestError(f"measurements[{number}].latency_ms must be positive")
        parsed.append((arch, ms))
    now = utcnow()
    session.add_all(
        LatencyRecord(
            device_id=device.id,
            arch=str(arch),
            arch_hash=arch.hash,
            settings_key=f"import:{source}",
            median_ms=ms,
            p90_ms=ms,
            cv=0.0,
            runs=1,
            rounds=1,
            spread_ms=0.0,
            remeasures=0,
            source=RecordSource.IMPORT,
            threads=0,
            provider="import",
            device_facts={},
            measured_at=now,
        )
        for arch, ms in parsed
    )
    return len(parsed)
