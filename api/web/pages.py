"""The web UI's pages: server-rendered templates over the same queries as the REST routes.

Pages read; what changes something (cancel, calibrate) is a call to the REST API from the
page's script, with the session's CSRF token. Parts of a page that change while a job runs
(``?part=NAME``) are served alone, and the script swaps them in without a reload.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.server.deps import (
    DatabaseDep,
    ObjectId,
    PredictorsDep,
    SettingsDep,
    StudyStorageDep,
    WebSessionDep,
)
from api.server.schemas import JobOut
from api.server.settings import Settings
from api.server.web_sessions import COOKIE, CSRF_FIELD, sign_in, sign_out
from api.web.auth import (
    SIGN_IN_COOKIE,
    PageUser,
    PageUserDep,
    new_sign_in_token,
    safe_next,
    set_cookie,
    start_session_cookie,
)
from api.web.submit_form import SubmitForm, submit_choices, submit_from_form
from api.web.views import (
    MAX_COMPARED,
    MIN_COMPARED,
    JobView,
    compare_view,
    device_rows,
    job_figures,
    job_view,
    trial_view,
)
from edgenas.callers import Caller
from edgenas.errors import InvalidRequestError, NotFoundError
from search.study import MAX_TRIALS
from workers.jobs import list_jobs
from workers.tables import JobState

TEMPLATES = Jinja2Templates(directory=FilePath(__file__).parent / "templates")
JOBS_SHOWN = 100
# no framing (a cancel button under another site's overlay), no sniffing, no leaked paths
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
FINAL_HEADER = "X-Final"  # on a part that will not change again: the page stops refreshing it
router = APIRouter(include_in_schema=False)


def render(
    request: Request, template: str, user: PageUser | None, status: int = 200, **context: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template, {"user": user, **context}, status_code=status, headers=PAGE_HEADERS
    )


def error_page(request: Request, status: int, message: str) -> Response:
    """Any error a page meets, as a page (another user's job is a 404 here as in the API)."""
    return render(request, "error.html", None, status, status_code=status, message=message)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/jobs", status_code=303)


@router.get("/signin")
async def sign_in_page(
    request: Request, settings: SettingsDep, next: str | None = None
) -> HTMLResponse:
    return _sign_in_form(request, settings, next)


@router.post("/signin")
async def sign_in_submit(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    api_key: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/jobs",
) -> Response:
    """Sign in with an API key; the browser gets a session cookie, never the key."""
    expected = request.cookies.get(SIGN_IN_COOKIE)
    if not expected or expected != csrf_token:
        return _sign_in_form(request, settings, next, "The sign-in form expired: try again.")
    token = await db.run(
        lambda s: sign_in(s, api_key.strip(), timedelta(hours=settings.web_session_hours))
    )
    if token is None:
        return _sign_in_form(request, settings, next, "Unknown or revoked API key.")
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session_cookie(response, token, settings)
    return response


def _sign_in_form(
    request: Request, settings: Settings, next: str | None, error: str | None = None
) -> HTMLResponse:
    """The sign-in page with a fresh form token (also in a cookie: the post must match it)."""
    token = new_sign_in_token()
    status = 200 if error is None else 401
    context = {"csrf_token": token, "next": safe_next(next), "error": error}
    page = render(request, "signin.html", None, status, **context)
    set_cookie(page, SIGN_IN_COOKIE, token, settings, hours=1)
    return page


@router.post("/signout")
async def sign_out_submit(
    request: Request,
    db: DatabaseDep,
    browser: WebSessionDep,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)],
) -> Response:
    """End the session on the server; the cookie is cleared too."""
    token = request.cookies.get(COOKIE)
    if browser is None or token is None or not browser.csrf_matches(csrf_token):
        return RedirectResponse("/signin", status_code=303)
    await db.run(lambda s: sign_out(s, token))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/jobs")
async def jobs_page(
    request: Request,
    db: DatabaseDep,
    user: PageUserDep,
    state: JobState | None = None,
    part: str | None = None,
) -> HTMLResponse:
    """The user's jobs, newest first, optionally of one state; progress refreshes live."""
    jobs, total = await db.run(lambda s: _jobs(s, user.caller, state))
    template = "_job_rows.html" if part == "rows" else "jobs.html"
    states = [s.value for s in JobState]
    return render(request, template, user, jobs=jobs, total=total, state=state, states=states)


def _jobs(session: Session, caller: Caller, state: JobState | None) -> tuple[list[JobOut], int]:
    jobs, total = list_jobs(session, caller, state, 0, JOBS_SHOWN)
    return [JobOut.model_validate(j) for j in jobs], total


async def _job(db: DatabaseDep, storage: StudyStorageDep, user: PageUser, job_id: int) -> JobView:
    return await db.run(lambda s: job_view(s, storage, job_id, user.caller))


@router.get("/jobs/{job_id}")
async def job_page(
    request: Request,
    job_id: ObjectId,
    db: DatabaseDep,
    storage: StudyStorageDep,
    user: PageUserDep,
    part: str | None = None,
) -> HTMLResponse:
    """A job: its progress, plots, trial table, compare and cancel."""
    view = await _job(db, storage, user, job_id)
    template = {"summary": "_job_summary.html", "trials": "_trial_rows.html"}.get(
        part or "", "job.html"
    )
    page = render(request, template, user, view=view, job=view.job)
    if view.finished:
        page.headers[FINAL_HEADER] = "1"
    return page


@router.get("/jobs/{job_id}/figures.json")
async def job_figures_json(
    job_id: ObjectId, db: DatabaseDep, storage: StudyStorageDep, user: PageUserDep
) -> JSONResponse:
    """The job page's plots as Plotly figures, and whether they can still change."""

    def work(session: Session) -> dict[str, Any]:
        view = job_view(session, storage, job_id, user.caller)
        return {"final": view.finished, "figures": job_figures(session, view)}

    return JSONResponse(await db.run(work))


@router.get("/jobs/{job_id}/compare")
async def compare_page(
    request: Request,
    job_id: ObjectId,
    db: DatabaseDep,
    storage: StudyStorageDep,
    user: PageUserDep,
    trials: Annotated[list[int], Query(max_length=MAX_COMPARED * 4)] = [],  # noqa: B006
) -> HTMLResponse:
    """Two to five trials side by side."""
    view = await _job(db, storage, user, job_id)
    compared = compare_view(view, trials)
    if not MIN_COMPARED <= len(compared.trials) <= MAX_COMPARED:
        raise InvalidRequestError(
            f"trials: choose {MIN_COMPARED} to {MAX_COMPARED} trials of job {job_id} "
            f"to compare ({len(compared.trials)} chosen)"
        )
    return render(request, "compare.html", user, view=view, job=view.job, compared=compared)


@router.get("/jobs/{job_id}/trials/{number}")
async def trial_page(
    request: Request,
    job_id: ObjectId,
    number: Annotated[int, Path(ge=0, le=MAX_TRIALS)],
    db: DatabaseDep,
    storage: StudyStorageDep,
    user: PageUserDep,
) -> HTMLResponse:
    """One trial: layers, curve, latency per device with provenance, downloads."""

    def work(session: Session) -> Any:
        found = trial_view(session, job_view(session, storage, job_id, user.caller), number)
        if found is None:
            raise NotFoundError(f"job {job_id} has no trial {number}")
        return found

    view = await db.run(work)
    return render(request, "trial.html", user, view=view, job=view.job)


@router.get("/devices")
async def devices_page(
    request: Request,
    db: DatabaseDep,
    predictors: PredictorsDep,
    settings: SettingsDep,
    user: PageUserDep,
    part: str | None = None,
) -> HTMLResponse:
    """The user's devices: online state, queue, predictor quality, calibrate, register."""
    rows = await db.run(lambda s: device_rows(s, predictors, user.caller))
    template = "_device_rows.html" if part == "devices" else "devices.html"
    server = str(request.base_url).rstrip("/")
    return render(request, template, user, rows=rows, server=server)


@router.get("/submit")
async def submit_page(request: Request, db: DatabaseDep, user: PageUserDep) -> HTMLResponse:
    choices = await db.run(lambda s: submit_choices(s, user.caller))
    return render(request, "submit.html", user, form=SubmitForm(), errors={}, choices=choices)


@router.post("/submit")
async def submit_post(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    user: PageUserDep,
    form: Annotated[SubmitForm, Form()],
) -> Response:
    """Queue a job from the form; the API's validation errors come back beside their fields."""
    if not user.csrf_token or form.csrf_token != user.csrf_token:
        return error_page(request, 403, "the form's CSRF token is missing or wrong: reload")
    job_id, errors = await submit_from_form(form, db, settings, user.caller)
    if job_id is not None:
        return RedirectResponse(f"/jobs/{job_id}", status_code=303)
    choices = await db.run(lambda s: submit_choices(s, user.caller))
    return render(request, "submit.html", user, 422, form=form, errors=errors, choices=choices)


@router.get("/static/plotly.min.js")
async def plotly_js() -> Response:
    """plotly.js from the installed ``plotly`` package: no CDN, works offline."""
    return Response(
        await run_in_threadpool(_plotly_js),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
