"""The device registry: register, look up, authenticate, heartbeat, remove."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edgenas.errors import ConflictError, NotFoundError
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
    name: str,
    kind: str,
    runtime: str,
    provider: str,
    facts: dict[str, Any] | None = None,
) -> tuple[Device, str]:
    """Create a device; returns it with its token, which is never stored or shown again."""
    token = new_device_token()
    device = Device(
        name=name,
        kind=kind,
        runtime=runtime,
        provider=provider,
        facts=facts or {},
        token_hash=hash_token(token),
    )
    session.add(device)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"a device named {name!r} already exists") from None
    return device, token


def get_device(session: Session, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFoundError(f"no device {device_id}")
    return device


def device_by_name(session: Session, name: str) -> Device:
    device = session.scalar(select(Device).where(Device.name == name))
    if device is None:
        raise NotFoundError(f"no device named {name!r}")
    return device


def list_devices(session: Session) -> list[Device]:
    return list(session.scalars(select(Device).order_by(Device.id)))


def delete_device(session: Session, device_id: int) -> None:
    """Remove a device (its token stops working; its tasks and records go with it)."""
    session.delete(get_device(session, device_id))


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
