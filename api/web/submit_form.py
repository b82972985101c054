"""The submit form: the common fields of a job spec, and a YAML/JSON box for the rest.

The form becomes the same JSON a client would post, parsed by the same ``JobSpec`` and queued
by the same ``queue_job`` as ``POST /v1/jobs``; its 422 details come back keyed by the form
field they belong to, so each appears beside its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from api.server.deps import Database
from api.server.errors import validation_details
from api.server.routes.jobs import queue_job
from api.server.settings import Settings
from api.server.web_sessions import CSRF_FIELD
from edgenas.callers import Caller
from edgenas.errors import InvalidRequestError, ServiceError
from latency.devices import list_devices
from space import SpaceError
from space.presets import SPACE_PRESETS
from workers.datasets import list_datasets
from workers.spec import JobSpec

BUNDLED_DATA = "mnist5k"
MAX_EXTRA_CHARS = 20_000
# the spec field each form field fills; an error on any other field goes beside the box
FORM_FIELDS = {
    "name": "name",
    "space": "space",
    "data": "data",
    "devices": "devices",
    "objective.mode": "mode",
    "objective.targets_ms": "target_ms",
    "constraints.max_latency_ms": "max_latency_ms",
    "budget.trials": "trials",
}


class SubmitForm(BaseModel):
    """What the form posts, as typed text (the spec's own rules judge the values)."""

    model_config = ConfigDict(populate_by_name=True)

    csrf_token: str = Field("", alias=CSRF_FIELD, max_length=200)
    name: str = Field("", max_length=1000)
    space: str = Field("mnasnet", max_length=1000)
    data: str = Field(BUNDLED_DATA, max_length=1000)
    devices: list[str] = Field(default_factory=list, max_length=100)
    mode: str = Field("pareto", max_length=100)
    target_ms: str = Field("", max_length=100)
    max_latency_ms: str = Field("", max_length=100)
    trials: str = Field("20", max_length=100)
    extra: str = Field("", max_length=MAX_EXTRA_CHARS)


@dataclass(frozen=True)
class SubmitChoices:
    spaces: list[str]
    data: list[str]
    devices: list[str]


def submit_choices(session: Session, caller: Caller) -> SubmitChoices:
    """What the form offers: shipped spaces, the caller's data sets and usable devices."""
    return SubmitChoices(
        spaces=sorted(SPACE_PRESETS),
        data=[BUNDLED_DATA, *(d.name for d in list_datasets(session, caller))],
        devices=[d.name for d in list_devices(session, caller)],
    )


def spec_of(form: SubmitForm) -> dict[str, Any]:
    """The JSON body the form stands for: its fields, then the box deep-merged over them."""
    spec: dict[str, Any] = {
        "space": form.space,
        "data": form.data,
        "devices": form.devices,
        "objective": {"mode": form.mode},
        "budget": {"trials": _number(form.trials)},
    }
    if form.name.strip():
        spec["name"] = form.name.strip()
    if form.target_ms.strip():
        target = _number(form.target_ms)
        spec["objective"]["targets_ms"] = {device: target for device in form.devices}
    if form.max_latency_ms.strip():
        bound = _number(form.max_latency_ms)
        spec["constraints"] = {"max_latency_ms": {device: bound for device in form.devices}}
    return _merge(spec, _extra(form.extra))


def _number(text: str) -> Any:
    """A number where the text is one; otherwise the text, for the spec's rule to refuse."""
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            continue
    return text


def _extra(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        found = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise FormError("extra", f"not YAML or JSON: {exc}") from None
    if not isinstance(found, dict):
        raise FormError("extra", "must be a mapping of spec fields, such as 'seed: 1'")
    return found


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class FormError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def form_field(spec_field: str) -> str:
    """The form field an error on ``spec_field`` (a dotted path) belongs beside."""
    for prefix, name in FORM_FIELDS.items():
        if spec_field == prefix or spec_field.startswith(prefix + "."):
            return name
    return "extra"


async def submit_from_form(
    form: SubmitForm, db: Database, settings: Settings, caller: Caller
) -> tuple[int | None, dict[str, list[str]]]:
    """The new job's id, or the errors per form field (the API's messages)."""
    errors: dict[str, list[str]] = {}
    try:
        submitted = spec_of(form)
        try:
            spec = JobSpec.model_validate(submitted)
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        job = await queue_job(spec, submitted, db, settings, caller)
        return job.id, errors
    except FormError as exc:
        errors.setdefault(exc.field, []).append(str(exc))
    except RequestValidationError as exc:
        for detail in validation_details(exc.errors()):
            errors.setdefault(form_field(detail["field"]), []).append(detail["message"])
    except (InvalidRequestError, SpaceError) as exc:
        field = getattr(exc, "field", None) or str(exc).partition(":")[0]
        errors.setdefault(form_field(field), []).append(str(exc))
    except ServiceError as exc:  # a quota, a busy device: about the request as a whole
        errors.setdefault("form", []).append(str(exc))
    return None, errors
