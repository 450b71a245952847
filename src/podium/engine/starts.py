"""Starting runs: a new run of a job is recorded PENDING; when the job already runs
``max_concurrent_runs`` times at once it is QUEUED if the job's ``queue`` is enabled
(see ``queueing``), else SKIPPED. One place for every way a run starts: the CLI, the
API, schedules and triggers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from podium.core import LifeCycleState, ResultState, termination_for
from podium.engine import queueing
from podium.spec import JobSpec
from podium.store import JobRow, audit
from podium.store import jobs as job_queries
from podium.store import runs as q

L = LifeCycleState


def start_run(
    session: Session, job: JobRow, spec: JobSpec, params: dict[str, str], actor: str,
    now: datetime, *, trigger: str = "ONE_TIME", trigger_info: dict[str, Any] | None = None,
    token: str | None = None, reserve: str | None = None,
) -> int:
    """Record a new run of ``job`` with ``spec`` and the full ``params``; its run_id.

    Args:
        trigger: what started it (the Jobs API's ``trigger``: ONE_TIME, PERIODIC, ...).
        trigger_info: what the trigger knows (e.g. the files that arrived).
        token: the idempotency token it was started with.
        reserve: the engine id of the process that will execute the run itself, so that a
            server's engine does not take it up.
    """
    job_queries.lock_job(session, job.job_id)  # one start or queue decision at a time
    active = active_runs(session, job.job_id, now)
    queue = queueing.queue_enabled(spec)
    # Queued runs keep their order: a new run waits behind them even when there is room.
    ahead = len(q.queued_runs(session, job.job_id)) if queue else 0
    run_id = q.insert_run(
        session, job_id=job.job_id, run_name=spec.name,
        spec_json=spec.model_dump_json(exclude_defaults=True), source_dir=job.source_dir or "",
        parameters=params, task_keys=[t.task_key for t in spec.tasks], now=now,
        trigger=trigger, job_version=job.version, created_by=actor, idempotency_token=token,
        trigger_info_json=json.dumps(trigger_info) if trigger_info else None,
    )
    if reserve:
        q.update_run(session, run_id, engine_id=reserve, heartbeat_at=now)
    if queue and (ahead or active >= spec.max_concurrent_runs):
        message = queueing.queue_reason(active, spec.max_concurrent_runs, ahead)
        queueing.queue_run(session, run_id, message, now)
    elif active >= spec.max_concurrent_runs:
        skip_run(session, run_id, spec.max_concurrent_runs, now)
    audit.record(session, actor, "run", "job", job.job_id, now, run_id=run_id,
                 trigger=trigger)
    return run_id


def active_runs(session: Session, job_id: int, now: datetime) -> int:
    """Runs of the job that are running, or were just submitted and not yet claimed.

    A run whose engine died is not counted: it runs nothing until it is resumed. Queued
    runs are not counted.
    """
    return queueing.active_runs(session, job_id, now)


def skip_run(session: Session, run_id: int, limit: int, now: datetime) -> None:
    """Record ``run_id`` as SKIPPED: the job already runs ``limit`` times at once."""
    result = ResultState.MAXIMUM_CONCURRENT_RUNS_REACHED
    code, kind = termination_for(result)
    message = (f"skipped: the job is already running {limit} time(s) at once "
               f"(max_concurrent_runs: {limit})")
    q.update_run(session, run_id, life_cycle_state=L.SKIPPED, result_state=result,
                 termination_code=code, termination_type=kind, state_message=message,
                 ended_at=now)
    records = q.get_task_runs(session, run_id)
    q.save_task_runs(session, run_id, [
        q.TaskRunRecord(replace(r.state, life_cycle_state=L.SKIPPED), None, None)
        for r in records.values()
    ])
    q.add_run_transition(session, run_id, L.SKIPPED, result, message, now)
