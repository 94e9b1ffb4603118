"""Signing in to the dashboard and out again: ``/ui/login`` and ``/ui/logout``.

Signing in checks the pasted API token exactly as the API does (failed-attempt limits
included) and starts a dashboard session (:mod:`trustshield.store.sessions`, audited
``session.start``): the cookie :data:`~trustshield.service.access.COOKIE` holds the
session's random secret, never the token (HttpOnly, SameSite=Strict, Path=/ui, Secure over
https). The session lasts at most ``session_lifetime_s`` and ends after ``session_idle_s``
unused; signing out deletes it (``session.end``), and revoking the token ends it too.
Failed sign-ins and CSRF refusals are noted as refusals (``access.refused``). The sign-in
form's CSRF token binds a nonce cookie (:data:`LOGIN_COOKIE`), every later form the session.
"""

from __future__ import annotations

import math
import secrets

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustshield.service import access
from trustshield.service.access import COOKIE
from trustshield.service.attempts import AttemptRefused
from trustshield.service.pages import (
    CSRF_FIELD,
    CSRF_REFUSED,
    csrf_ok,
    csrf_token,
    form_fields,
    identify,
    local_target,
    refuse_csrf,
    render,
    to_login,
)
from trustshield.store.tokens import BadToken

router = APIRouter()
LOGIN_COOKIE = "trustshield_login"  # the sign-in form's nonce, which its CSRF token binds
LEGACY_COOKIE = "trustshield_token"  # held the API token itself before sessions: cleared
SIGN_IN_FAILED = "that token is malformed, unknown, revoked or wrong; paste the whole token"


@router.get("/login")
def login_form(
    request: Request,
    next: str = Query("/ui/alerts", max_length=2000),
    notice: str = Query("", max_length=40),
) -> HTMLResponse:
    return _login_page(request, next, notice=notice)


def _login_page(
    request: Request,
    target: str,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
    headers: dict | None = None,
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status=status,
        target=local_target(target),
        login_csrf=csrf_token(nonce),
        notice=notice,
        error=error,
        limits=request.app.state.context.sessions.limits,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        path="/ui/login",
        secure=request.url.scheme == "https",
    )
    response.headers.update(headers or {})
    return response


@router.post("/login")
def login(request: Request, form: dict = Depends(form_fields)) -> Response:
    target = local_target(form.get("next"))
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE), form.get(CSRF_FIELD)):
        access.note_refusal(request, "csrf", 403, "ui.login")
        return _login_page(request, target, error=CSRF_REFUSED, status=403)
    context = request.app.state.context
    try:
        caller = context.token_check.caller(
            form.get("token", "").strip(), access.client_address(request)
        )
    except BadToken as exc:
        access.note_refusal(request, "sign_in_failed", 401, "ui.login", exc.token_id)
        return _login_page(request, target, error=SIGN_IN_FAILED, status=401)
    except AttemptRefused as exc:
        access.note_refusal(request, exc.reason.replace(" ", "_"), exc.status, "ui.login")
        return _login_page(
            request,
            target,
            error=str(exc),
            status=exc.status,
            headers={"Retry-After": str(math.ceil(exc.retry_after_s))},
        )
    with context.write(caller.actor):
        secret, _ = context.sessions.start(caller.token_id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="strict",
        path=access.DASHBOARD_PREFIX,
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    response.delete_cookie(LEGACY_COOKIE, path="/")
    return response


@router.get("/logout")
def logout_form(request: Request) -> Response:
    caller = identify(request)
    return to_login(request) if caller is None else render(request, "logout.html", caller)


@router.post("/logout")
def logout(request: Request, form: dict = Depends(form_fields)) -> Response:
    secret = access.session_secret(request)
    if not csrf_ok(secret, form.get(CSRF_FIELD)):
        return refuse_csrf(request, identify(request), "ui.logout")
    context = request.app.state.context
    caller = identify(request)
    with context.write(caller.actor if caller else "service"):
        context.sessions.end(secret)
    response = RedirectResponse("/ui/login?notice=signed-out", status_code=303)
    response.delete_cookie(
        COOKIE,
        path=access.DASHBOARD_PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response
