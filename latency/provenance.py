"""Where a latency came from: the newest measurement of each architecture on each device.

The web UI shows a trial's latency with its provenance (runs, rounds, threads, the runtime's
version, disturbed rounds, when) and a front point with its spread; both read these records.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from latency.tables import OF_ARCHITECTURES, LatencyRecord, MeasurementTask, TaskState


def newest_records(
    session: Session, device_ids: Mapping[str, int], arch_hashes: Collection[str]
) -> dict[tuple[str, str], LatencyRecord]:
    """(device name, architecture hash) -> the newest record, for the pairs that have one."""
    if not device_ids or not arch_hashes:
        return {}
    names = {device_id: name for name, device_id in device_ids.items()}
    rows = session.scalars(
        select(LatencyRecord)
        .where(
            LatencyRecord.device_id.in_(names),
            LatencyRecord.arch_hash.in_(set(arch_hashes)),
            OF_ARCHITECTURES,
        )
        .order_by(LatencyRecord.id)
    )
    return {(names[row.device_id], row.arch_hash): row for row in rows}  # newest wins


def queue_depths(session: Session, device_ids: Collection[int]) -> dict[int, int]:
    """Measurement tasks waiting for or held by each device's agent."""
    rows = session.execute(
        select(MeasurementTask.device_id, func.count())
        .where(
            MeasurementTask.device_id.in_(device_ids),
            MeasurementTask.state.in_((TaskState.PENDING, TaskState.LEASED)),
        )
        .group_by(MeasurementTask.device_id)
    )
    return {device_id: count for device_id, count in rows}
