"""Queries for notifications: one row per event of a run (or task) and destination.

The unique index on (run_id, repair_count, task_key, event, channel, destination) is
what makes a notification happen once (per repair of the run): recording it again (a
retried task, a restarted server, a health check every second) changes nothing. Every
function takes the caller's ``session``; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from podium.store.tables import NotificationRow, RunRow, TaskRunRow

# SENDING: a notifier took it and is delivering it; ``sent_at`` then holds when it took
# it, and a notifier that died mid-delivery leaves it to be taken again after LEASE.
PENDING, SENDING, SENT, FAILED = "PENDING", "SENDING", "SENT", "FAILED"
LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class NewNotification:
    run_id: int
    task_key: str  # "" for the run's own events
    event: str
    channel: str  # email, webhook
    destination: str
    repair_count: int = 0  # the run's: a repaired run that fails again notifies again


def record(session: Session, items: Iterable[NewNotification], now: datetime) -> int:
    """Record each item as PENDING unless it was recorded before; how many are new."""
    rows = [
        {"run_id": n.run_id, "repair_count": n.repair_count, "task_key": n.task_key,
         "event": n.event, "channel": n.channel, "destination": n.destination,
         "state": PENDING, "attempts": 0, "error": "", "created_at": now}
        for n in items
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (insert(NotificationRow).values(rows).on_conflict_do_nothing()
                 .returning(NotificationRow.id))
    return len(session.execute(statement).all())


def pending(session: Session, now: datetime, limit: int = 100) -> list[NotificationRow]:
    """Notifications to deliver, oldest first: PENDING ones, and SENDING ones whose
    notifier has not finished within LEASE (it died)."""
    return list(session.scalars(
        select(NotificationRow).where(_to_deliver(now)).order_by(NotificationRow.id)
        .limit(limit)
    ))


def unfinished(session: Session) -> bool:
    """Whether any notification is PENDING or being sent."""
    return session.scalars(
        select(NotificationRow.id).where(NotificationRow.state.in_([PENDING, SENDING]))
        .limit(1)
    ).first() is not None


def claim(session: Session, notification_id: int, attempts: int, now: datetime) -> bool:
    """Take a notification to deliver it (its attempt ``attempts + 1``); False when it
    was taken, sent or given up meanwhile (by this notifier or another server's)."""
    result = session.execute(
        update(NotificationRow).where(
            NotificationRow.id == notification_id, NotificationRow.attempts == attempts,
            _to_deliver(now),
        ).values(state=SENDING, attempts=attempts + 1, sent_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def _to_deliver(now: datetime) -> Any:
    return or_(NotificationRow.state == PENDING, and_(
        NotificationRow.state == SENDING, NotificationRow.sent_at < now - LEASE
    ))


def mark(
    session: Session, notification_id: int, *, state: str, attempts: int, error: str = "",
    sent_at: datetime | None = None,
) -> None:
    """Record the outcome of a delivery attempt."""
    session.execute(
        update(NotificationRow).where(NotificationRow.id == notification_id)
        .values(state=state, attempts=attempts, error=error, sent_at=sent_at)
    )


def for_run(session: Session, run_id: int) -> list[NotificationRow]:
    """The run's notifications in the order they were recorded."""
    return list(session.scalars(
        select(NotificationRow).where(NotificationRow.run_id == run_id)
        .order_by(NotificationRow.id)
    ))


def running_runs(session: Session) -> list[RunRow]:
    """Runs that are running now, for_each iterations aside (what health rules are
    checked against)."""
    return list(session.scalars(
        select(RunRow).where(RunRow.ended_at.is_(None), RunRow.started_at.is_not(None),
                             RunRow.iteration.is_(None))
    ))


def running_tasks(session: Session, run_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """For each run, its running task runs and when each started."""
    out: dict[int, dict[str, datetime]] = {}
    if not run_ids:
        return out
    rows = session.execute(
        select(TaskRunRow.run_id, TaskRunRow.task_key, TaskRunRow.started_at).where(
            TaskRunRow.run_id.in_(run_ids), TaskRunRow.ended_at.is_(None),
            TaskRunRow.started_at.is_not(None),
        )
    )
    for run_id, key, started in rows:
        if started is not None:
            out.setdefault(run_id, {})[key] = started
    return out
