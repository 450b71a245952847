"""The audit log: who created, changed, ran, canceled or deleted what, and when."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from podium.store.tables import AuditRow


def record(session: Session, actor: str, action: str, object_type: str, object_id: object,
           now: datetime, **detail: Any) -> None:
    """Add an event in the caller's transaction, so it is kept exactly when the change is."""
    session.execute(insert(AuditRow).values(
        at=now, actor=actor, action=action, object_type=object_type,
        object_id=str(object_id), detail_json=json.dumps(detail, default=str),
    ))


def list_events(session: Session, *, limit: int = 100, before_id: int | None = None,
                object_type: str | None = None, object_id: str | None = None) -> list[AuditRow]:
    """Events newest first."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    if object_type is not None:
        query = query.where(AuditRow.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditRow.object_id == object_id)
    return list(session.scalars(query))
