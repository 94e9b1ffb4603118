"""How the dashboard serves a page: who may see it, its JSON twin, CSRF tokens, the layout.

A page shows what a ``/v1`` endpoint returns and needs the same
:data:`~trustshield.service.access.PERMISSIONS` entry. :func:`page` answers either the
rendered page or its JSON twin (``?format=json``, answered exactly like the API, errors
included). A page request without a live dashboard session (or a bearer token) is
redirected to ``/ui/login``; one whose roles are not allowed gets 403 rendered in the page
layout, as do other failures. Role and CSRF refusals are noted as refusals (audited).

A query parameter the page does not take is refused with 422 naming it (in the page layout,
or as the API's JSON error for the twin; :mod:`trustshield.service.query_check`).

CSRF: every form that POSTs carries :func:`csrf_token` of the session's secret (the
sign-in form: of a nonce cookie), a hex HMAC-SHA256 under a key drawn when the process
starts, so tokens stop working when the service restarts. Templates are Jinja2 with
autoescaping on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlencode

import jinja2
from markupsafe import Markup
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from trustshield.errors import TrustShieldError
from trustshield.pipeline.report_sections import ATTRIBUTION_UNIT
from trustshield.report import svg
from trustshield.service import access
from trustshield.service.access import PERMISSIONS, Caller
from trustshield.service.errors import STATUS_OF, ApiError, public_message
from trustshield.service.query_check import unknown_query

Format = Literal["html", "json"]
CSRF_FIELD = "csrf"
CSRF_REFUSED = "the form's CSRF token is missing or wrong: reload the page and submit it again"
FORM_TOO_LARGE = "the form is {size} bytes; at most {limit} bytes are accepted"
NEEDS_ROLE = "This page needs one of the roles {needed}; your token holds {held}."
MAX_FORM_BYTES = 16_384
NOTICES = {
    "dismissed": "Review recorded: dismissed.",
    "confirmed": "Review recorded: confirmed.",
    "queued": "Queued for review.",
    "signed-out": "Signed out.",
}
#: (label, page URL, the permission it needs) in the top navigation
NAV = (
    ("Alerts", "/ui/alerts", "alerts.list"),
    ("Incidents", "/ui/incidents", "incidents.list"),
    ("Reviews", "/ui/reviews", "reviews.list"),
    ("Models", "/ui/models", "models.list"),
    ("Drift", "/ui/drift", "drift.list"),
    ("Practices", "/ui/practices", "practices.list"),
    ("Audit", "/ui/audit", "audit.list"),
)

_CSRF_KEY = secrets.token_bytes(32)
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(
    column_chart=lambda labels, values, title, links=None: Markup(
        svg.column_chart(labels, values, title=title, links=links)
    ),
    attribution_chart=lambda alert_id, base, attributions: Markup(
        svg.attribution_chart(
            base, attributions, title=svg.attribution_title(alert_id), unit=ATTRIBUTION_UNIT
        )
    ),
    incident_attributions=lambda incident_id, base, attributions: Markup(
        svg.attribution_chart(
            base,
            [
                {"feature": name, "value": "window", "contribution": value}
                for name, value in attributions.items()
            ],
            title=f"Why incident {incident_id} was raised: contributions to the suspicion of "
            "its first flagged behaviour",
            unit="suspicion",
        )
    ),
    incident_timeline=lambda timeline, host: Markup(incident_timeline(timeline, host)),
    interval_histogram=lambda histogram: Markup(interval_histogram(histogram)),
    notices=NOTICES,
    csrf_field=CSRF_FIELD,
    may=lambda caller, endpoint: caller is not None and bool(caller.roles & PERMISSIONS[endpoint]),
    query=lambda params, **more: urlencode(
        {k: v for k, v in {**params, **more}.items() if v not in ("", None)}
    ),
)
_templates.filters.update(
    num=lambda v: "–" if v is None else f"{float(v):.6g}",
    signed=lambda v: f"{float(v):+.4g}",
    when=lambda v: "–" if v is None else str(v)[:19].replace("T", " "),
    hour=lambda v: str(v)[5:16].replace("T", " "),
    compact=lambda v: json.dumps(v, sort_keys=True, default=str, ensure_ascii=False)[:400],
    entity=lambda value, field: entity_text(field, value),
)


def entity_text(field: str, value) -> str:
    """An alert entity as a page shows it: ``ts`` (seconds since the epoch) as a UTC time."""
    if field == "ts":
        when = datetime.fromtimestamp(float(value), timezone.utc)
        return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    return str(value)


def incident_timeline(timeline: dict, host: str) -> str:
    """SVG: the host's connections per time bucket, evidence flows in red."""
    start, width = float(timeline["start"]), float(timeline["width_s"])
    labels = [
        datetime.fromtimestamp(start + i * width, timezone.utc).strftime("%m-%d %H:%M:%S")
        for i in range(len(timeline["total"]))
    ]
    return svg.timeline_chart(
        labels,
        timeline["total"],
        timeline["evidence"],
        title=f"Connections of {host} over the incident (UTC, {width:g} s per column); "
        "evidence flows in red",
    )


def interval_histogram(histogram: dict) -> str:
    """SVG: seconds between a beacon's consecutive evidence flows."""
    edges = histogram["edges"]
    labels = [f"{lo:.3g}–{hi:.3g} s" for lo, hi in zip(edges[:-1], edges[1:])]
    return svg.column_chart(
        labels,
        histogram["counts"],
        title=f"Intervals between connections of {histogram['channel']} "
        f"(median {histogram['median_s']:.3g} s)",
    )


def csrf_token(secret: str) -> str:
    """The CSRF token bound to ``secret`` (a session's secret or a sign-in nonce)."""
    return hmac.new(_CSRF_KEY, secret.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str | None, presented: str | None) -> bool:
    """True when ``presented`` is the CSRF token of ``secret`` (constant-time compare)."""
    if not (secret and presented):
        return False
    return hmac.compare_digest(csrf_token(secret).encode(), presented.encode())


async def form_fields(request: Request) -> dict[str, str]:
    """The POSTed urlencoded form as {field: first value}; 413 beyond MAX_FORM_BYTES."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, FORM_TOO_LARGE.format(size=len(body), limit=MAX_FORM_BYTES))
    pairs = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in pairs.items()}


def render(
    request: Request,
    template: str,
    caller: Caller | None,
    *,
    status: int = 200,
    api: str | None = None,
    **data,
) -> HTMLResponse:
    """A page in the common layout; the navigation lists only pages ``caller`` may open;
    ``api`` names the /v1 endpoint the page shows."""
    nav = [
        (label, url)
        for label, url, endpoint in NAV
        if caller is not None and caller.roles & PERMISSIONS[endpoint]
    ]
    session = access.session_secret(request) if caller is not None else None
    html = _templates.get_template(template).render(
        request=request,
        caller=caller,
        nav=nav,
        path=request.url.path,
        api=api,
        csrf=csrf_token(session) if session else "",
        json_url=_relative(request.url.include_query_params(format="json")),
        **data,
    )
    return HTMLResponse(html, status_code=status)


def _relative(url) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


def error_page(request: Request, caller: Caller | None, status: int, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        caller,
        status=status,
        status_code=status,
        message=public_message(request, message),
    )


def identify(request: Request, endpoint: str = "ui.page") -> Caller | None:
    """The caller of this request (dashboard session or bearer token); None without one or
    with a bad one (a bad one is noted as a refusal of ``endpoint``)."""
    try:
        return access.authenticate(request, endpoint, note_anonymous=False)
    except ApiError:
        return None


def refuse_csrf(request: Request, caller: Caller | None, endpoint: str) -> HTMLResponse:
    """The 403 page for a form without its CSRF token, noted as a refusal."""
    access.note_refusal(request, "csrf", 403, endpoint, caller.token_id if caller else None)
    return error_page(request, caller, 403, CSRF_REFUSED)


def to_login(request: Request) -> RedirectResponse:
    """Send the browser to sign in, coming back to this page afterwards."""
    target = _relative(request.url)
    return RedirectResponse("/ui/login?" + urlencode({"next": target}), status_code=303)


def gate(request: Request, endpoint: str) -> Caller | Response:
    """The caller when allowed ``endpoint``; else the redirect to sign in or a 403 page."""
    caller = identify(request, endpoint)
    if caller is None:
        return to_login(request)
    allowed = PERMISSIONS[endpoint]
    if not caller.roles & allowed:
        access.note_refusal(request, "forbidden", 403, endpoint, caller.token_id)
        return error_page(
            request,
            caller,
            403,
            NEEDS_ROLE.format(
                needed=", ".join(sorted(allowed)), held=", ".join(sorted(caller.roles))
            ),
        )
    return caller


def form_gate(request: Request, endpoint: str, form: dict) -> Caller | Response:
    """:func:`gate` for a POSTed dashboard form: the caller when allowed ``endpoint`` and
    the form carries the session's CSRF token; else the sign-in redirect or a 403 page."""
    caller = gate(request, endpoint)
    if isinstance(caller, Response):
        return caller
    if not csrf_ok(access.session_secret(request), form.get(CSRF_FIELD)):
        return refuse_csrf(request, caller, endpoint)
    return caller


def first_problem(exc: ValidationError) -> str:
    """The first thing wrong with a form, as ``field: what``."""
    problem = exc.errors()[0]
    field = ".".join(str(p) for p in problem.get("loc", ()))
    return f"{field}: {problem.get('msg', 'not valid')}"


def page_again(
    request: Request,
    caller: Caller,
    template: str,
    load,
    model: type[BaseModel],
    *,
    api: str,
    status: int,
    error: str,
) -> Response:
    """A detail page shown again after a refused form: ``load()`` (through ``model``) with
    ``error`` and ``status``; the error page when it cannot be loaded."""
    try:
        data = load()
    except TrustShieldError as exc:
        return error_page(request, caller, status_of(exc), str(exc))
    return render(
        request,
        template,
        caller,
        status=status,
        data=as_json(data, model),
        notice="",
        error=error,
        api=api,
    )


def page(
    request: Request,
    endpoint: str,
    template: str,
    fmt: Format,
    build,
    *,
    api: str,
    model: type[BaseModel] | None = None,
    **extra,
) -> Response:
    """The page or its JSON twin of ``build(caller)``, the data both show, serialised
    through ``model`` (the API's response model) exactly as the API serialises it."""
    refusal = unknown_query(request)  # a parameter the page does not take: 422, never ignored
    if fmt == "json":
        caller = access.authorise(request, endpoint)  # 401/403 exactly as the API answers
        if refusal is not None:
            raise refusal
        return JSONResponse(as_json(build(caller), model))
    caller = gate(request, endpoint)
    if isinstance(caller, Response):
        return caller
    if refusal is not None:
        return error_page(request, caller, refusal.status, refusal.message)
    try:
        data = as_json(build(caller), model)
    except (ApiError, TrustShieldError) as exc:
        return error_page(request, caller, status_of(exc), str(exc))
    return render(request, template, caller, data=data, api=api, **extra)


def as_json(data, model: type[BaseModel] | None = None):
    """``data`` as JSON values, through ``model`` when given (as FastAPI's response_model)."""
    if model is None:
        return jsonable_encoder(data)
    return model.model_validate(data).model_dump(mode="json")


def status_of(exc: Exception) -> int:
    """The HTTP status the API answers for ``exc``."""
    if isinstance(exc, ApiError):
        return exc.status
    return next(status for kind, status, _ in STATUS_OF if isinstance(exc, kind))


def local_target(target: str | None) -> str:
    """``target`` when it is a dashboard path (no open redirects), else the alert list."""
    if target and target.startswith("/ui/") and "\\" not in target and "//" not in target:
        return target
    return "/ui/alerts"
