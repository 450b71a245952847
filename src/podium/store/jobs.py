"""Queries for stored job definitions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.errors import NotFound
from podium.store.tables import JobRow


def save_job_by_name(session: Session, name: str, spec_json: str, now: datetime) -> int:
    """The job_id of the job called ``name``, created or updated to ``spec_json``."""
    row = session.scalars(
        select(JobRow).where(JobRow.name == name).order_by(JobRow.job_id).limit(1)
    ).first()
    if row is None:
        row = JobRow(name=name, spec_json=spec_json, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
    elif row.spec_json != spec_json:
        row.spec_json = spec_json
        row.updated_at = now
    return row.job_id


def find_job_by_name(session: Session, name: str) -> JobRow | None:
    """The oldest job called ``name``, if any."""
    return session.scalars(
        select(JobRow).where(JobRow.name == name).order_by(JobRow.job_id).limit(1)
    ).first()


def list_jobs(session: Session) -> list[JobRow]:
    return list(session.scalars(select(JobRow).order_by(JobRow.job_id)))


def find_job(session: Session, job_id: int) -> JobRow | None:
    return session.get(JobRow, job_id)


def get_job(session: Session, job_id: int) -> JobRow:
    row = session.get(JobRow, job_id)
    if row is None:
        raise NotFound(f"no job {job_id}")
    return row
