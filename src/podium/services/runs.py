"""Run use-cases shared by the CLI (and later the API and UI): submit, execute, show,
list, cancel, repair, resume. Each opens its own transaction."""

from __future__ import annotations

import asyncio
import difflib
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from podium.core import TERMINAL, LifeCycleState, ResultState, plan_repair, termination_for
from podium.engine import STALE_AFTER, Engine, RunEvent, engine_alive, utcnow
from podium.errors import Conflict, InvalidArgument, NotFound
from podium.services.context import Podium
from podium.services.views import millis, output_dict, run_dict
from podium.spec import JobSpec, LoadedJob
from podium.store import AttemptRow
from podium.store import jobs as job_queries
from podium.store import runs as q

L = LifeCycleState


def submit_run(podium: Podium, loaded: LoadedJob, params: dict[str, str] | None = None) -> int:
    """Record a new run of ``loaded`` with ``params`` over the job's defaults.

    Raises:
        InvalidArgument: a parameter the job does not declare (with the nearest name).
    """
    spec = loaded.spec
    defaults = spec.parameter_defaults()
    for name in params or {}:
        if name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=1)
            hint = f"did you mean {close[0]!r}?" if close else (
                f"the job declares: {', '.join(defaults)}" if defaults else
                "the job declares no parameters"
            )
            raise InvalidArgument(f"--param {name}: the job has no parameter {name!r}; {hint}")
    now = utcnow()
    spec_json = spec.model_dump_json(exclude_defaults=True)
    with podium.sessions.begin() as session:
        job_id = job_queries.save_job_by_name(session, spec.name, spec_json, now)
        active = _active_runs(session, job_id, now)
        run_id = q.insert_run(
            session, job_id=job_id, run_name=spec.name, spec_json=spec_json,
            source_dir=str(Path(loaded.source_dir).resolve()),
            parameters={**defaults, **(params or {})},
            task_keys=[t.task_key for t in spec.tasks], now=now,
        )
        if active >= spec.max_concurrent_runs:
            _skip_run(session, run_id, spec.max_concurrent_runs, now)
        return run_id


def _active_runs(session: Session, job_id: int, now: datetime) -> int:
    """Runs of the job that are running, or were just submitted and not yet claimed.

    A run whose engine died is not counted: it runs nothing until it is resumed.
    """
    return sum(
        1 for run in q.list_runs(session, limit=1000, job_id=job_id, active_only=True)
        if engine_alive(run.engine_id, run.heartbeat_at, now)
        or (run.engine_id is None and now - run.created_at < STALE_AFTER)
    )


def _skip_run(session: Session, run_id: int, limit: int, now: datetime) -> None:
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


def save_job(podium: Podium, loaded: LoadedJob) -> int:
    """Store the job of ``loaded`` (created, or updated if one has its name); its job_id."""
    spec_json = loaded.spec.model_dump_json(exclude_defaults=True)
    with podium.sessions.begin() as session:
        return job_queries.save_job_by_name(session, loaded.spec.name, spec_json, utcnow())


def list_jobs(podium: Podium) -> list[dict[str, Any]]:
    """The stored jobs, in the Jobs API ``jobs/list`` item shape."""
    with podium.sessions() as session:
        return [
            {"job_id": row.job_id, "created_time": millis(row.created_at),
             "settings": JobSpec.model_validate_json(row.spec_json).model_dump(
                 mode="json", exclude_defaults=True)}
            for row in job_queries.list_jobs(session)
        ]


def execute_run(
    podium: Podium,
    run_id: int,
    on_event: Callable[[RunEvent], None] | None = None,
    cancel_on_signals: bool = False,
) -> ResultState:
    """Drive ``run_id`` to its end in this process (resuming it if it was interrupted).

    Args:
        on_event: called with each committed state change.
        cancel_on_signals: SIGINT/SIGTERM cancel the run cleanly instead of killing us.
    """
    engine = Engine(podium.sessions, podium.settings, on_event=on_event)

    async def drive() -> ResultState:
        if cancel_on_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, engine.request_cancel)
        try:
            return await engine.execute(run_id)
        finally:
            await engine.close()

    return asyncio.run(drive())


def get_run(podium: Podium, run_id: int) -> dict[str, Any]:
    """The run in the ``runs/get`` shape, with its tasks, attempts and task values."""
    with podium.sessions() as session:
        run = q.get_run(session, run_id)
        return run_dict(run, q.get_task_runs(session, run_id), q.get_attempts(session, run_id),
                        q.get_task_values(session, run_id))


def list_runs(
    podium: Podium, limit: int = 25, offset: int = 0, active_only: bool = False
) -> dict[str, Any]:
    """Runs newest first, in the ``runs/list`` shape."""
    if not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit: must be between 1 and 1000, got {limit}")
    with podium.sessions() as session:
        rows = q.list_runs(session, limit=limit + 1, offset=offset, active_only=active_only)
        return {"runs": [run_dict(r) for r in rows[:limit]], "has_more": len(rows) > limit}


def cancel_run(podium: Podium, run_id: int) -> str:
    """Ask for ``run_id`` to be canceled; returns what happened, in words.

    The engine running it notices within a second, terminates the running processes and
    records CANCELED / UPSTREAM_CANCELED. If no engine is running it (its process died),
    the cancellation is carried out here.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        run = q.get_run(session, run_id)
        if L(run.life_cycle_state) in TERMINAL:
            return f"run {run_id} already finished ({run.result_state}); nothing to cancel"
        q.request_cancel(session, run_id, now)
        alive = engine_alive(run.engine_id, run.heartbeat_at, now)
        unfinished_children = [
            child.run_id
            for key in q.get_task_runs(session, run_id)
            for child in q.child_runs(session, run_id, key)
            if child.ended_at is None
        ]
    if alive:
        return f"cancel requested; the engine running run {run_id} is stopping it"
    for child in unfinished_children:  # their engine died with the parent's
        cancel_run(podium, child)
    result = execute_run(podium, run_id)
    return f"run {run_id} canceled ({result})"


def repair_run(podium: Podium, run_id: int, task_keys: list[str] | None = None) -> list[str]:
    """Reopen a finished run so the given (default: failed and canceled) tasks and
    everything downstream of them run again; the successful ones keep their results.

    Returns the task keys that will re-run; call ``execute_run`` to run them.

    Raises:
        Conflict: the run is still running, or there is nothing to repair.
        InvalidArgument: a named task is not in the run.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        run = q.get_run(session, run_id)
        if L(run.life_cycle_state) not in TERMINAL:
            raise Conflict(f"run {run_id} is still {run.life_cycle_state}; repair it once it ends")
        spec = JobSpec.model_validate_json(run.spec_json)
        records = q.get_task_runs(session, run_id)
        try:
            keys = plan_repair(spec, {k: r.state for k, r in records.items()}, task_keys)
        except ValueError as exc:
            raise InvalidArgument(f"--task: {exc}") from None
        if not keys:
            raise Conflict(
                f"run {run_id} has no failed or canceled tasks; name tasks to re-run with --task"
            )
        ordered = [t.task_key for t in spec.tasks if t.task_key in keys]
        reset = [
            q.TaskRunRecord(
                replace(records[key].state, life_cycle_state=L.BLOCKED, result_state=None,
                        retries_used=0, retry_at=None, condition_outcome=None, message=""),
                records[key].started_at,
                None,
            )
            for key in ordered
        ]
        q.save_task_runs(session, run_id, reset)
        q.clear_task_values(session, run_id, ordered)
        repair_count = run.repair_count + 1
        message = f"repair {repair_count}: re-running {', '.join(ordered)}"
        q.update_run(
            session, run_id, life_cycle_state=L.PENDING, result_state=None, state_message=message,
            termination_code=None, termination_type=None, ended_at=None,
            cancel_requested_at=None, repair_count=repair_count,
        )
        q.add_run_transition(session, run_id, L.PENDING, None, message, now)
    return ordered


def log_path(podium: Podium, run_id: int, task_key: str, attempt: int | None = None) -> Path:
    """The log file of an attempt (default: the latest) of ``task_key`` in ``run_id``.

    Raises:
        NotFound: no such run, task or attempt.
    """
    with podium.sessions() as session:
        return Path(_find_attempt(session, run_id, task_key, attempt).log_path)


def get_output(
    podium: Podium, run_id: int, task_key: str, attempt: int | None = None
) -> dict[str, Any]:
    """An attempt's (default: the latest) output in the ``runs/get-output`` shape.

    Raises:
        NotFound: no such run, task or attempt.
    """
    with podium.sessions() as session:
        found = _find_attempt(session, run_id, task_key, attempt)
        return output_dict(q.get_run(session, run_id), found, task_key)


def _find_attempt(
    session: Session, run_id: int, task_key: str, attempt: int | None
) -> AttemptRow:
    """An attempt (default: the latest) of ``task_key`` in ``run_id``, or NotFound."""
    run = q.get_run(session, run_id)
    attempts = q.get_attempts(session, run_id, task_key)
    if not attempts:
        tasks = q.get_task_runs(session, run_id)
        if task_key not in tasks:
            close = difflib.get_close_matches(task_key, list(tasks), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise NotFound(f"run {run.run_id} has no task {task_key!r}{hint}")
        state = tasks[task_key].state
        if state.is_terminal:  # a condition, or a task skipped before it ran
            ended = (state.result_state or state.life_cycle_state).value
            reason = f": {state.message}" if state.message else ""
            raise NotFound(
                f"task {task_key!r} of run {run_id} started no process, so it has no log "
                f"or output; it ended {ended}{reason}"
            )
        raise NotFound(f"task {task_key!r} of run {run_id} has not started yet")
    if attempt is None:
        return attempts[-1]
    for row in attempts:
        if row.attempt_number == attempt:
            return row
    numbers = ", ".join(str(a.attempt_number) for a in attempts)
    raise NotFound(f"task {task_key!r} has no attempt {attempt}; attempts: {numbers}")


def attempt_running(podium: Podium, run_id: int, task_key: str) -> bool:
    """Whether the latest attempt of ``task_key`` is still running (for ``logs --follow``)."""
    with podium.sessions() as session:
        run = q.get_run(session, run_id)
        if L(run.life_cycle_state) in TERMINAL:
            return False
        state = q.get_task_runs(session, run_id).get(task_key)
        if state is None:
            raise NotFound(f"run {run_id} has no task {task_key!r}")
        return state.state.life_cycle_state not in TERMINAL
