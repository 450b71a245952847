"""The FastAPI application: routes, the Databricks error shape, bearer-token auth and a
bound on request bodies."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium import __version__, ui
from podium.api import admin, docs, errors, extras, insights, jobs
from podium.services import Podium

MAX_BODY_BYTES = 10 * 1024 * 1024  # a job spec is kilobytes; this leaves room for huge ones


def create_app(
    podium: Podium,
    wake_engine: Callable[[], None] | None = None,
    public_url: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """The API of ``podium``.

    Args:
        wake_engine: called after a run is started or repaired, so the engine takes it up.
        public_url: the server's address as users reach it (links in responses).
        max_body_bytes: larger request bodies get 413.
        lifespan: what runs beside the API while it serves (the server's engine).
    """
    app = FastAPI(
        lifespan=lifespan, docs_url=None, redoc_url=None,
        title="Podium", version=__version__,
        description="The Databricks Jobs API 2.2 on the wire, plus Podium's own additions.",
    )
    app.state.podium = podium
    app.state.wake_engine = wake_engine
    app.state.public_url = public_url.rstrip("/") if public_url else None
    errors.install(app)
    docs.install(app)
    app.include_router(jobs.router, prefix="/api/2.2/jobs", tags=["jobs"])
    app.include_router(jobs.router, prefix="/api/2.1/jobs", include_in_schema=False)
    app.include_router(admin.router, tags=["permissions, secrets, tokens"])
    app.include_router(extras.router, tags=["podium"])
    app.include_router(insights.router, tags=["insights"])

    ui.install(app)

    @app.get("/.well-known/databricks-config", include_in_schema=False)
    def host_metadata() -> dict[str, Any]:
        return {"oidc_endpoint": ""}  # no OAuth here: clients use their token as given

    app.add_middleware(JsonBodies, limit=max_body_bytes)
    return app


class JsonBodies:
    """Request bodies are JSON, even when the client did not say so (``curl -d``), and at
    most ``limit`` bytes: a larger one gets 413 before it is read in full."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["path"].startswith("/api/") and scope["method"] in (
            "POST", "PUT", "PATCH"
        ) and not headers.get(
            b"content-type", b""
        ).startswith(b"application/json"):
            headers[b"content-type"] = b"application/json"
            scope = {**scope, "headers": list(headers.items())}
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = errors.error_response(
            413, "REQUEST_LIMIT_EXCEEDED",
            f"the request body is over {self.limit} bytes, the most this server accepts",
        )
        await send({"type": "http.response.start", "status": 413,
                    "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(BaseException):
    """Not an ``Exception``: FastAPI turns any Exception raised while it reads a body into
    400 "error parsing the body", and this one must reach ``JsonBodies`` to become 413."""
