"""Run use-cases shared by the CLI (and later the API and UI): submit, execute, show,
list, cancel, repair, resume. Each opens its own transaction."""

from __future__ import annotations

import asyncio
import difflib
import json
import signal
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from podium.core import TERMINAL, LifeCycleState, ResultState, plan_repair
from podium.core.notify import has_health_rules, notifies_anyone
from podium.engine import (
    Engine,
    RunEvent,
    cancel_queued,
    engine_alive,
    start_run,
    this_engine_id,
    utcnow,
)
from podium.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from podium.notify import Notifier
from podium.services import jobs
from podium.services.auth import Principal, local_principal
from podium.services.context import Podium
from podium.services.views import notification_dict, output_dict, run_dict, stored_spec
from podium.spec import JobSpec, LoadedJob
from podium.store import AttemptRow, JobRow, RunRow, audit, notifications
from podium.store import jobs as job_queries
from podium.store import runs as q

L = LifeCycleState


def submit_run(
    podium: Podium, loaded: LoadedJob, params: dict[str, str] | None = None,
    actor: Principal | None = None,
) -> int:
    """Record a new run of ``loaded`` (stored as the job of its name) for this process to
    execute with ``execute_run``.

    Raises:
        InvalidArgument: a parameter the job does not declare (with the nearest name).
    """
    actor = actor or local_principal()
    spec = loaded.spec
    now = utcnow()
    with podium.sessions.begin() as session:
        job = jobs.store_by_name(session, spec, str(Path(loaded.source_dir).resolve()), actor,
                                 now)
        return _start_run(session, job, spec, params, actor, now, "--param",
                          reserve=this_engine_id())


def run_now(
    podium: Podium, job_id: int, actor: Principal, job_parameters: dict[str, str] | None = None,
    idempotency_token: str | None = None, only: list[str] | None = None,
) -> int:
    """Start a run of a stored job (``jobs/run-now``); a server's engine executes it.

    With an ``idempotency_token`` already used for this job, the run it started is
    returned instead of starting another.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        job = jobs.require(session, actor, job_id, jobs.MANAGE_RUN)
        if idempotency_token:
            earlier = q.find_run_by_token(session, job_id, idempotency_token)
            if earlier is not None:
                return earlier.run_id
        spec = JobSpec.model_validate_json(job.spec_json)
        if only:
            spec = _only(spec, only)
        return _start_run(session, job, spec, job_parameters, actor, now, "job_parameters",
                          token=idempotency_token, trigger="ONE_TIME")


def submit_once(podium: Podium, settings: dict[str, Any], actor: Principal,
                idempotency_token: str | None = None) -> int:
    """A one-time run of an inline spec (``runs/submit``): its job is not listed, and only
    its submitter (and admins) see it."""
    data = dict(settings)
    data.setdefault("name", data.pop("run_name", None) or "one-time run")
    spec, spec_json = jobs.validate_settings(data)
    now = utcnow()
    with podium.sessions.begin() as session:
        job = job_queries.create_job(session, spec.name, spec_json, actor.user_name, now,
                                     str(podium.settings.workspace))
        job_queries.set_permission(session, job.job_id, "user", actor.user_name, jobs.OWNER)
        job.deleted_at = now  # one-time: not a job anyone lists or runs again
        if idempotency_token:
            earlier = session.scalars(select(RunRow).where(
                RunRow.idempotency_token == idempotency_token, RunRow.created_by ==
                actor.user_name, RunRow.trigger == "ONE_TIME_SUBMIT")).first()
            if earlier is not None:
                session.rollback()
                return earlier.run_id
        return _start_run(session, job, spec, None, actor, now, "parameters",
                          token=idempotency_token, trigger="ONE_TIME_SUBMIT")


def _only(spec: JobSpec, keys: list[str]) -> JobSpec:
    """The job with only the tasks ``keys`` (``run-now``'s ``only``); dependencies on the
    tasks left out are dropped."""
    known = [t.task_key for t in spec.tasks]
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InvalidArgument(f"only: the job has no task {key!r}{hint}")
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data["tasks"] = [
        {**t, "depends_on": [d for d in t.get("depends_on", []) if d["task_key"] in keys]}
        for t in data["tasks"] if t["task_key"] in keys
    ]
    return JobSpec.model_validate(data)


def _start_run(
    session: Session, job: JobRow, spec: JobSpec, params: dict[str, str] | None,
    actor: Principal, now: datetime, params_name: str, *, token: str | None = None,
    trigger: str = "ONE_TIME", reserve: str | None = None,
) -> int:
    """Record a new run of ``job`` with ``params`` over its defaults.

    Raises:
        InvalidArgument: a parameter the job does not declare (with the nearest name).
    """
    defaults = spec.parameter_defaults()
    for name in params or {}:
        if name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=1)
            hint = f"did you mean {close[0]!r}?" if close else (
                f"the job declares: {', '.join(defaults)}" if defaults else
                "the job declares no parameters"
            )
            raise InvalidArgument(f"{params_name} {name}: the job has no parameter {name!r}; "
                                  f"{hint}")
    return start_run(session, job, spec, {**defaults, **(params or {})}, actor.user_name, now,
                     trigger=trigger, token=token, reserve=reserve)


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
    with podium.sessions() as session:
        spec = stored_spec(q.get_run(session, run_id).spec_json)
    notifier = None
    if notifies_anyone(spec) or has_health_rules(spec):
        notifier = Notifier(podium.sessions, podium.settings, podium.settings.public_url)
    engine = Engine(podium.sessions, podium.settings,
                    on_event=_both(on_event, notifier.on_event if notifier else None))

    async def drive() -> ResultState:
        if cancel_on_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, engine.request_cancel)
        notifying = asyncio.create_task(notifier.run()) if notifier else None
        try:
            return await engine.execute(run_id)
        finally:
            await engine.close()
            if notifier and notifying:
                await _deliver_before_exit(notifier, notifying)

    return asyncio.run(drive())


# How long a `podium run` waits after its run for its notifications to be delivered;
# what is not sent by then is left PENDING for a server (or the next run) to send.
NOTIFY_WAIT_SECONDS = 30.0


async def _deliver_before_exit(notifier: Notifier, notifying: asyncio.Task[None]) -> None:
    deadline = asyncio.get_running_loop().time() + NOTIFY_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if await asyncio.to_thread(notifier.settled):
            break
        await asyncio.sleep(0.05)
    notifying.cancel()
    await asyncio.gather(notifying, return_exceptions=True)
    await notifier.close()


def _both(
    first: Callable[[RunEvent], None] | None, second: Callable[[RunEvent], None] | None
) -> Callable[[RunEvent], None] | None:
    if first is None or second is None:
        return first or second

    def both(event: RunEvent) -> None:
        first(event)
        second(event)

    return both


def _run_for(session: Session, run_id: int, actor: Principal | None, level: str) -> RunRow:
    """The run, if ``actor`` (None: the local user, an admin) holds ``level`` on its job.

    Raises:
        NotFound: no such run, or one the actor may not see.
        PermissionDenied: the actor sees the run but lacks ``level``.
    """
    try:
        run = q.get_run(session, run_id)
    except NotFound:
        task_run = session.get(AttemptRow, run_id)
        if task_run is None:
            raise
        raise NotFound(
            f"{run_id} is the run_id of a task run (task {task_run.task_key!r} of run "
            f"{task_run.run_id}); use {task_run.run_id} here, or runs/get-output for the "
            "task's output"
        ) from None
    if actor is None or actor.is_admin:
        return run
    held = jobs.job_level(session, actor, run.job_id)
    if held is None:
        raise NotFound(f"run {run_id} does not exist")
    if not jobs.at_least(held, level):
        raise PermissionDenied(f"{actor.user_name} has {held} on the job of run {run_id}; "
                               f"this needs {level}")
    return run


def get_run(podium: Podium, run_id: int, actor: Principal | None = None) -> dict[str, Any]:
    """The run in the ``runs/get`` shape, with its tasks, attempts and task values."""
    with podium.sessions() as session:
        run = _run_for(session, run_id, actor, jobs.VIEW)
        out = run_dict(run, q.get_task_runs(session, run_id), q.get_attempts(session, run_id),
                       q.get_task_values(session, run_id))
        # Podium extension: each notification of the run and how its delivery went.
        out["notifications"] = [notification_dict(n) for n in notifications.for_run(session,
                                                                                   run_id)]
        return out


def list_runs(
    podium: Podium, limit: int = 25, offset: int = 0, active_only: bool = False, *,
    actor: Principal | None = None, job_id: int | None = None, completed_only: bool = False,
    start_time_from: int | None = None, start_time_to: int | None = None,
    expand_tasks: bool = False, top_level: bool = False,
) -> dict[str, Any]:
    """Runs newest first, in the ``runs/list`` shape; times are epoch milliseconds."""
    if not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit: must be between 1 and 1000, got {limit}")
    if offset < 0:
        raise InvalidArgument(f"offset: must not be negative, got {offset}")
    if active_only and completed_only:
        raise InvalidArgument("active_only and completed_only: give at most one")
    with podium.sessions() as session:
        visible = jobs.visible_jobs(session, actor) if actor else None
        rows = q.list_runs(
            session, limit=limit + 1, offset=offset, active_only=active_only,
            completed_only=completed_only, job_id=job_id, job_ids=visible, top_level=top_level,
            # Runs started at or after start_time_from, and at or before start_time_to.
            created_from=from_millis(start_time_from),
            created_to=from_millis(None if start_time_to is None else start_time_to + 1),
        )
        runs = [
            run_dict(r, q.get_task_runs(session, r.run_id), q.get_attempts(session, r.run_id))
            if expand_tasks else run_dict(r)
            for r in rows[:limit]
        ]
        return {"runs": runs, "has_more": len(rows) > limit}


def last_runs_by_job(podium: Podium, actor: Principal | None, job_ids: list[int], n: int
                     ) -> dict[int, list[dict[str, Any]]]:
    """The ``n`` newest top-level runs of each of ``job_ids`` the actor may see, newest
    first, in the ``runs/list`` shape (without tasks): one query for all the jobs, for a
    list of jobs with their last runs. A job with no runs (or not visible) maps to []."""
    if not 1 <= n <= 1000:
        raise InvalidArgument(f"n: must be between 1 and 1000, got {n}")
    with podium.sessions() as session:
        visible = jobs.visible_jobs(session, actor) if actor else None
        wanted = [j for j in job_ids if visible is None or j in visible]
        found = q.last_runs_by_job(session, wanted, n)
        return {j: [run_dict(r) for r in found.get(j, [])] for j in job_ids}


def runs_matrix(podium: Podium, actor: Principal | None, job_id: int, n: int
                ) -> list[dict[str, Any]]:
    """The ``n`` newest top-level runs of the job, newest first, in the ``runs/list``
    shape, each with a lean ``tasks`` list (``task_key``, ``state``,
    ``execution_duration`` only): a runs matrix of a job with hundreds of tasks in two
    queries, not two per run.

    Raises:
        NotFound: no such job, or one the actor may not see.
    """
    if not 1 <= n <= 1000:
        raise InvalidArgument(f"n: must be between 1 and 1000, got {n}")
    with podium.sessions() as session:
        if actor is not None:
            jobs.require(session, actor, job_id, jobs.VIEW)
        rows = q.last_runs_by_job(session, [job_id], n).get(job_id, [])
        states = q.task_states(session, [r.run_id for r in rows])
        out = []
        for row in rows:
            run = run_dict(row)
            run["tasks"] = [
                {"task_key": key,
                 "state": {"life_cycle_state": life, **({"result_state": result}
                                                        if result else {})},
                 "execution_duration": int((ended - started).total_seconds() * 1000)
                 if started and ended else 0}
                for key, life, result, started, ended in states.get(row.run_id, [])
            ]
            out.append(run)
        return out


def from_millis(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def cancel_run(podium: Podium, run_id: int, actor: Principal | None = None) -> str:
    """Ask for ``run_id`` to be canceled; returns what happened, in words.

    The engine running it notices within a second, terminates the running processes and
    records CANCELED / UPSTREAM_CANCELED. If no engine is running it (its process died),
    the cancellation is carried out here.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        run = _run_for(session, run_id, actor, jobs.MANAGE_RUN)
        if L(run.life_cycle_state) in TERMINAL:
            return f"run {run_id} already finished ({run.result_state}); nothing to cancel"
        audit.record(session, (actor or local_principal()).user_name, "cancel", "run", run_id,
                     now)
        if run.life_cycle_state == L.QUEUED:
            job_queries.lock_job(session, run.job_id)  # not while it is taken from the queue
            if cancel_queued(session, run_id, now):
                return f"run {run_id} canceled while queued; nothing of it ran"
        q.request_cancel(session, run_id, now)
        alive = engine_alive(run.engine_id, run.heartbeat_at, now, run_id)
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
    try:
        result = execute_run(podium, run_id)
    except Conflict:  # an engine took the run up meanwhile: it sees the request
        return f"cancel requested; the engine running run {run_id} is stopping it"
    return f"run {run_id} canceled ({result})"


def cancel_all(podium: Podium, job_id: int, actor: Principal | None = None) -> list[int]:
    """Cancel every unfinished run of a job (``runs/cancel-all``); the runs asked to stop."""
    with podium.sessions() as session:
        jobs.require(session, actor or local_principal(), job_id, jobs.MANAGE_RUN)
        active = [r.run_id for r in q.list_runs(session, limit=1000, job_id=job_id,
                                                 active_only=True, top_level=True)]
    for run_id in active:
        cancel_run(podium, run_id, actor)
    return active


def delete_run(podium: Podium, run_id: int, actor: Principal | None = None) -> None:
    """Delete a finished run with its records and logs (``runs/delete``).

    Raises:
        Conflict: the run has not finished; cancel it first.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        run = _run_for(session, run_id, actor, jobs.MANAGE)
        if run.parent_run_id is not None:
            raise Conflict(f"run {run_id} is part of run {run.parent_run_id}; delete that one")
        if L(run.life_cycle_state) not in TERMINAL:
            raise Conflict(f"run {run_id} is still {run.life_cycle_state}; cancel it first")
        attempts = [a.log_path for a in q.get_attempts(session, run_id)]
        q.delete_run(session, run_id)
        audit.record(session, (actor or local_principal()).user_name, "delete", "run", run_id,
                     now)
    for path in attempts:
        Path(path).unlink(missing_ok=True)


def repair_run(
    podium: Podium, run_id: int, task_keys: list[str] | None = None,
    actor: Principal | None = None, latest_repair_id: int | None = None,
    job_parameters: dict[str, str] | None = None,
) -> list[str]:
    """Reopen a finished run so the given (default: failed and canceled) tasks and
    everything downstream of them run again; the successful ones keep their results.

    Returns the task keys that will re-run; call ``execute_run`` to run them.

    Raises:
        Conflict: the run is still running, or there is nothing to repair.
        InvalidArgument: a named task is not in the run.
    """
    now = utcnow()
    with podium.sessions.begin() as session:
        run = _run_for(session, run_id, actor, jobs.MANAGE_RUN)
        if L(run.life_cycle_state) not in TERMINAL:
            raise Conflict(f"run {run_id} is still {run.life_cycle_state}; repair it once it ends")
        if latest_repair_id is not None and latest_repair_id != run.repair_count:
            raise Conflict(f"latest_repair_id: {latest_repair_id} is not the latest repair of "
                           f"run {run_id} ({run.repair_count}); reload the run and try again")
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
        params = json.loads(run.parameters_json)
        for name in job_parameters or {}:
            if name not in params:
                raise InvalidArgument(f"job_parameters {name}: the run has no parameter "
                                      f"{name!r}; it has: {', '.join(params) or 'none'}")
        q.update_run(
            session, run_id, life_cycle_state=L.PENDING, result_state=None, state_message=message,
            termination_code=None, termination_type=None, ended_at=None,
            cancel_requested_at=None, repair_count=repair_count,
            parameters_json=json.dumps({**params, **(job_parameters or {})}),
        )
        q.add_run_transition(session, run_id, L.PENDING, None, message, now)
        audit.record(session, (actor or local_principal()).user_name, "repair", "run", run_id,
                     now, tasks=ordered)
    return ordered


def log_path(
    podium: Podium, run_id: int, task_key: str, attempt: int | None = None,
    actor: Principal | None = None,
) -> Path:
    """The log file of an attempt (default: the latest) of ``task_key`` in ``run_id``.

    Raises:
        NotFound: no such run, task or attempt.
    """
    with podium.sessions() as session:
        _run_for(session, run_id, actor, jobs.VIEW)
        return Path(_find_attempt(session, run_id, task_key, attempt).log_path)


def read_log(path: Path, offset: int, limit: int) -> bytes:
    """Up to ``limit`` bytes of the log at ``path`` from byte ``offset`` (none yet: b"")."""
    try:
        with open(path, "rb") as log:
            log.seek(offset)
            return log.read(limit)
    except FileNotFoundError:
        return b""


def get_output(
    podium: Podium, run_id: int, task_key: str, attempt: int | None = None,
    actor: Principal | None = None,
) -> dict[str, Any]:
    """An attempt's (default: the latest) output in the ``runs/get-output`` shape.

    Raises:
        NotFound: no such run, task or attempt.
    """
    with podium.sessions() as session:
        run = _run_for(session, run_id, actor, jobs.VIEW)
        found = _find_attempt(session, run_id, task_key, attempt)
        return output_dict(run, found, task_key)


def get_task_output(podium: Podium, task_run_id: int,
                    actor: Principal | None = None) -> dict[str, Any]:
    """``runs/get-output`` by the run_id of a task run (an attempt), as the Jobs API asks.

    Raises:
        NotFound: no task run with that id.
        InvalidArgument: the id is a whole job run's: the output is per task.
    """
    with podium.sessions() as session:
        attempt = session.get(AttemptRow, task_run_id)
        if attempt is None:
            run = session.get(RunRow, task_run_id)
            if run is not None:
                tasks = q.get_task_runs(session, task_run_id)
                if len(tasks) == 1 and (only := q.get_attempts(session, task_run_id)):
                    attempt = only[-1]
                else:
                    raise InvalidArgument(
                        f"run_id: {task_run_id} is a run with several tasks; get-output takes "
                        "the run_id of one task run (runs/get lists them under tasks[])"
                    )
            else:
                raise NotFound(f"no task run {task_run_id}")
        run = _run_for(session, attempt.run_id, actor, jobs.VIEW)
        return output_dict(run, attempt, attempt.task_key)


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


def attempt_running(podium: Podium, run_id: int, task_key: str,
                    actor: Principal | None = None) -> bool:
    """Whether the latest attempt of ``task_key`` is still running (for ``logs --follow``)."""
    with podium.sessions() as session:
        run = _run_for(session, run_id, actor, jobs.VIEW)
        if L(run.life_cycle_state) in TERMINAL:
            return False
        state = q.get_task_runs(session, run_id).get(task_key)
        if state is None:
            raise NotFound(f"run {run_id} has no task {task_key!r}")
        return state.state.life_cycle_state not in TERMINAL
