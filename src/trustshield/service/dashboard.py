"""The dashboard SOC analysts use: server-rendered pages under ``/ui``, each with a JSON twin.

=====================  ==========================  ===========================
page                   shows (its /v1 equivalent)  needs (``PERMISSIONS``)
=====================  ==========================  ===========================
/ui/alerts             GET /v1/alerts              alerts.list
/ui/alerts/{id}        GET /v1/alerts/{id}         alerts.get (review: alerts.review)
/ui/incidents          GET /v1/incidents           incidents.list (and pages of
                                                   :mod:`~.incident_pages`)
/ui/reviews            GET /v1/reviews             reviews.list
/ui/drift              GET /v1/drift               drift.list
/ui/models             GET /v1/models              models.list
/ui/practices          GET /v1/practices           practices.list
/ui/audit              GET /v1/audit + /verify     audit.list
=====================  ==========================  ===========================

``/ui/reports/{id}`` shows a model's HTML trust report (``GET /v1/reports/{id}?format=html``,
``reports.get``). ``/ui/login`` signs in with a token (checked like the API's) and starts a
dashboard session whose secret, not the token, is kept in the HttpOnly cookie
:data:`~trustshield.service.access.COOKIE`; ``/ui/logout`` ends it (see
:mod:`trustshield.service.signin`). How pages are gated, twinned and protected against CSRF
is :mod:`trustshield.service.pages`. Reviews and picks call the same functions as ``POST
/v1/alerts/{id}/review`` and ``POST /v1/reviews``, so they are audited the same way
(``review.decide``, ``review.queue``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from trustshield.errors import DataError, TrustShieldError
from trustshield.model_folder import TrainedModel
from trustshield.service import (
    api_alerts,
    api_audit,
    api_drift,
    api_models,
    incident_pages,
    signin,
)
from trustshield.service.errors import ApiError
from trustshield.specs import spec_from_text
from trustshield.service.pages import (
    Format,
    error_page,
    first_problem,
    form_fields,
    form_gate,
    gate,
    page,
    page_again,
    status_of,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
BAD_FILTER = "{name} must be {expected}; got {value!r}"
PAGE_SIZE = 25
AUDIT_PAGE = 50
DRIFT_PAGE = 200
ACTIONS = ("alert", "review")
REVIEW_FILTERS = ("open", "confirmed", "dismissed", "none")


# --- signing in and out: trustshield.service.signin ----------------------------------------

router.include_router(signin.router)
router.include_router(incident_pages.router)  # /ui/incidents...: see incident_pages


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/alerts", status_code=303)


# --- alerts ------------------------------------------------------------------------------


#: the alert list's GET form: field → default (blank fields mean any)
ALERT_FORM = {
    "action": "",
    "category": "",
    "technique": "",
    "review_status": "",
    "min_suspicion": "",
    "since": "",
    "until": "",
    "ip": "",
    "src_ip": "",
    "dst_ip": "",
    "host": "",
    "port": "",
    "sort": "event_time",
    "order": "desc",
}
SORTS = {"event_time": "event time", "suspicion": "suspicion", "created_at": "stored time"}
HOUR = timedelta(hours=1)


def alert_filters(**form: str) -> api_alerts.ListQuery:
    """The alert list's GET form as the API's query (blank fields mean any); DataError
    naming the field when it holds something the API would refuse."""
    given = {name: (form.get(name) or "").strip() or None for name in ALERT_FORM}
    if given["action"] not in (None, *ACTIONS):
        raise DataError(
            BAD_FILTER.format(name="action", expected=" or ".join(ACTIONS), value=given["action"])
        )
    if given["review_status"] not in (None, *REVIEW_FILTERS):
        raise DataError(
            BAD_FILTER.format(
                name="review status",
                value=given["review_status"],
                expected=", ".join(REVIEW_FILTERS),
            )
        )
    if given["sort"] not in (None, *SORTS):
        raise DataError(
            BAD_FILTER.format(name="sort", expected=", ".join(SORTS), value=given["sort"])
        )
    if given["order"] not in (None, "desc", "asc"):
        raise DataError(
            BAD_FILTER.format(name="order", expected="desc or asc", value=given["order"])
        )
    query = {k: v for k, v in given.items() if k not in ("min_suspicion", "since", "until", "port")}
    query["sort"] = given["sort"] or "event_time"
    query["order"] = given["order"] or "desc"
    query["min_suspicion"] = _number("min suspicion", given["min_suspicion"], float)
    query["port"] = _number("port", given["port"], int)
    if query["port"] is not None and not 0 <= query["port"] <= 65535:
        raise DataError(BAD_FILTER.format(name="port", expected="0 to 65535", value=given["port"]))
    for name in ("since", "until"):
        query[name] = _moment(name, given[name])
    return api_alerts.ListQuery(**query)


def _number(name: str, text: str | None, kind):
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        expected = "a whole number" if kind is int else "a number"
        raise DataError(BAD_FILTER.format(name=name, expected=expected, value=text)) from None


def _moment(name: str, text: str | None) -> datetime | None:
    """An ISO 8601 date and time (``2024-05-01T12:00``; without a zone: UTC)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(
            BAD_FILTER.format(
                name=name, expected="a date and time such as 2024-05-01T12:00", value=text
            )
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class AlertsView(api_alerts.AlertPage):
    counts: api_alerts.AlertCounts


def hour_links(form: dict, hours: list[dict]) -> list[str]:
    """Per counted hour, the alert list's URL narrowed to that hour (other filters kept)."""
    links = []
    for bucket in hours:
        start = datetime.fromisoformat(bucket["value"]).astimezone(timezone.utc)
        links.append(
            "/ui/alerts?"
            + form_query(form, since=_form_time(start), until=_form_time(start + HOUR), offset="")
        )
    return links


def _form_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def form_query(form: dict, **more) -> str:
    """The alert list's query string of ``form`` with ``more`` replacing fields (blank
    fields and defaults left out)."""
    merged = {**form, **more}
    return urlencode(
        {
            k: v
            for k, v in merged.items()
            if v not in ("", None) and not (k in ALERT_FORM and ALERT_FORM[k] == v and v)
        }
    )


@router.get("/alerts")
def alerts_page(
    request: Request,
    action: str = Query("", max_length=20),
    category: str = Query("", max_length=100),
    technique: str = Query("", max_length=100),
    review_status: str = Query("", max_length=20),
    min_suspicion: str = Query("", max_length=40),
    since: str = Query("", max_length=40),
    until: str = Query("", max_length=40),
    ip: str = Query("", max_length=256),
    src_ip: str = Query("", max_length=256),
    dst_ip: str = Query("", max_length=256),
    host: str = Query("", max_length=256),
    port: str = Query("", max_length=10),
    sort: str = Query("event_time", max_length=20),
    order: str = Query("desc", max_length=4),
    offset: int = Query(0, ge=0, le=10**9),
    format: Format = "html",
) -> Response:
    form = {name: value for name, value in locals().items() if name in ALERT_FORM}

    def build(caller):
        query = alert_filters(**form)
        listed = api_alerts.list_alerts(
            request, query=query, limit=PAGE_SIZE, offset=offset, caller=caller
        )
        return {**listed, "counts": api_alerts.count_alerts(request, query=query, caller=caller)}

    return page(
        request,
        "alerts.list",
        "alerts.html",
        format,
        build,
        api="GET /v1/alerts and GET /v1/alerts/counts",
        model=AlertsView,
        form=form,
        actions=ACTIONS,
        review_filters=REVIEW_FILTERS,
        sorts=SORTS,
        form_query=form_query,
        hour_links=hour_links,
    )


def technique_name(context, model_id: str, technique: str | None) -> str | None:
    """The ATT&CK technique's name from the spec of the model that raised the alert."""
    if not technique:
        return None
    model = context.model
    if isinstance(model, TrainedModel) and model.model_id == model_id:
        return model.spec.technique_names.get(technique)
    try:
        folder = context.model_folder(model_id)
        spec = spec_from_text((folder / "spec.yaml").read_text(encoding="utf-8"), str(folder))
    except (OSError, TrustShieldError):
        return None
    return spec.technique_names.get(technique)


class AlertView(api_alerts.AlertDetail):
    technique_name: str | None


class AuditView(api_audit.AuditPage):
    chain: api_audit.ChainReport
    after: int


def alert_data(context, alert_id: str) -> dict:
    """What ``GET /v1/alerts/{id}`` returns, plus ``technique_name``."""
    detail = api_alerts.alert_detail(context, alert_id)
    detail["technique_name"] = technique_name(context, detail["model_id"], detail["technique"])
    return detail


@router.get("/alerts/{alert_id}")
def alert_page(
    alert_id: str, request: Request, notice: str = Query("", max_length=40), format: Format = "html"
) -> Response:
    return page(
        request,
        "alerts.get",
        "alert.html",
        format,
        lambda caller: alert_data(request.app.state.context, alert_id),
        api=f"GET /v1/alerts/{alert_id}",
        model=AlertView,
        notice=notice,
        error="",
    )


def _alert_action(request: Request, alert_id: str, form: dict, act) -> Response:
    """Run ``act(caller)`` for a POSTed alert form after the role and CSRF checks; redirect
    back with a notice, or show the alert with what went wrong."""
    caller = form_gate(request, "alerts.review", form)
    if isinstance(caller, Response):
        return caller
    try:
        notice = act(caller)
    except ValidationError as exc:
        return _alert_again(request, caller, alert_id, 422, first_problem(exc))
    except TrustShieldError as exc:
        return _alert_again(request, caller, alert_id, status_of(exc), str(exc))
    return RedirectResponse(
        f"/ui/alerts/{quote(alert_id, safe='')}?notice={notice}", status_code=303
    )


def _alert_again(request, caller, alert_id: str, status: int, error: str) -> Response:
    """The alert page with ``error``; a store refusal about an alert that exists (already
    queued) is a conflict (409), not a 404."""
    return page_again(
        request,
        caller,
        "alert.html",
        lambda: alert_data(request.app.state.context, alert_id),
        AlertView,
        api=f"GET /v1/alerts/{alert_id}",
        status=409 if status == 404 else status,
        error=error,
    )


@router.post("/alerts/{alert_id}/review")
def review_alert(alert_id: str, request: Request, form: dict = Depends(form_fields)) -> Response:
    def act(caller):
        decision = api_alerts.ReviewDecision(
            outcome=form.get("outcome", ""), comment=form.get("comment", "").strip()
        )
        return api_alerts.review_alert(alert_id, decision, request, caller)["status"]

    return _alert_action(request, alert_id, form, act)


@router.post("/alerts/{alert_id}/queue")
def queue_alert(alert_id: str, request: Request, form: dict = Depends(form_fields)) -> Response:
    def act(caller):
        pick = api_alerts.ReviewPick(alert_id=alert_id, note=form.get("note", "").strip())
        api_alerts.pick_review(pick, request, caller)
        return "queued"

    return _alert_action(request, alert_id, form, act)


# --- reviews, models, practices, audit ----------------------------------------------------


@router.get("/reviews")
def reviews_page(
    request: Request,
    status: Literal["open", "confirmed", "dismissed", "all"] = "open",
    offset: int = Query(0, ge=0, le=10**9),
    format: Format = "html",
) -> Response:
    def build(caller):
        return api_alerts.list_reviews(
            request,
            status=None if status == "all" else status,
            limit=PAGE_SIZE,
            offset=offset,
            caller=caller,
        )

    return page(
        request,
        "reviews.list",
        "reviews.html",
        format,
        build,
        api="GET /v1/reviews",
        model=api_alerts.ReviewPage,
        shown=status,
    )


@router.get("/drift")
def drift_page(
    request: Request,
    model_id: str = Query("", max_length=100),
    level: Literal["", "none", "moderate", "major"] = "",
    format: Format = "html",
) -> Response:
    return page(
        request,
        "drift.list",
        "drift.html",
        format,
        lambda caller: api_drift.drift_windows(
            request.app.state.context, model_id or None, level or None, DRIFT_PAGE
        ),
        api="GET /v1/drift",
        model=api_drift.DriftPage,
        form={"model_id": model_id, "level": level},
    )


@router.get("/models")
def models_page(request: Request, format: Format = "html") -> Response:
    return page(
        request,
        "models.list",
        "models.html",
        format,
        lambda caller: api_models.model_list(request.app.state.context),
        api="GET /v1/models",
        model=api_models.ModelList,
    )


@router.get("/reports/{model_id}")
def report_page(model_id: str, request: Request) -> Response:
    caller = gate(request, "reports.get")
    if isinstance(caller, Response):
        return caller
    try:
        return api_models.get_report(model_id, request, "html", caller)
    except ApiError as exc:
        return error_page(request, caller, exc.status, exc.message)


@router.get("/practices")
def practices_page(request: Request, format: Format = "html") -> Response:
    return page(
        request,
        "practices.list",
        "practices.html",
        format,
        lambda caller: api_models.practices_status(request.app.state.context),
        api="GET /v1/practices",
    )


@router.get("/audit")
def audit_page(
    request: Request, after: int | None = Query(None, ge=0, le=2**62), format: Format = "html"
) -> Response:
    def build(caller):
        chain = api_audit.verify_audit(request, caller)
        start = max(0, chain["events"] - AUDIT_PAGE) if after is None else after
        listed = api_audit.list_audit(
            request, action=None, subject=None, after=start, limit=AUDIT_PAGE, caller=caller
        )
        return {"chain": chain, "after": start, **listed}

    return page(
        request,
        "audit.list",
        "audit.html",
        format,
        build,
        model=AuditView,
        api="GET /v1/audit and GET /v1/audit/verify",
        page_size=AUDIT_PAGE,
    )
