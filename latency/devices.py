"""The device registry: register, look up, authenticate, heartbeat, remove.

Who may do what: a device's owner (or an admin) manages it: shares it, deletes it, rotates its
token, imports measurements into it, calibrates it. Everyone may also use (measure on, search
with) a ``shared`` device. A device the caller may not use does not exist for them (404).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from edgenas.callers import Caller
from edgenas.errors import ForbiddenError, InvalidRequestError, NotFoundError
from latency.database import add_unique
from latency.tables import Device, utcnow

ONLINE_WINDOW = timedelta(seconds=60)


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256: long random secrets need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_device_token() -> str:
    return "edev_" + secrets.token_urlsafe(32)


def register_device(
    session: Session,
    *,
    owner_id: int | None,
    name: str,
    kind: str,
    runtime: str,
    provider: str,
    facts: dict[str, Any] | None = None,
    shared: bool = False,
) -> tuple[Device, str]:
    """Create a device; returns it with its token, which is never stored or shown again."""
    token = new_device_token()
    device = Device(
        owner_id=owner_id,
        shared=shared,
        name=name,
        kind=kind,
        runtime=runtime,
        provider=provider,
        facts=facts or {},
        token_hash=hash_token(token),
    )
    add_unique(session, device, f"you already have a device named {name!r}")
    return device, token


def get_device(session: Session, device_id: int) -> Device:
    """Any device, for the device itself (its token) and the service; callers use
    ``usable_device`` or ``managed_device``."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"no device {device_id}")
    return device


@dataclass(frozen=True)
class DeviceAccess:
    """Who may use a device, read without its row (``queue.task_views``)."""

    name: str
    shared: bool
    owner_id: int | None


def may_use(caller: Caller, device: Device | DeviceAccess) -> bool:
    return device.shared or caller.owns(device.owner_id)


def usable_device(session: Session, device_id: int, caller: Caller) -> Device:
    """A device the caller may measure on; any other is a 404, as if it did not exist."""
    device = session.get(Device, device_id)
    if device is None or not may_use(caller, device):
        raise NotFoundError(f"no device {device_id}")
    return device


def managed_device(session: Session, device_id: int, caller: Caller) -> Device:
    """A device the caller may change: their own (an admin: any)."""
    device = usable_device(session, device_id, caller)
    if not caller.owns(device.owner_id):
        raise ForbiddenError(
            f"device {device.name!r} is shared with you; only its owner may change it"
        )
    return device


def device_by_name(session: Session, name: str, caller: Caller) -> Device:
    """The caller's own device of that name, else the one they may use."""
    named = list(session.scalars(select(Device).where(Device.name == name)))
    own = [d for d in named if d.owner_id is not None and d.owner_id == caller.user_id]
    usable = own or [d for d in named if may_use(caller, d)]
    if not usable:
        raise NotFoundError(f"no device named {name!r}")
    if len(usable) > 1:
        raise InvalidRequestError(
            f"device name {name!r} is ambiguous: {len(usable)} devices you may use have it"
        )
    return usable[0]


def job_device(session: Session, name: str, device_id: int) -> Device:
    """A job's device, by the id it was submitted with: one deleted since (even if another
    now has its name) is gone for the job."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(
            f"device {name!r} (id {device_id}) was deleted after the job was submitted"
        )
    return device


def service_device(session: Session, name: str) -> Device | None:
    """The service's own device of that name (no owner), such as the embedded ``local``."""
    return session.scalar(select(Device).where(Device.owner_id.is_(None), Device.name == name))


def list_devices(session: Session, caller: Caller) -> list[Device]:
    """The devices the caller may use, oldest first."""
    query = select(Device).order_by(Device.id)
    if not caller.admin:
        query = query.where(or_(Device.shared, Device.owner_id == caller.user_id))
    return list(session.scalars(query))


def delete_device(session: Session, device_id: int, caller: Caller) -> None:
    """Remove a device (its token stops working; its tasks and records go with it)."""
    session.delete(managed_device(session, device_id, caller))


def rotate_token(session: Session, device: Device) -> str:
    """Give ``device`` a new token; the old one stops working at once (a lost phone)."""
    token = new_device_token()
    device.token_hash = hash_token(token)
    return token


def authenticate_device(session: Session, token: str) -> Device | None:
    return session.scalar(select(Device).where(Device.token_hash == hash_token(token)))


def heartbeat(session: Session, device: Device, facts: dict[str, Any] | None = None) -> None:
    """Note that the agent is alive, and what it reports about its machine."""
    device.last_seen_at = utcnow()
    if facts:
        device.facts = {**device.facts, **facts}


def is_online(device: Device, now: datetime | None = None) -> bool:
    if device.last_seen_at is None:
        return False
    return (now or utcnow()) - device.last_seen_at <= ONLINE_WINDOW
