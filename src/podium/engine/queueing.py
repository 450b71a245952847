"""Holding runs back: a run over its job's ``max_concurrent_runs`` waits QUEUED when the
job's ``queue.enabled``, and queued runs start strictly in order, oldest first, as the
job's running runs end.

Who takes a run out of the queue:

- a server's Dispatcher, for runs no live process holds (started through the API, or
  left by a ``podium run`` that died);
- the ``podium run`` (or ``podium runs resume``) process that recorded the run, which
  waits in ``wait_turn`` until its run is first in line and the job has room.

Every decision about a job's runs (start, queue, take from the queue, cancel a queued
run) is made holding the job's row (``store.jobs.lock_job``), so two processes never
both see the same free place: when one run ends, exactly one queued run starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from podium.core import LifeCycleState, ResultState, termination_for
from podium.engine.liveness import STALE_AFTER, engine_alive
from podium.spec import JobSpec
from podium.store import RunRow
from podium.store import jobs as job_queries
from podium.store import runs as q

L = LifeCycleState
R = ResultState


def queue_reason(running: int, limit: int, ahead: int = 0) -> str:
    """The state message of a queued run (also its ``queue_reason``)."""
    if running >= limit:
        return (f"waiting: the job already runs {running} of {limit} allowed at once "
                "(max_concurrent_runs)")
    return f"waiting: {ahead} earlier queued run(s) of the job start first"


def active_runs(session: Session, job_id: int, now: datetime) -> int:
    """The job's top-level runs that run, or were just submitted and not yet taken up.

    Queued runs are not counted. A run whose engine died is not counted either: it runs
    nothing until it is resumed (a server resumes such runs, and ``take_from_queue``
    counts them). An unclaimed run counts for a while after it was recorded or taken
    from the queue (its ``heartbeat_at``), the time a server takes to take it up.
    """
    return sum(
        1 for run in q.started_runs(session, job_id)
        if engine_alive(run.engine_id, run.heartbeat_at, now, run.run_id)
        or (run.engine_id is None and now - (run.heartbeat_at or run.created_at) < STALE_AFTER)
    )


def queue_enabled(spec: JobSpec) -> bool:
    return spec.queue is not None and spec.queue.enabled


def queue_run(session: Session, run_id: int, message: str, now: datetime) -> None:
    """Record the new run ``run_id`` as QUEUED, saying why."""
    q.update_run(session, run_id, life_cycle_state=L.QUEUED, state_message=message)
    q.add_run_transition(session, run_id, L.QUEUED, None, message, now)


def _in_line(run: RunRow, now: datetime, me: int | None) -> bool:
    """Whether a queued run waits its turn: one held by a process that died waits only
    for a server to take it up, so a ``podium run`` (``me``) does not wait behind it."""
    if me is None or run.run_id == me or run.engine_id is None:
        return True
    return engine_alive(run.engine_id, run.heartbeat_at, now, run.run_id)


def _release(session: Session, run: RunRow, now: datetime, engine_id: str | None) -> bool:
    """Move ``run`` from QUEUED to PENDING, held by ``engine_id`` (None: unclaimed, for
    a server to take up); False if it was no longer queued."""
    if not q.update_run_if(session, run.run_id, L.QUEUED, life_cycle_state=L.PENDING,
                           state_message="", engine_id=engine_id, heartbeat_at=now):
        return False
    q.add_run_transition(session, run.run_id, L.PENDING, None,
                         "left the queue: the job has room", now)
    return True


def take_from_queue(sessions: sessionmaker[Session], job_id: int, now: datetime) -> list[int]:
    """For a server's Dispatcher: move the oldest queued runs of ``job_id`` to PENDING
    while the job has room, and return them (the caller drives them).

    Every unfinished run of the job that is not queued holds a place — also one whose
    engine died, since the Dispatcher resumes it. The queue stops at a run a live
    process holds (a waiting ``podium run``): that process starts it.
    """
    released: list[int] = []
    with sessions() as session:  # most looks find no room: look before taking the lock
        if _next_for_server(session, job_id, now) is None:
            return released
    with sessions.begin() as session:
        job_queries.lock_job(session, job_id)
        # What this transaction released is PENDING to its own reads: the line shortens
        # and the job fills up as it goes.
        while (run := _next_for_server(session, job_id, now)) is not None:
            if not _release(session, run, now, None):
                break  # changed by someone not holding the lock: look again next time
            released.append(run.run_id)
    return released


def _next_for_server(session: Session, job_id: int, now: datetime) -> RunRow | None:
    """The job's first queued run, if a server may start it now."""
    line = q.queued_runs(session, job_id)
    if not line:
        return None
    run = line[0]
    if run.engine_id is not None and engine_alive(run.engine_id, run.heartbeat_at, now,
                                                  run.run_id):
        return None  # a waiting `podium run` holds it and starts it itself
    spec = JobSpec.model_validate_json(run.spec_json)
    return run if len(q.started_runs(session, job_id)) < spec.max_concurrent_runs else None


def try_own_turn(session: Session, run: RunRow, engine_id: str, now: datetime) -> str | None:
    """For the process holding the queued ``run``: start it (PENDING) when it is first in
    line and the job has room, and return None; else refresh its hold on the run and
    return why it still waits."""
    job_queries.lock_job(session, run.job_id)
    spec = JobSpec.model_validate_json(run.spec_json)
    line = [r for r in q.queued_runs(session, run.job_id) if _in_line(r, now, run.run_id)]
    ahead = sum(1 for r in line if r.run_id < run.run_id)
    running = active_runs(session, run.job_id, now)
    if ahead == 0 and running < spec.max_concurrent_runs:
        _release(session, run, now, engine_id)
        return None
    q.update_run(session, run.run_id, engine_id=engine_id, heartbeat_at=now)
    return queue_reason(running, spec.max_concurrent_runs, ahead)


async def wait_turn(
    sessions: sessionmaker[Session], run_id: int, engine_id: str,
    clock: Callable[[], datetime], poll_seconds: float,
    canceled: Callable[[], bool], on_wait: Callable[[str], None] | None = None,
) -> None:
    """Wait while ``run_id`` is QUEUED, until it may start (then it is PENDING, held by
    ``engine_id``) or is canceled (``canceled()`` turning true cancels it here).

    ``on_wait`` is called with the reason each time it changes.
    """
    shown = None
    while True:
        now = clock()
        with sessions.begin() as session:
            run = q.get_run(session, run_id)
            if run.life_cycle_state != L.QUEUED:
                return
            if shown is None and on_wait is not None:  # why it was queued, even if it
                shown = run.state_message              # may start at once now
                on_wait(shown)
            if canceled():
                cancel_queued(session, run_id, now, "canceled while queued")
                return
            reason = try_own_turn(session, run, engine_id, now)
        if reason is None:
            return
        if reason != shown and on_wait is not None:
            on_wait(reason)
        shown = reason
        await asyncio.sleep(poll_seconds)


def cancel_queued(session: Session, run_id: int, now: datetime,
                  message: str = "canceled by the user while queued") -> bool:
    """End a QUEUED run as CANCELED without starting any of it; False if it is no longer
    queued (it started meanwhile: cancel it the usual way)."""
    result = R.CANCELED
    code, kind = termination_for(result, canceled_by_user=True)
    if not q.update_run_if(session, run_id, L.QUEUED, life_cycle_state=L.TERMINATED,
                           result_state=result, termination_code=code, termination_type=kind,
                           state_message=message, ended_at=now, engine_id=None):
        return False
    records = q.get_task_runs(session, run_id)
    q.save_task_runs(session, run_id, [
        q.TaskRunRecord(replace(r.state, life_cycle_state=L.TERMINATED, result_state=result,
                                message=message), None, None)
        for r in records.values()
    ])
    q.add_run_transition(session, run_id, L.TERMINATED, result, message, now)
    return True
