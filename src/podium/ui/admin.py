"""The admins' settings pages: users and groups, API tokens (create, shown once; revoke),
secret scopes (names, keys and update times, never values), where notifications go
(masked) and the audit log. Only admins see them; every write needs the CSRF token."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.errors import InvalidArgument, PermissionDenied, PodiumError
from podium.notify import destinations, smtp_config
from podium.services import Podium, Principal
from podium.services import audit as audit_services
from podium.services import auth as auth_services
from podium.services import secrets as secret_services
from podium.services.auth import ADMINS, USERS
from podium.ui.app import error_page, page
from podium.ui.session import check_csrf, viewer

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

AUDIT_PAGE = 50
TABS = (("users", "/settings", "Users and groups"), ("tokens", "/settings/tokens", "Tokens"),
        ("secrets", "/settings/secrets", "Secret scopes"),
        ("notifications", "/settings/notifications", "Notifications"),
        ("audit", "/settings/audit", "Audit log"))


def _require_admin(user: Principal) -> Principal:
    """``user``, who must be an admin.

    Raises:
        PermissionDenied: they are not.
    """
    if not user.is_admin:
        raise PermissionDenied("only admins may see or change the settings")
    return user


def _show(request: Request, name: str, user: Principal, tab: str, status: int = 200,
          **context: Any) -> HTMLResponse:
    response = page(request, name, status, user=user, section="settings", tabs=TABS, tab=tab,
                    **context)
    response.headers["Cache-Control"] = "no-store"
    return response


def _guarded(request: Request, build: Callable[[Principal], HTMLResponse]) -> HTMLResponse:
    """``build(admin)``, or the error page when the viewer is no admin or a service
    refuses."""
    user = viewer(request)
    try:
        return build(_require_admin(user))
    except PodiumError as exc:
        return error_page(request, user, exc)


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


Act = Callable[[Principal, dict[str, str]], Awaitable[Response]]


async def _write(request: Request, act: Act) -> Response:
    """``act(admin, form fields)`` after the session, CSRF and admin checks; the error
    page when one fails or a service refuses."""
    user = viewer(request)
    await check_csrf(request)
    try:
        _require_admin(user)
        form = await request.form()
        return await act(user, {str(k): str(v) for k, v in form.items()})
    except PodiumError as exc:
        return error_page(request, user, exc)


# ---- users and groups -------------------------------------------------------------------
@router.get("/settings")
def users_page(request: Request) -> HTMLResponse:
    def build(user: Principal) -> HTMLResponse:
        users = auth_services.list_users(request.app.state.podium, user)
        groups = {ADMINS: [u["user_name"] for u in users if u["is_admin"]],
                  USERS: [u["user_name"] for u in users]}
        return _show(request, "settings.html", user, "users", users=users, groups=groups)
    return _guarded(request, build)


@router.post("/settings/users/{user_name}/admin")
async def set_admin(request: Request, user_name: str) -> Response:
    async def act(user: Principal, form: dict[str, str]) -> Response:
        await _call(auth_services.set_admin, request.app.state.podium, user_name,
                    form.get("is_admin") == "yes", user)
        return RedirectResponse("/settings", 303)
    return await _write(request, act)


@router.post("/settings/users/{user_name}/delete")
async def delete_user(request: Request, user_name: str) -> Response:
    async def act(user: Principal, form: dict[str, str]) -> Response:
        await _call(auth_services.delete_user, request.app.state.podium, user_name, user)
        return RedirectResponse("/settings", 303)
    return await _write(request, act)


# ---- tokens -----------------------------------------------------------------------------
@router.get("/settings/tokens")
def tokens_page(request: Request) -> HTMLResponse:
    def build(user: Principal) -> HTMLResponse:
        podium: Podium = request.app.state.podium
        return _show(request, "settings_tokens.html", user, "tokens",
                     tokens=auth_services.list_tokens(podium, user),
                     users=auth_services.list_users(podium, user),
                     now=int(time.time() * 1000))
    return _guarded(request, build)


def lifetime_seconds(days: str) -> int | None:
    """A lifetime in days from a form (blank: the token never expires) as seconds.

    Raises:
        InvalidArgument: not a positive number of days.
    """
    if not days.strip():
        return None
    try:
        value = float(days)
    except ValueError:
        value = 0
    if not 0 < value <= 36500:
        raise InvalidArgument(f"lifetime: a number of days from 1 to 36500, or blank for no "
                              f"expiry, not {days!r}")
    return int(value * 86400)


@router.post("/settings/tokens")
async def create_token(request: Request) -> Response:
    async def act(user: Principal, form: dict[str, str]) -> Response:
        user_name = form.get("user_name", "").strip()
        lifetime = lifetime_seconds(form.get("lifetime_days", ""))
        token_id, token = await _call(auth_services.create_token, request.app.state.podium,
                                      user_name, form.get("comment", "").strip(), lifetime,
                                      user)
        return _show(request, "settings_token_made.html", user, "tokens", token_id=token_id,
                     token=token, user_name=user_name)
    return await _write(request, act)


@router.post("/settings/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    async def act(user: Principal, form: dict[str, str]) -> Response:
        await _call(auth_services.revoke_token, request.app.state.podium, token_id, user)
        return RedirectResponse("/settings/tokens", 303)
    return await _write(request, act)


# ---- secret scopes ----------------------------------------------------------------------
@router.get("/settings/secrets")
def secrets_page(request: Request) -> HTMLResponse:
    def build(user: Principal) -> HTMLResponse:
        podium: Podium = request.app.state.podium
        scopes = [{"name": s["name"],
                   "secrets": secret_services.list_secrets(podium, s["name"], user)}
                  for s in secret_services.list_scopes(podium, user)]
        return _show(request, "settings_secrets.html", user, "secrets", scopes=scopes)
    return _guarded(request, build)


@router.post("/settings/secrets")
async def create_scope(request: Request) -> Response:
    async def act(user: Principal, form: dict[str, str]) -> Response:
        await _call(secret_services.create_scope, request.app.state.podium,
                    form.get("scope", "").strip(), user)
        return RedirectResponse("/settings/secrets", 303)
    return await _write(request, act)


@router.get("/settings/secrets/{scope}/delete")
def confirm_delete_scope(request: Request, scope: str) -> HTMLResponse:
    def build(user: Principal) -> HTMLResponse:
        keys = secret_services.list_secrets(request.app.state.podium, scope, user)
        return _show(request, "settings_scope_delete.html", user, "secrets", scope=scope,
                     keys=keys)
    return _guarded(request, build)


@router.post("/settings/secrets/{scope}/delete")
async def delete_scope(request: Request, scope: str) -> Response:
    async def act(user: Principal, form: dict[str, str]) -> Response:
        await _call(secret_services.delete_scope, request.app.state.podium, scope, user)
        return RedirectResponse("/settings/secrets", 303)
    return await _write(request, act)


# ---- notifications ----------------------------------------------------------------------
def origin(url: str) -> str:
    """Only the scheme and host of ``url``: its user info, path and query often hold
    a key (Slack's path is one)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme or '?'}://{host}{f':{port}' if port else ''}"


def notification_settings(podium: Podium) -> dict[str, Any]:
    """The SMTP server and webhook destinations for display, secrets masked, with the
    problem (if any) that stops either from being read."""
    out: dict[str, Any] = {"smtp": None, "smtp_error": "", "destinations": [],
                           "destinations_error": "", "home": str(podium.settings.home)}
    try:
        smtp = smtp_config(podium.settings)
        if smtp.host is not None:
            out["smtp"] = {"host": smtp.host, "port": smtp.port, "security": smtp.security,
                           "username": smtp.username or "",
                           "password": "****" if smtp.password else "",
                           "from_address": smtp.from_address}
    except PodiumError as exc:
        out["smtp_error"] = str(exc)
    try:
        out["destinations"] = [
            {"id": d.id, "format": d.format, "url": origin(d.url), "signed": bool(d.secret)}
            for d in destinations(podium.settings).values()
        ]
    except PodiumError as exc:
        out["destinations_error"] = str(exc)
    return out


@router.get("/settings/notifications")
def notifications_page(request: Request) -> HTMLResponse:
    def build(user: Principal) -> HTMLResponse:
        return _show(request, "settings_notifications.html", user, "notifications",
                     **notification_settings(request.app.state.podium))
    return _guarded(request, build)


# ---- audit log --------------------------------------------------------------------------
def detail_text(detail: Any) -> str:
    """An audit event's detail as ``key=value`` pairs."""
    if isinstance(detail, dict):
        return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))
    return "" if detail in (None, "", [], {}) else str(detail)


@router.get("/settings/audit")
def audit_page(request: Request, before_id: str = "") -> HTMLResponse:
    def build(user: Principal) -> HTMLResponse:
        if before_id and not before_id.isdigit():
            raise InvalidArgument(f"before_id: an event id, not {before_id!r}")
        events = audit_services.list_audit(request.app.state.podium, user, AUDIT_PAGE + 1,
                                           int(before_id) if before_id else None)
        more = len(events) > AUDIT_PAGE
        events = events[:AUDIT_PAGE]
        older = ("/settings/audit?" + urlencode({"before_id": events[-1]["id"]})
                 if more and events else None)
        return _show(request, "settings_audit.html", user, "audit",
                     events=[{**e, "detail": detail_text(e["detail"])} for e in events],
                     older=older, newest=bool(before_id))
    return _guarded(request, build)
