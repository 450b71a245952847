"""Queries for insights: a job's recent top-level runs with their task runs, attempts
and numeric task values, as ``podium.insights`` rows. Bounded by a number of runs and
read through indexed columns (runs.job_id, and run_id first in the other tables);
only the columns insights use are read, never a run's spec."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.insights import History, PastAttempt, PastRun, PastTaskRun, PastValue
from podium.store.tables import AttemptRow, RunRow, TaskRunRow, TaskValueRow

MAX_RUNS = 200  # the most runs one question reads, whatever the caller asks


def job_history(session: Session, job_id: int, limit: int = 100,
                up_to_run_id: int | None = None) -> History:
    """The ``limit`` newest top-level runs of the job (up to ``up_to_run_id`` when
    given), newest first, with their task runs, attempts and numeric task values."""
    query = (select(RunRow.run_id, RunRow.life_cycle_state, RunRow.result_state,
                    RunRow.created_at, RunRow.started_at, RunRow.ended_at)
             .where(RunRow.job_id == job_id, RunRow.parent_run_id.is_(None))
             .order_by(RunRow.run_id.desc()).limit(min(max(limit, 1), MAX_RUNS)))
    if up_to_run_id is not None:
        query = query.where(RunRow.run_id <= up_to_run_id)
    runs = tuple(PastRun(*row) for row in session.execute(query))
    ids = [r.run_id for r in runs]
    if not ids:
        return History()
    return History(runs, _task_runs(session, ids), _attempts(session, ids),
                   _values(session, ids))


def _task_runs(session: Session, ids: Sequence[int]) -> tuple[PastTaskRun, ...]:
    rows = session.execute(
        select(TaskRunRow.run_id, TaskRunRow.task_key, TaskRunRow.result_state,
               TaskRunRow.started_at, TaskRunRow.ended_at)
        .where(TaskRunRow.run_id.in_(ids)))
    return tuple(PastTaskRun(*row) for row in rows)


def _attempts(session: Session, ids: Sequence[int]) -> tuple[PastAttempt, ...]:
    rows = session.execute(
        select(AttemptRow.run_id, AttemptRow.task_key, AttemptRow.attempt_number,
               AttemptRow.result_state, AttemptRow.started_at, AttemptRow.ended_at,
               AttemptRow.state_message, AttemptRow.repair_count)
        .where(AttemptRow.run_id.in_(ids)))
    return tuple(PastAttempt(*row) for row in rows)


def _values(session: Session, ids: Sequence[int]) -> tuple[PastValue, ...]:
    """Task values that are numbers (row counts, metrics); others say nothing to
    statistics."""
    rows = session.execute(
        select(TaskValueRow.run_id, TaskValueRow.task_key, TaskValueRow.key,
               TaskValueRow.value_json).where(TaskValueRow.run_id.in_(ids)))
    out = []
    for run_id, task_key, key, text in rows:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            out.append(PastValue(run_id, task_key, key, float(value)))
    return tuple(out)


def run_spec(session: Session, run_id: int) -> tuple[int, str] | None:
    """The job id of a run and its spec as it ran, if the run exists."""
    row = session.execute(select(RunRow.job_id, RunRow.spec_json)
                          .where(RunRow.run_id == run_id)).first()
    return None if row is None else (row[0], row[1])
