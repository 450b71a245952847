"""Reading the audit log (admins only): who created, changed, ran, canceled or deleted
what, and when. Events are written by each use-case in its own transaction."""

from __future__ import annotations

import json
from typing import Any

from podium.errors import InvalidArgument, PermissionDenied
from podium.services.auth import Principal
from podium.services.context import Podium
from podium.services.views import millis
from podium.store import audit


def list_audit(podium: Podium, actor: Principal, limit: int = 100,
               before_id: int | None = None) -> list[dict[str, Any]]:
    """Events newest first; page with ``before_id`` = the last id seen."""
    if not actor.is_admin:
        raise PermissionDenied("only admins may read the audit log")
    if not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit: must be between 1 and 1000, got {limit}")
    with podium.sessions() as session:
        return [
            {"id": e.id, "time": millis(e.at), "actor": e.actor, "action": e.action,
             "object_type": e.object_type, "object_id": e.object_id,
             "detail": json.loads(e.detail_json)}
            for e in audit.list_events(session, limit=limit, before_id=before_id)
        ]
