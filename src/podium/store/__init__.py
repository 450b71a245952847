"""Podium's metadata store: tables, one Alembic history, query modules taking a session."""

from __future__ import annotations

from podium.store import audit, jobs, runs, secrets, users
from podium.store.engine import make_engine, make_sessions
from podium.store.migrate import HEAD_REVISION, current_revision, upgrade
from podium.store.tables import (
    AttemptRow,
    AuditRow,
    JobRow,
    JobVersionRow,
    RunRow,
    TaskRunRow,
    TokenRow,
    TransitionRow,
    UserRow,
)

__all__ = [
    "HEAD_REVISION",
    "AttemptRow",
    "AuditRow",
    "JobRow",
    "JobVersionRow",
    "RunRow",
    "TaskRunRow",
    "TokenRow",
    "TransitionRow",
    "UserRow",
    "audit",
    "current_revision",
    "jobs",
    "make_engine",
    "make_sessions",
    "runs",
    "secrets",
    "upgrade",
    "users",
]
