"""Queries for stored job definitions, their versions and their permissions."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from podium.errors import NotFound
from podium.store.tables import JobPermissionRow, JobRow, JobVersionRow

_LIVE = JobRow.deleted_at.is_(None)


def create_job(session: Session, name: str, spec_json: str, actor: str | None,
               now: datetime, source_dir: str | None = None) -> JobRow:
    """A new job at version 1, owned by nobody yet (the caller grants IS_OWNER)."""
    row = JobRow(name=name, spec_json=spec_json, created_at=now, updated_at=now, version=1,
                 creator=actor, source_dir=source_dir)
    session.add(row)
    session.flush()
    session.add(JobVersionRow(job_id=row.job_id, version=1, spec_json=spec_json,
                              change="create", created_by=actor, created_at=now))
    return row


def change_job(session: Session, row: JobRow, spec_json: str, change: str,
               actor: str | None, now: datetime) -> bool:
    """Store ``spec_json`` as the job's next version; False if nothing changed."""
    if row.spec_json == spec_json:
        return False
    row.spec_json, row.name, row.updated_at = spec_json, _name_of(spec_json, row.name), now
    row.version += 1
    session.add(JobVersionRow(job_id=row.job_id, version=row.version, spec_json=spec_json,
                              change=change, created_by=actor, created_at=now))
    return True


def _name_of(spec_json: str, fallback: str) -> str:
    name = json.loads(spec_json).get("name")
    return name if isinstance(name, str) and name else fallback


def find_job_by_name(session: Session, name: str) -> JobRow | None:
    """The oldest job called ``name``, if any."""
    return session.scalars(
        select(JobRow).where(JobRow.name == name, _LIVE).order_by(JobRow.job_id).limit(1)
    ).first()


def list_jobs(session: Session, *, name: str | None = None, after_id: int = 0,
              limit: int | None = None) -> list[JobRow]:
    """Jobs by job_id, from ``after_id`` on; only those called ``name`` when given."""
    query = select(JobRow).where(_LIVE, JobRow.job_id > after_id).order_by(JobRow.job_id)
    if name is not None:
        query = query.where(JobRow.name == name)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def find_job(session: Session, job_id: int) -> JobRow | None:
    row = session.get(JobRow, job_id)
    return row if row is not None and row.deleted_at is None else None


def get_job(session: Session, job_id: int) -> JobRow:
    row = find_job(session, job_id)
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    return row


def delete_job(session: Session, row: JobRow, now: datetime) -> None:
    """Hide the job; its runs and versions stay, so past runs still show what ran."""
    row.deleted_at = now
    session.execute(delete(JobPermissionRow).where(JobPermissionRow.job_id == row.job_id))


def lock_job(session: Session, job_id: int) -> None:
    """Hold the job's row until the transaction ends, so that decisions about its runs
    (start, queue, take from the queue) are made one at a time across processes: a row
    lock on PostgreSQL, the write lock on SQLite (taken before anything is read)."""
    session.execute(update(JobRow).where(JobRow.job_id == job_id)
                    .values(version=JobRow.version))


def get_versions(session: Session, job_id: int) -> list[JobVersionRow]:
    return list(session.scalars(
        select(JobVersionRow).where(JobVersionRow.job_id == job_id)
        .order_by(JobVersionRow.version)
    ))


def get_permissions(session: Session, job_id: int) -> list[JobPermissionRow]:
    return list(session.scalars(
        select(JobPermissionRow).where(JobPermissionRow.job_id == job_id)
        .order_by(JobPermissionRow.principal_kind, JobPermissionRow.principal)
    ))


def permissions_of(session: Session, user: str, groups: tuple[str, ...]) -> dict[int, list[str]]:
    """Every job's levels held by ``user`` directly or through one of ``groups``."""
    rows = session.execute(
        select(JobPermissionRow.job_id, JobPermissionRow.level).where(
            ((JobPermissionRow.principal_kind == "user") & (JobPermissionRow.principal == user))
            | ((JobPermissionRow.principal_kind == "group")
               & JobPermissionRow.principal.in_(groups))
        )
    )
    found: dict[int, list[str]] = {}
    for job_id, level in rows:
        found.setdefault(job_id, []).append(level)
    return found


def set_permission(session: Session, job_id: int, kind: str, principal: str,
                   level: str | None) -> None:
    """Grant ``level`` to the principal (None: take away what it held)."""
    session.execute(delete(JobPermissionRow).where(
        JobPermissionRow.job_id == job_id, JobPermissionRow.principal_kind == kind,
        JobPermissionRow.principal == principal,
    ))
    if level is not None:
        session.add(JobPermissionRow(job_id=job_id, principal_kind=kind, principal=principal,
                                     level=level))


def clear_permissions(session: Session, job_id: int) -> None:
    session.execute(delete(JobPermissionRow).where(JobPermissionRow.job_id == job_id))
