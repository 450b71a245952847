"""Podium's metadata store: tables, one Alembic history, query modules taking a session."""

from __future__ import annotations

from podium.store import audit, files, jobs, runs, secrets, triggers, users
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
    TriggerStateRow,
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
    "TriggerStateRow",
    "UserRow",
    "audit",
    "current_revision",
    "files",
    "jobs",
    "make_engine",
    "make_sessions",
    "notifications",
    "runs",
    "secrets",
    "triggers",
    "upgrade",
    "users",
]
