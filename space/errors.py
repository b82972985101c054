"""Errors of the space package: every one is a ``ValueError`` that names the field at fault."""

from __future__ import annotations


class SpaceError(ValueError):
    """Base class: something about an architecture or a search space is not valid."""


class ArchError(SpaceError):
    """An architecture string or value is malformed or describes an impossible network.

    ``field`` names what is wrong (``"r"``, ``"layer 3 (ir) g"``, ...) and ``value`` the offending
    value, so callers (the REST API, the CLI) can point at it without parsing the message.
    """

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


class SearchSpaceError(SpaceError):
    """A search space definition or an assignment of its dimensions is not valid."""


class UnknownPresetError(SpaceError):
    """A preset name (reference architecture or search space) that does not exist."""
