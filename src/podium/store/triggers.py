"""Queries for what schedules, periodic and continuous triggers remember between fires
(``trigger_state``: one row per job)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podium.errors import Conflict
from podium.store.tables import TriggerStateRow


def get_state(session: Session, job_id: int) -> TriggerStateRow | None:
    return session.get(TriggerStateRow, job_id)


def all_states(session: Session) -> dict[int, TriggerStateRow]:
    """Every job's trigger state, by job_id."""
    return {row.job_id: row for row in session.scalars(select(TriggerStateRow))}


def record_fire(session: Session, job_id: int, expected: datetime | None, fire_at: datetime,
                run_id: int, consecutive_failures: int, now: datetime) -> None:
    """Record that the job fired (``fire_at``) and started ``run_id``, if its last fire
    is still ``expected``: call it in the transaction that starts the run.

    Raises:
        Conflict: another scheduler (another server on the same store) fired it first;
            roll the transaction back.
    """
    fields = dict(last_fire_at=fire_at, last_run_id=run_id,
                  consecutive_failures=consecutive_failures, updated_at=now)
    last = TriggerStateRow.last_fire_at
    done = session.execute(
        update(TriggerStateRow)
        .where(TriggerStateRow.job_id == job_id,
               last.is_(None) if expected is None else last == expected)
        .values(**fields)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) == 1:
        return
    if expected is not None or session.get(TriggerStateRow, job_id) is not None:
        raise Conflict(f"job {job_id} was fired by another scheduler")
    session.add(TriggerStateRow(job_id=job_id, **fields))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"job {job_id} was fired by another scheduler") from None
