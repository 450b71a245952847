"""Podium's metadata store: tables, one Alembic history, query modules taking a session."""

from __future__ import annotations

from podium.store import jobs, runs
from podium.store.engine import make_engine, make_sessions
from podium.store.migrate import HEAD_REVISION, current_revision, upgrade
from podium.store.tables import AttemptRow, JobRow, RunRow, TaskRunRow, TransitionRow

__all__ = [
    "HEAD_REVISION",
    "AttemptRow",
    "JobRow",
    "RunRow",
    "TaskRunRow",
    "TransitionRow",
    "current_revision",
    "jobs",
    "make_engine",
    "make_sessions",
    "runs",
    "upgrade",
]
