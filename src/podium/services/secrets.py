"""Secret scopes and secrets (the Databricks Secrets API's use-cases). Values go in
encrypted and never come out: tasks read them through ``{{secrets/<scope>/<key>}}``.

Any user may create a scope; its creator and admins manage it and its secrets.
"""

from __future__ import annotations

import re
from typing import Any

from podium.engine import utcnow
from podium.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from podium.secret_box import secret_box
from podium.services.auth import Principal
from podium.services.context import Podium
from podium.services.views import millis
from podium.store import audit
from podium.store import secrets as q
from podium.store.tables import SecretScopeRow

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
MAX_SECRET_BYTES = 128 * 1024  # as Databricks


def _check_name(what: str, name: str) -> None:
    if not _NAME.match(name or ""):
        raise InvalidArgument(
            f"{what}: {name!r} is not a valid name; use 1 to 128 letters, digits, "
            "'_', '-' and '.'"
        )


def create_scope(podium: Podium, scope: str, actor: Principal) -> None:
    _check_name("scope", scope)
    now = utcnow()
    with podium.sessions.begin() as session:
        if q.get_scope(session, scope) is not None:
            raise Conflict(f"secret scope {scope!r} already exists")
        q.add_scope(session, scope, actor.user_name, now)
        audit.record(session, actor.user_name, "create", "secret_scope", scope, now)


def list_scopes(podium: Podium, actor: Principal) -> list[dict[str, Any]]:
    with podium.sessions() as session:
        return [{"name": s.name, "backend_type": "DATABRICKS"} for s in q.list_scopes(session)]


def delete_scope(podium: Podium, scope: str, actor: Principal) -> None:
    now = utcnow()
    with podium.sessions.begin() as session:
        _managed_scope(session, scope, actor)
        q.delete_scope(session, scope)
        audit.record(session, actor.user_name, "delete", "secret_scope", scope, now)


def put_secret(podium: Podium, scope: str, key: str, value: str, actor: Principal) -> None:
    """Store (or replace) the secret ``key`` of ``scope``, encrypted."""
    _check_name("key", key)
    if len(value.encode()) > MAX_SECRET_BYTES:
        raise InvalidArgument(f"string_value: a secret holds at most {MAX_SECRET_BYTES} bytes")
    ciphertext = secret_box(podium.settings).encrypt(value)
    now = utcnow()
    with podium.sessions.begin() as session:
        _managed_scope(session, scope, actor)
        q.put_secret(session, scope, key, ciphertext, now)
        audit.record(session, actor.user_name, "put", "secret", f"{scope}/{key}", now)


def list_secrets(podium: Podium, scope: str, actor: Principal) -> list[dict[str, Any]]:
    """The keys of ``scope`` with when each was last set; never the values."""
    with podium.sessions() as session:
        _managed_scope(session, scope, actor)
        return [{"key": s.key, "last_updated_timestamp": millis(s.updated_at)}
                for s in q.list_secrets(session, scope)]


def delete_secret(podium: Podium, scope: str, key: str, actor: Principal) -> None:
    now = utcnow()
    with podium.sessions.begin() as session:
        _managed_scope(session, scope, actor)
        if not q.delete_secret(session, scope, key):
            raise NotFound(f"secret scope {scope!r} has no key {key!r}")
        audit.record(session, actor.user_name, "delete", "secret", f"{scope}/{key}", now)


def _managed_scope(session: Any, scope: str, actor: Principal) -> SecretScopeRow:
    row = q.get_scope(session, scope)
    if row is None:
        raise NotFound(f"no secret scope {scope!r}; create it with `podium secrets "
                       f"create-scope {scope}`")
    if not actor.is_admin and row.created_by != actor.user_name:
        raise PermissionDenied(f"only the creator of secret scope {scope!r} or an admin may "
                               "manage it")
    return row
