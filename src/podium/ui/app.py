"""The UI's routes and the machinery every page shares: templates, sign-in and sign-out,
static files, and what happens when a page needs a session or a write lacks its CSRF
token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from podium import __version__
from podium.errors import NotFound, PermissionDenied, PodiumError, Unauthenticated
from podium.services import Principal
from podium.ui.session import (
    COOKIE,
    SESSION_SECONDS,
    BadCsrfToken,
    SignInRequired,
    csrf_token,
    sign_in,
    viewer,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with what every page needs."""
    user: Principal | None = context.pop("user", None)
    return templates.TemplateResponse(request, name, {
        "user": user, "csrf": csrf_token(request), "version": __version__, **context,
    }, status_code=status)


def error_page(request: Request, user: Principal | None, exc: PodiumError,
               status: int | None = None) -> HTMLResponse:
    """The error page for what a service refused: 404 for what is not there (or not
    visible), 403 for what the viewer may not do, else 400 (or ``status``)."""
    if isinstance(exc, NotFound):
        status, title = status or 404, "Not found"
    elif isinstance(exc, PermissionDenied):
        status, title = status or 403, "Not allowed"
    else:
        status, title = status or 400, "Cannot do that"
    return page(request, "error.html", status, user=user, title=title, message=str(exc))


def local_time(millis: int | None) -> str:
    """An ISO time for a ``<time>`` element (the page shows it in the viewer's zone)."""
    if not millis:
        return ""
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")


templates.env.filters["iso"] = local_time


@router.get("/")
def home(request: Request) -> Response:
    viewer(request)
    return RedirectResponse("/jobs", 303)


@router.get("/sign-in")
def sign_in_page(request: Request, next: str = "/jobs") -> HTMLResponse:
    return page(request, "sign_in.html", next=_local(next), error="")


@router.post("/sign-in")
def sign_in_form(request: Request, token: str = Form(""), next: str = Form("/jobs")) -> Response:
    try:
        _, cookie = sign_in(request.app.state.podium, token)
    except Unauthenticated as exc:
        return page(request, "sign_in.html", 401, next=_local(next), error=str(exc))
    response = RedirectResponse(_local(next), 303)
    response.set_cookie(COOKIE, cookie, max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    from podium.ui.session import check_csrf

    await check_csrf(request)
    response = RedirectResponse("/sign-in", 303)
    response.delete_cookie(COOKIE)
    return response


def _local(target: str) -> str:
    """Only paths on this site: a sign-in link cannot send the browser elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/jobs"


def install(app: FastAPI) -> None:
    """Serve the UI from ``app``: its pages, static files and error pages."""
    from podium.ui import admin, editor, insights_page, pages, run_page

    app.include_router(router)
    app.include_router(pages.router)
    app.include_router(run_page.router)
    app.include_router(editor.router)
    app.include_router(admin.router)
    app.include_router(insights_page.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):  # htmx: send the whole page to sign in
            return Response(status_code=401, headers={
                "HX-Redirect": f"/sign-in?next={quote(target)}"})
        return RedirectResponse(f"/sign-in?next={quote(target)}", 303)

    @app.exception_handler(BadCsrfToken)
    async def refused(request: Request, exc: BadCsrfToken) -> Response:
        return page(request, "error.html", 403, title="Refused", message=str(exc))
