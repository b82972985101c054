"""Service-wide errors: what any package raises when a request cannot be served, and what the
server maps to an HTTP status (``api.server.errors``). Each package keeps its own narrower
errors (``space.SpaceError``, ``latency.errors.PredictorError``, ``workers.spec.SpecError``)
as subclasses or beside these."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of the errors a request can meet."""


class NotFoundError(ServiceError):
    """No such object, or not one the caller may see (404)."""


class ForbiddenError(ServiceError):
    """The caller may see the object but not do this to it: another user's shared device
    (403). An object the caller may not see at all is a ``NotFoundError``."""


class ConflictError(ServiceError):
    """The request clashes with the current state: a taken name, a task no longer leased (409)."""


class InvalidRequestError(ServiceError, ValueError):
    """Well-formed but unusable input (422)."""


class QuotaExceededError(ServiceError):
    """The caller used up a quota or a rate limit (429); ``retry_after`` says in how many
    seconds a retry may succeed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
