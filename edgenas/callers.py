"""Who a request acts for, and the ownership rule every package applies with it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The user a request acts for; an admin sees and manages every user's objects."""

    user_id: int | None  # None: local development without keys, or the service itself
    name: str
    admin: bool

    def owns(self, owner_id: int | None) -> bool:
        """Whether an object with this owner is the caller's to see and change. Objects
        without an owner (made by the service itself, or before users existed) are admins'."""
        return self.admin or (owner_id is not None and owner_id == self.user_id)


LOCAL_DEVELOPER = Caller(user_id=None, name="local-dev", admin=True)
SERVICE = Caller(user_id=None, name="service", admin=True)  # the server's own processes
