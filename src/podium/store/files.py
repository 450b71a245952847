"""Queries for the files file-arrival triggers have seen (``seen_files``).

A row means "this path is not new for this job": either it triggered the run ``run_id``,
or it was already there when the trigger was set up (``run_id`` null). Every function
takes the caller's ``session``; the caller owns the transaction, so the files a run was
started for are recorded in the same transaction as the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.errors import Conflict
from podium.store.tables import JobRow, RunRow, SeenFileRow


def file_arrival_jobs(session: Session) -> list[JobRow]:
    """Live jobs whose stored settings may hold a file-arrival trigger (the caller parses
    the spec to be sure), by job_id."""
    return list(session.scalars(
        select(JobRow)
        .where(JobRow.deleted_at.is_(None), JobRow.spec_json.contains('"file_arrival"'))
        .order_by(JobRow.job_id)
    ))


def file_arrival_jobs_stamp(session: Session) -> tuple[Any, ...]:
    """Changes whenever ``file_arrival_jobs`` may have: one is made, changed or deleted."""
    row = session.execute(
        select(func.count(), func.max(JobRow.updated_at), func.max(JobRow.job_id))
        .where(JobRow.deleted_at.is_(None), JobRow.spec_json.contains('"file_arrival"'))
    ).one()
    return tuple(row)


def seen_paths(session: Session, job_id: int, under: str) -> set[str]:
    """The paths seen for the job inside the directory ``under`` (an absolute path)."""
    prefix = under.rstrip("/") + "/"
    return set(session.scalars(
        select(SeenFileRow.path).where(
            SeenFileRow.job_id == job_id,
            func.substr(SeenFileRow.path, 1, len(prefix)) == prefix,
        )
    ))


def record_seen(
    session: Session, job_id: int, files: Iterable[tuple[str, int, int]], now: datetime,
    run_id: int | None = None,
) -> None:
    """Remember ``files`` (path, size, mtime_ns) as seen, triggering ``run_id`` if given.

    Raises:
        Conflict: one was already recorded (another server's watcher got there first:
            the primary key makes it the only one to start a run for it); the caller's
            transaction must then be rolled back.
    """
    session.add_all(
        SeenFileRow(job_id=job_id, path=path, size=size, mtime_ns=mtime_ns, seen_at=now,
                    run_id=run_id)
        for path, size, mtime_ns in files
    )
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"job {job_id}: another server recorded these files first") from None


def forget(session: Session, job_id: int, paths: Iterable[str]) -> None:
    """Forget ``paths`` (files that are gone), so a new file of the same name is new."""
    chosen = list(paths)
    for start in range(0, len(chosen), 500):  # bounded IN lists
        session.execute(delete(SeenFileRow).where(
            SeenFileRow.job_id == job_id, SeenFileRow.path.in_(chosen[start:start + 500])
        ))


def last_triggered_at(session: Session, job_id: int) -> datetime | None:
    """When a file arrival last started a run of the job, if ever (from the runs, which
    stay when the files that started them are gone)."""
    return session.scalar(
        select(func.max(RunRow.created_at))
        .where(RunRow.job_id == job_id, RunRow.trigger == "FILE_ARRIVAL")
    )
