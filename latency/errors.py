"""Errors of the latency package, mapped to HTTP statuses by the server."""

from __future__ import annotations


class LatencyError(Exception):
    """Base class."""


class NotFoundError(LatencyError):
    """No such device or task, or not one the caller may see (404)."""


class ConflictError(LatencyError):
    """The request clashes with the current state: a taken name, a task no longer leased (409)."""


class InvalidRequestError(LatencyError, ValueError):
    """Well-formed but unusable input (422)."""


class PredictorError(InvalidRequestError):
    """Measurements a latency predictor cannot be fitted on (too few, not positive)."""
