"""Errors of the latency package beyond the service-wide ones (``edgenas.errors``)."""

from __future__ import annotations

from edgenas.errors import InvalidRequestError


class PredictorError(InvalidRequestError):
    """Measurements a latency predictor cannot be fitted on (too few, not positive)."""
