"""Signing in to the UI with an API token: the session cookie holds the token's hash,
encrypted and authenticated with the home's secret key, so it is worthless elsewhere and
a revoked token ends its sessions. Every write carries a CSRF token derived from it."""

from __future__ import annotations

import hashlib
import hmac
import json

from fastapi import Request

from podium.errors import PodiumError, Unauthenticated
from podium.secret_box import secret_box
from podium.services import Podium, Principal
from podium.services.auth import authenticate, authenticate_hash, hash_token

COOKIE = "podium_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD, CSRF_HEADER = "csrf_token", "x-csrf-token"


class SignInRequired(PodiumError):
    """No valid session: the page sends the browser to sign in."""


class BadCsrfToken(PodiumError):
    """A write without the session's CSRF token."""


def sign_in(podium: Podium, token: str) -> tuple[Principal, str]:
    """The principal of ``token`` and a session cookie value for it.

    Raises:
        Unauthenticated: the token is not valid.
    """
    principal = authenticate(podium, token.strip())
    cookie = secret_box(podium.settings).encrypt(json.dumps({"t": hash_token(token.strip())}))
    return principal, cookie.decode()


def viewer(request: Request) -> Principal:
    """The signed-in user of ``request``.

    Raises:
        SignInRequired: no session, or one that expired or whose token was revoked.
    """
    podium: Podium = request.app.state.podium
    cookie = request.cookies.get(COOKIE, "")
    if not cookie:
        raise SignInRequired("sign in with an API token")
    try:
        data = json.loads(secret_box(podium.settings).decrypt(cookie.encode(), SESSION_SECONDS))
        return authenticate_hash(podium, str(data["t"]))
    except (PodiumError, ValueError, KeyError, TypeError):
        raise SignInRequired("the session ended; sign in again") from None


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session ("" without one)."""
    cookie = request.cookies.get(COOKIE, "")
    if not cookie:
        return ""
    return hashlib.sha256(b"podium-csrf:" + cookie.encode()).hexdigest()[:40]


async def check_csrf(request: Request) -> None:
    """Refuse a write whose form field or header lacks the session's CSRF token.

    Raises:
        BadCsrfToken: it is missing or wrong.
    """
    expected = csrf_token(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get(CSRF_FIELD, ""))
    if not expected or not hmac.compare_digest(sent, expected):
        raise BadCsrfToken("the form is stale or did not come from this site; reload the "
                           "page and try again")


__all__ = ["COOKIE", "BadCsrfToken", "SignInRequired", "Unauthenticated", "check_csrf",
           "csrf_token", "sign_in", "viewer"]
