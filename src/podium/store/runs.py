"""Queries for the run aggregate: runs, their task runs, attempts, values and transitions.

Every function takes the caller's ``session``; the caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from podium.core.plan import TaskRunState
from podium.core.states import LifeCycleState, ResultState
from podium.errors import NotFound
from podium.store.tables import (
    AttemptRow,
    Base,
    RunRow,
    TaskRunRow,
    TaskValueRow,
    TransitionRow,
)


@dataclass(frozen=True, slots=True)
class TaskRunRecord:
    """A task run as stored, with the times the engine's state does not carry."""

    state: TaskRunState
    started_at: datetime | None
    ended_at: datetime | None


def insert_run(
    session: Session,
    *,
    job_id: int,
    run_name: str,
    spec_json: str,
    source_dir: str,
    parameters: dict[str, str],
    task_keys: list[str],
    now: datetime,
    trigger: str = "ONE_TIME",
    parent: tuple[int, str, int | None] | None = None,
    job_version: int | None = None,
    created_by: str | None = None,
    idempotency_token: str | None = None,
    trigger_info_json: str | None = None,
) -> int:
    """Record a new PENDING run with one BLOCKED task run per task; returns its run_id.

    ``parent`` is (run_id, task_key, iteration) for a child run.
    """
    parent_run_id, parent_task_key, iteration = parent or (None, None, None)
    run = RunRow(
        run_id=next_run_id(session), job_id=job_id, run_name=run_name, spec_json=spec_json,
        source_dir=source_dir, parameters_json=json.dumps(parameters), trigger=trigger,
        life_cycle_state=LifeCycleState.PENDING, state_message="", created_at=now,
        repair_count=0, parent_run_id=parent_run_id, parent_task_key=parent_task_key,
        iteration=iteration, job_version=job_version, created_by=created_by,
        idempotency_token=idempotency_token, trigger_info_json=trigger_info_json,
    )
    session.add(run)
    session.flush()
    session.execute(insert(TaskRunRow), [
        {"run_id": run.run_id, "task_key": key, "life_cycle_state": LifeCycleState.BLOCKED,
         "state_message": "", "attempt_count": 0, "retries_used": 0}
        for key in task_keys
    ])
    add_run_transition(session, run.run_id, LifeCycleState.PENDING, None, "created", now)
    return run.run_id


def get_run(session: Session, run_id: int) -> RunRow:
    """The run row, or NotFound."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise NotFound(f"no run {run_id}; `podium runs list` shows the runs")
    return row


def list_runs(
    session: Session,
    *,
    limit: int = 25,
    offset: int = 0,
    job_id: int | None = None,
    active_only: bool = False,
    completed_only: bool = False,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    job_ids: Collection[int] | None = None,
    top_level: bool = False,
) -> list[RunRow]:
    """Runs, newest first; ``top_level`` leaves out child runs, ``job_ids`` limits the
    runs to those jobs."""
    # The page's ids first, then their rows: sorting whole rows (each holds its job's
    # spec) to keep a page of them reads every matching run, 10,000 runs of a big job
    # being hundreds of megabytes; the ids alone come from an index.
    query = select(RunRow.run_id).order_by(RunRow.run_id.desc()).limit(limit).offset(offset)
    if job_id is not None:
        query = query.where(RunRow.job_id == job_id)
    if job_ids is not None:
        query = query.where(RunRow.job_id.in_(list(job_ids)))
    if active_only:
        query = query.where(RunRow.ended_at.is_(None))
    if completed_only:
        query = query.where(RunRow.ended_at.is_not(None))
    if created_from is not None:
        query = query.where(RunRow.created_at >= created_from)
    if created_to is not None:
        query = query.where(RunRow.created_at < created_to)
    if top_level:
        query = query.where(RunRow.parent_run_id.is_(None))
    ids = list(session.scalars(query))
    if not ids:
        return []
    return list(session.scalars(
        select(RunRow).where(RunRow.run_id.in_(ids)).order_by(RunRow.run_id.desc())))


def last_runs_by_job(session: Session, job_ids: Collection[int], n: int
                     ) -> dict[int, list[RunRow]]:
    """The ``n`` newest top-level runs of each job in ``job_ids``, newest first, in one
    query (a window function: SQLite 3.25+ and PostgreSQL); a job with no runs is left
    out."""
    if not job_ids or n < 1:
        return {}
    ranked = (
        select(RunRow.run_id, func.row_number().over(
            partition_by=RunRow.job_id, order_by=RunRow.run_id.desc()).label("rank"))
        .where(RunRow.job_id.in_(list(job_ids)), RunRow.parent_run_id.is_(None))
        .subquery()
    )
    query = (select(RunRow).join(ranked, ranked.c.run_id == RunRow.run_id)
             .where(ranked.c.rank <= n).order_by(RunRow.job_id, RunRow.run_id.desc()))
    out: dict[int, list[RunRow]] = {}
    for row in session.scalars(query):
        out.setdefault(row.job_id, []).append(row)
    return out


def task_states(session: Session, run_ids: Collection[int]
                ) -> dict[int, list[tuple[str, str, str | None, datetime | None,
                                          datetime | None]]]:
    """Each run's task runs as (task_key, life_cycle_state, result_state, started_at,
    ended_at), in the order they were recorded, in one query: what a runs matrix shows,
    without the rest of each task run."""
    if not run_ids:
        return {}
    query = (select(TaskRunRow.run_id, TaskRunRow.task_key, TaskRunRow.life_cycle_state,
                    TaskRunRow.result_state, TaskRunRow.started_at, TaskRunRow.ended_at)
             .where(TaskRunRow.run_id.in_(list(run_ids))).order_by(TaskRunRow.id))
    out: dict[int, list[tuple[str, str, str | None, datetime | None, datetime | None]]] = {}
    for run_id, key, life, result, started, ended in session.execute(query):
        out.setdefault(run_id, []).append((key, life, result, started, ended))
    return out


def find_run_by_token(session: Session, job_id: int, token: str) -> RunRow | None:
    """The run of ``job_id`` started with this idempotency token, if any."""
    return session.scalars(select(RunRow).where(
        RunRow.job_id == job_id, RunRow.idempotency_token == token
    )).first()


def runs_to_drive(session: Session) -> list[RunRow]:
    """Unfinished top-level runs, oldest first: what a server's engine may take up."""
    return list(session.scalars(
        select(RunRow).where(RunRow.ended_at.is_(None), RunRow.parent_run_id.is_(None))
        .order_by(RunRow.run_id)
    ))


def queued_runs(session: Session, job_id: int | None = None) -> list[RunRow]:
    """QUEUED top-level runs, oldest first: of one job when ``job_id`` is given."""
    query = select(RunRow).where(
        RunRow.life_cycle_state == LifeCycleState.QUEUED, RunRow.ended_at.is_(None),
        RunRow.parent_run_id.is_(None),
    ).order_by(RunRow.run_id)
    if job_id is not None:
        query = query.where(RunRow.job_id == job_id)
    return list(session.scalars(query))


def started_runs(session: Session, job_id: int) -> list[RunRow]:
    """The job's unfinished top-level runs that are not QUEUED (they run, or are about to)."""
    return list(session.scalars(select(RunRow).where(
        RunRow.job_id == job_id, RunRow.ended_at.is_(None), RunRow.parent_run_id.is_(None),
        RunRow.life_cycle_state != LifeCycleState.QUEUED,
    )))


def update_run_if(session: Session, run_id: int, expected: LifeCycleState,
                  **fields: Any) -> bool:
    """Update the run only while its life cycle state is still ``expected``; whether it
    was (so that of two processes changing the same run, one wins)."""
    result = session.execute(
        update(RunRow)
        .where(RunRow.run_id == run_id, RunRow.life_cycle_state == expected)
        .values(**fields)
    )
    return bool(getattr(result, "rowcount", 0))


def delete_run(session: Session, run_id: int) -> None:
    """Remove a finished run and its child runs with all they recorded."""
    children = list(session.scalars(select(RunRow.run_id).where(RunRow.parent_run_id == run_id)))
    for child in children:
        delete_run(session, child)
    for table in (TransitionRow, TaskValueRow, AttemptRow, TaskRunRow):
        session.execute(delete(table).where(table.run_id == run_id))
    session.execute(delete(RunRow).where(RunRow.run_id == run_id))


def child_runs(session: Session, run_id: int, task_key: str) -> list[RunRow]:
    """The child runs task ``task_key`` of run ``run_id`` started, oldest first."""
    query = (
        select(RunRow)
        .where(RunRow.parent_run_id == run_id, RunRow.parent_task_key == task_key)
        .order_by(RunRow.run_id)
    )
    return list(session.scalars(query))


def count_runs(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(RunRow)) or 0


def cancel_requested_among(session: Session, run_ids: list[int]) -> list[int]:
    """Which of ``run_ids`` someone asked to cancel."""
    return list(session.scalars(select(RunRow.run_id).where(
        RunRow.run_id.in_(run_ids), RunRow.cancel_requested_at.is_not(None)
    )))


def claim_run(session: Session, run_id: int, engine_id: str, holder: str | None,
              held_at: datetime | None, now: datetime) -> bool:
    """Make ``engine_id`` the run's holder if the run is unfinished and its holder and
    heartbeat are still ``holder`` and ``held_at`` (as the caller read them and judged
    them dead); whether it did.

    A compare-and-set: of several engines that read the same dead holder, exactly one
    update matches (on PostgreSQL the others wait for its row lock, then find the row
    changed), and the losers have changed nothing.
    """
    result = session.execute(
        update(RunRow)
        .where(RunRow.run_id == run_id, RunRow.ended_at.is_(None),
               RunRow.engine_id.is_not_distinct_from(holder),
               RunRow.heartbeat_at.is_not_distinct_from(held_at))
        .values(engine_id=engine_id, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def hold_run(session: Session, run_id: int, engine_id: str, now: datetime) -> bool:
    """Refresh the heartbeat of a run ``engine_id`` drives, if it still holds it; whether
    it does. The engine's fence: run first in each transaction that records a step, it
    keeps the run's row (PostgreSQL row lock, SQLite write lock) until the commit, so a
    takeover either waits for the step or the step finds the run taken and writes
    nothing."""
    result = session.connection().execute(
        _HOLD_RUN, {"b_run_id": run_id, "b_engine_id": engine_id, "heartbeat_at": now})
    return bool(getattr(result, "rowcount", 0))


# Built once (see below): it runs with every step of every run. By primary key, it costs
# about 0.1 ms a step on SQLite, even with a job spec of 500 kB in the row.
_runs = Base.metadata.tables["runs"]
_HOLD_RUN = update(_runs).where(
    _runs.c.run_id == bindparam("b_run_id"), _runs.c.engine_id == bindparam("b_engine_id"))


def beat(session: Session, run_ids: list[int], engine_id: str, now: datetime) -> list[int]:
    """Refresh the heartbeat of the runs ``engine_id`` drives; those among ``run_ids``
    it no longer holds (another engine took them over while this one was stalled)."""
    session.execute(update(RunRow)
                    .where(RunRow.run_id.in_(run_ids), RunRow.engine_id == engine_id)
                    .values(heartbeat_at=now)
                    .execution_options(synchronize_session=False))
    return list(session.scalars(select(RunRow.run_id).where(
        RunRow.run_id.in_(run_ids),
        (RunRow.engine_id != engine_id) | RunRow.engine_id.is_(None),
    )))


def request_cancel(session: Session, run_id: int, now: datetime) -> None:
    """Ask the engine running ``run_id`` to cancel it (no-op once it ended or was asked)."""
    session.execute(
        update(RunRow)
        .where(RunRow.run_id == run_id, RunRow.ended_at.is_(None),
               RunRow.cancel_requested_at.is_(None))
        .values(cancel_requested_at=now)
    )


def update_run(session: Session, run_id: int, **fields: Any) -> None:
    session.execute(update(RunRow).where(RunRow.run_id == run_id).values(**fields))


# Reads built once: `runs/get` is the API's hottest call, and building a statement costs
# more than running it.
_TASK_RUNS_OF = select(TaskRunRow).where(TaskRunRow.run_id == bindparam("run_id"))
_ATTEMPTS_OF = (select(AttemptRow).where(AttemptRow.run_id == bindparam("run_id"))
                .order_by(AttemptRow.attempt_id))
_VALUES_OF = select(TaskValueRow).where(TaskValueRow.run_id == bindparam("run_id"))


def get_task_runs(session: Session, run_id: int) -> dict[str, TaskRunRecord]:
    """The run's task runs by task key."""
    rows = session.scalars(_TASK_RUNS_OF, {"run_id": run_id})
    return {
        r.task_key: TaskRunRecord(
            TaskRunState(
                task_key=r.task_key,
                life_cycle_state=LifeCycleState(r.life_cycle_state),
                result_state=ResultState(r.result_state) if r.result_state else None,
                attempt_count=r.attempt_count,
                retries_used=r.retries_used,
                retry_at=r.retry_at,
                condition_outcome=r.condition_outcome,
                message=r.state_message,
            ),
            r.started_at,
            r.ended_at,
        )
        for r in rows
    }


# Statements built once and run on the session's connection (skipping the ORM layer):
# a run writes a handful of rows per task, and building and dispatching a statement
# costs SQLAlchemy more than SQLite takes to run it.
_task_runs = Base.metadata.tables["task_runs"]
_attempts = Base.metadata.tables["attempts"]
_SAVE_TASK_RUN = update(_task_runs).where(
    _task_runs.c.run_id == bindparam("b_run_id"), _task_runs.c.task_key == bindparam("b_task_key")
)
_INSERT_ATTEMPT = insert(_attempts)
_run_ids = Base.metadata.tables["run_ids"]
_NEW_RUN_ID = insert(_run_ids).returning(_run_ids.c.id)
_DROP_OLD_RUN_IDS = delete(_run_ids).where(_run_ids.c.id < bindparam("newest"))


def next_run_id(session: Session) -> int:
    """A new id for a run or a task run, never handed out before."""
    connection = session.connection()
    new = int(connection.execute(_NEW_RUN_ID).scalar_one())
    connection.execute(_DROP_OLD_RUN_IDS, {"newest": new})
    return new
_FINISH_ATTEMPT = update(_attempts).where(_attempts.c.attempt_id == bindparam("b_attempt_id"))
_INSERT_TRANSITION = insert(Base.metadata.tables["transitions"])


def save_task_runs(session: Session, run_id: int, records: list[TaskRunRecord]) -> None:
    """Store the full state of each task run in ``records`` (one statement)."""
    if not records:
        return
    session.connection().execute(_SAVE_TASK_RUN, [
        {
            "b_run_id": run_id, "b_task_key": r.state.task_key,
            "life_cycle_state": r.state.life_cycle_state.value,
            "result_state": r.state.result_state.value if r.state.result_state else None,
            "state_message": r.state.message, "attempt_count": r.state.attempt_count,
            "retries_used": r.state.retries_used, "retry_at": r.state.retry_at,
            "condition_outcome": r.state.condition_outcome,
            "started_at": r.started_at, "ended_at": r.ended_at,
        }
        for r in records
    ])


def insert_attempt(
    session: Session,
    *,
    run_id: int,
    task_key: str,
    attempt_number: int,
    repair_count: int,
    log_path: str,
    now: datetime,
) -> int:
    """Record a RUNNING attempt; returns its attempt_id (the task's run_id in the API)."""
    attempt_id = next_run_id(session)
    session.connection().execute(_INSERT_ATTEMPT, {
        "attempt_id": attempt_id, "run_id": run_id, "task_key": task_key,
        "attempt_number": attempt_number, "repair_count": repair_count,
        "life_cycle_state": LifeCycleState.RUNNING.value, "state_message": "",
        "started_at": now, "log_path": log_path,
    })
    return attempt_id


def finished_attempt_row(
    attempt_id: int,
    life_cycle_state: LifeCycleState,
    result_state: ResultState | None,
    message: str,
    exit_code: int | None,
    now: datetime,
    output: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One row for ``finish_attempts``."""
    return {
        "b_attempt_id": attempt_id, "life_cycle_state": life_cycle_state.value,
        "result_state": result_state.value if result_state else None,
        "state_message": message, "exit_code": exit_code, "ended_at": now,
        "output_json": json.dumps(output) if output else None,
    }


def finish_attempts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Record how attempts ended, from ``finished_attempt_row`` rows (one statement)."""
    if rows:
        session.connection().execute(_FINISH_ATTEMPT, rows)


def get_attempts(
    session: Session, run_id: int, task_key: str | None = None, running_only: bool = False
) -> list[AttemptRow]:
    """The run's attempts in the order they started."""
    query = _ATTEMPTS_OF
    if task_key is not None:
        query = query.where(AttemptRow.task_key == task_key)
    if running_only:
        query = query.where(AttemptRow.life_cycle_state == LifeCycleState.RUNNING)
    return list(session.scalars(query, {"run_id": run_id}))


def put_task_values(session: Session, run_id: int, task_key: str, values: dict[str, Any]) -> None:
    """Replace the values ``task_key`` set in this run by ``values``."""
    clear_task_values(session, run_id, [task_key])
    if values:
        session.execute(insert(TaskValueRow), [
            {"run_id": run_id, "task_key": task_key, "key": k, "value_json": json.dumps(v)}
            for k, v in values.items()
        ])


def clear_task_values(session: Session, run_id: int, task_keys: list[str]) -> None:
    session.execute(
        delete(TaskValueRow).where(
            TaskValueRow.run_id == run_id, TaskValueRow.task_key.in_(task_keys)
        )
    )


def get_task_values(session: Session, run_id: int) -> dict[str, dict[str, Any]]:
    """Every task value set in the run: {task_key: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for row in session.scalars(_VALUES_OF, {"run_id": run_id}):
        out.setdefault(row.task_key, {})[row.key] = json.loads(row.value_json)
    return out


def add_run_transition(
    session: Session,
    run_id: int,
    life_cycle_state: LifeCycleState,
    result_state: ResultState | None,
    message: str,
    now: datetime,
) -> None:
    """Record one state change of the run itself (not of one of its tasks)."""
    add_transitions(session, [transition_row(
        run_id, None, None, life_cycle_state, result_state, message, now
    )])


def transition_row(
    run_id: int,
    task_key: str | None,
    attempt_number: int | None,
    life_cycle_state: LifeCycleState,
    result_state: ResultState | None,
    message: str,
    now: datetime,
) -> dict[str, Any]:
    """One row for ``add_transitions``."""
    return {
        "run_id": run_id, "task_key": task_key, "attempt_number": attempt_number,
        "life_cycle_state": life_cycle_state.value,
        "result_state": result_state.value if result_state else None,
        "message": message, "at": now,
    }


def add_transitions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append transition rows made by ``transition_row`` (one statement)."""
    if rows:
        session.connection().execute(_INSERT_TRANSITION, rows)


def get_transitions(session: Session, run_id: int) -> list[TransitionRow]:
    query = select(TransitionRow).where(TransitionRow.run_id == run_id).order_by(TransitionRow.id)
    return list(session.scalars(query))
