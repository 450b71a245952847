"""Podium's errors as the Databricks REST APIs return them:
``{"error_code": "...", "message": "..."}`` with the matching HTTP status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from podium.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PodiumError,
    SpecError,
    TooLarge,
    Unauthenticated,
)

logger = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
_STATUS: list[tuple[type[PodiumError], int, str]] = [
    (SpecError, 400, "INVALID_PARAMETER_VALUE"),
    (InvalidArgument, 400, "INVALID_PARAMETER_VALUE"),
    (Unauthenticated, 401, "UNAUTHENTICATED"),
    (PermissionDenied, 403, "PERMISSION_DENIED"),
    (NotFound, 404, "RESOURCE_DOES_NOT_EXIST"),
    (Conflict, 409, "RESOURCE_CONFLICT"),
    (TooLarge, 413, "REQUEST_LIMIT_EXCEEDED"),
]


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error_code": code, "message": message}, status, headers=headers)


def install(app: FastAPI) -> None:
    """Make every error leave the API in the Databricks shape."""

    @app.exception_handler(PodiumError)
    async def podium_error(_request: Request, exc: PodiumError) -> JSONResponse:
        for kind, status, code in _STATUS:
            if isinstance(exc, kind):
                return error_response(status, code, str(exc))
        logger.error("request failed: %s", exc)
        return error_response(500, "INTERNAL_ERROR", str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"] if p not in ("body", "query"))
            problems.append(f"{loc}: {error['msg']}" if loc else error["msg"])
        return error_response(400, "INVALID_PARAMETER_VALUE", "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(404, "ENDPOINT_NOT_FOUND",
                                  f"No API found for '{request.method} {request.url.path}'")
        if exc.status_code == 405:
            return error_response(405, "ENDPOINT_NOT_FOUND",
                                  f"{request.url.path} does not take {request.method}")
        return error_response(exc.status_code, "INVALID_REQUEST", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request failed")
        return error_response(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
