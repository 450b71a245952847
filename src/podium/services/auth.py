"""Who is asking: users, their API tokens, and the principal every use-case acts for."""

from __future__ import annotations

import getpass
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from podium.engine import utcnow
from podium.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from podium.services.context import Podium
from podium.services.views import millis
from podium.store import UserRow, audit
from podium.store import users as q

TOKEN_PREFIX = "pod"
ADMINS, USERS = "admins", "users"  # the built-in groups


@dataclass(frozen=True, slots=True)
class Principal:
    """A user as the services see them: name and group membership."""

    user_name: str
    is_admin: bool

    @property
    def groups(self) -> tuple[str, ...]:
        return (ADMINS, USERS) if self.is_admin else (USERS,)


def local_principal() -> Principal:
    """Whoever runs the CLI on the home itself: they own its files, so they are admin."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return Principal(f"local:{name}", is_admin=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    podium: Podium, user_name: str, comment: str = "", lifetime_seconds: int | None = None,
    actor: Principal | None = None,
) -> tuple[str, str]:
    """A new token for ``user_name`` (created if new; the first user is an admin).

    Returns (token_id, token): the token text is shown this once and never stored.
    """
    if not user_name.strip():
        raise InvalidArgument("user: must not be empty")
    if lifetime_seconds is not None and lifetime_seconds <= 0:
        raise InvalidArgument(f"lifetime_seconds: must be positive, got {lifetime_seconds}")
    if actor is not None and not actor.is_admin and actor.user_name != user_name:
        raise PermissionDenied("only an admin may create a token for another user")
    now = utcnow()
    token_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}{secrets.token_hex(20)}"
    expires = now + timedelta(seconds=lifetime_seconds) if lifetime_seconds else None
    with podium.sessions.begin() as session:
        user = q.ensure_user(session, user_name, now)
        q.add_token(session, token_id, user.user_id, hash_token(token), comment, now, expires)
        audit.record(session, (actor or local_principal()).user_name, "create", "token",
                     token_id, now, user=user_name, comment=comment)
    return token_id, token


def authenticate(podium: Podium, token: str | None) -> Principal:
    """The principal a bearer token belongs to.

    Raises:
        Unauthenticated: no token, or one that is unknown, revoked or expired.
    """
    if not token:
        raise Unauthenticated(
            "no token: send the header 'Authorization: Bearer <token>'; "
            "make a token with `podium token create`"
        )
    return authenticate_hash(podium, hash_token(token))


def authenticate_hash(podium: Podium, token_hash: str) -> Principal:
    """The principal of the token with this hash (a UI session keeps only the hash).

    Raises:
        Unauthenticated: the token is unknown, revoked or expired.
    """
    with podium.sessions() as session:
        user = q.user_by_token_hash(session, token_hash, utcnow())
    if user is None:
        raise Unauthenticated("the token is not valid: unknown, revoked or expired")
    return Principal(user.user_name, user.is_admin)


def list_users(podium: Podium, actor: Principal) -> list[dict[str, Any]]:
    """Every user, oldest first: name, whether an admin, when created (admins only).

    Raises:
        PermissionDenied: ``actor`` is not an admin.
    """
    if not actor.is_admin:
        raise PermissionDenied("only admins may list the users")
    with podium.sessions() as session:
        return [{"user_name": u.user_name, "is_admin": u.is_admin,
                 "creation_time": millis(u.created_at)} for u in q.list_users(session)]


def list_tokens(podium: Podium, actor: Principal) -> list[dict[str, Any]]:
    """Tokens (an admin sees all, a user their own), without their text."""
    with podium.sessions() as session:
        own = None
        if not actor.is_admin:
            user = q.find_user(session, actor.user_name)
            own = user.user_id if user else -1
        return [
            {"token_id": t.token_id, "user_name": name, "comment": t.comment,
             "creation_time": millis(t.created_at),
             "expiry_time": millis(t.expires_at) if t.expires_at else -1}
            for t, name in q.list_tokens(session, own)
        ]


def revoke_token(podium: Podium, token_id: str, actor: Principal) -> None:
    """Delete a token so it no longer authenticates.

    Raises:
        NotFound: no such token (or, for a non-admin, none of theirs).
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        token = q.get_token(session, token_id)
        owner = q.find_user(session, actor.user_name)
        if token is None or not (actor.is_admin or (owner and owner.user_id == token.user_id)):
            raise NotFound(f"no token {token_id!r}; `podium token list` shows the tokens")
        q.delete_token(session, token_id)
        audit.record(session, actor.user_name, "revoke", "token", token_id, now)


def set_admin(podium: Podium, user_name: str, is_admin: bool, actor: Principal) -> None:
    """Make ``user_name`` an admin, or no longer one (admins only; one admin must remain).

    Raises:
        PermissionDenied: ``actor`` is not an admin.
        NotFound: no such user.
        InvalidArgument: it would leave no admin.
    """
    with podium.sessions.begin() as session:
        user = _user_to_change(session, user_name, actor)
        if user.is_admin and not is_admin and q.count_admins(session) == 1:
            raise InvalidArgument(f"{user_name} is the only admin; make another user an "
                                  "admin first")
        user.is_admin = is_admin
        audit.record(session, actor.user_name, "grant" if is_admin else "revoke", "admin",
                     user_name, utcnow())


def delete_user(podium: Podium, user_name: str, actor: Principal) -> None:
    """Delete a user with their tokens (which stop working at once) and the job
    permissions granted to them by name; the jobs they own stay, for admins to manage.

    Raises:
        PermissionDenied: ``actor`` is not an admin.
        NotFound: no such user.
        InvalidArgument: ``actor`` deletes themself.
    """
    with podium.sessions.begin() as session:
        user = _user_to_change(session, user_name, actor)
        if user_name == actor.user_name:
            raise InvalidArgument("you cannot delete yourself; another admin can")
        q.delete_user(session, user)
        audit.record(session, actor.user_name, "delete", "user", user_name, utcnow())


def _user_to_change(session: Session, user_name: str, actor: Principal) -> UserRow:
    if not actor.is_admin:
        raise PermissionDenied("only admins may change users")
    user = q.find_user(session, user_name)
    if user is None:
        raise NotFound(f"no user {user_name!r}")
    return user
