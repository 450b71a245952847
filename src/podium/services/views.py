"""Runs rendered in the Jobs API 2.2 shapes (``runs/get``, ``runs/list``), shared by the
API and by the CLI's ``--output json`` so scripts see one format."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from podium.core import LifeCycleState, ResultState, status_state, termination_for
from podium.spec.models import JobSpec
from podium.store import AttemptRow, RunRow
from podium.store.runs import TaskRunRecord
from podium.store.tables import NotificationRow


@functools.lru_cache(maxsize=256)
def stored_spec(spec_json: str) -> JobSpec:
    """A run's spec, parsed once: runs of one job share it, and views only read it."""
    return JobSpec.model_validate_json(spec_json)


def millis(at: datetime | None) -> int:
    """Epoch milliseconds, 0 for "not yet" as the Jobs API does."""
    return int(at.timestamp() * 1000) if at else 0


def state_dict(life: str, result: str | None, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {"life_cycle_state": life, "state_message": message}
    if life == "QUEUED":
        out["queue_reason"] = message
    if result:
        out["result_state"] = result
        out["user_cancelled_or_timedout"] = result in ("CANCELED", "TIMEDOUT")
    return out


def status_dict(life: str, result: str | None, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {"state": status_state(LifeCycleState(life)).value}
    if life == "QUEUED":  # the one reason Podium queues a run: the job's own limit
        out["queue_details"] = {"code": "MAX_CONCURRENT_RUNS_REACHED", "message": message}
    if life in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
        code, kind = termination_for(ResultState(result) if result else None)
        out["termination_details"] = {"code": code.value, "type": kind.value, "message": message}
    return out


def run_dict(
    run: RunRow,
    tasks: dict[str, TaskRunRecord] | None = None,
    attempts: list[AttemptRow] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One run as ``runs/get`` returns it; ``tasks`` only when task runs are given."""
    params = json.loads(run.parameters_json)
    out: dict[str, Any] = {
        "job_id": run.job_id,
        "run_id": run.run_id,
        "run_name": run.run_name,
        "number_in_job": run.run_id,
        "state": state_dict(run.life_cycle_state, run.result_state, run.state_message),
        "status": status_dict(run.life_cycle_state, run.result_state, run.state_message),
        # When the run was started (triggered), as Databricks counts it: queueing included,
        # and the time runs/list's start_time_from/to filter on.
        "start_time": millis(run.created_at),
        "end_time": millis(run.ended_at),
        "run_duration": _duration(run.started_at, run.ended_at),
        "trigger": run.trigger,
        "run_type": "JOB_RUN",
        "repair_count": run.repair_count,
        "job_version": run.job_version,  # the version of the job's settings that ran
        "job_parameters": [{"name": k, "value": v} for k, v in params.items()],
    }
    if run.trigger_info_json:  # what the trigger knew, e.g. the files that arrived
        out["trigger_info"] = json.loads(run.trigger_info_json)
    if run.parent_run_id is not None:
        out["parent_run_id"] = run.parent_run_id
        out["parent_task_key"] = run.parent_task_key
        if run.iteration is not None:
            out["iteration"] = run.iteration
    if run.termination_code:
        out["status"]["termination_details"]["code"] = run.termination_code
    if tasks is not None:
        spec = stored_spec(run.spec_json)
        by_task: dict[str, list[AttemptRow]] = {}
        for attempt in attempts or []:
            by_task.setdefault(attempt.task_key, []).append(attempt)
        out["tasks"] = [
            _task_dict(spec, key, tasks[key], by_task.get(key, []), (values or {}).get(key, {}))
            for key in (t.task_key for t in spec.tasks)
        ]
    return out


def _task_dict(
    spec: JobSpec,
    key: str,
    record: TaskRunRecord,
    attempts: list[AttemptRow],
    values: dict[str, Any],
) -> dict[str, Any]:
    task = spec.task(key)
    state = record.state
    life, result = state.life_cycle_state.value, state.result_state
    out: dict[str, Any] = task.model_dump(mode="json", exclude_defaults=True)
    latest = attempts[-1] if attempts else None
    out.update({
        "run_id": latest.attempt_id if latest else 0,
        "attempt_number": latest.attempt_number if latest else 0,
        "state": state_dict(life, result.value if result else None, state.message),
        "status": status_dict(life, result.value if result else None, state.message),
        "start_time": millis(record.started_at),
        "end_time": millis(record.ended_at),
        "execution_duration": _duration(record.started_at, record.ended_at),
        "task_values": values,
        "attempts": [_attempt_dict(a) for a in attempts],
    })
    if state.condition_outcome is not None:
        out["condition_task"] = {**out.get("condition_task", {}),
                                 "outcome": state.condition_outcome}
    return out


def _attempt_dict(a: AttemptRow) -> dict[str, Any]:
    return {
        "run_id": a.attempt_id,
        "attempt_number": a.attempt_number,
        "repair_count": a.repair_count,
        "state": state_dict(a.life_cycle_state, a.result_state, a.state_message),
        "start_time": millis(a.started_at),
        "end_time": millis(a.ended_at),
        "execution_duration": _duration(a.started_at, a.ended_at),
        "exit_code": a.exit_code,
        "log_path": a.log_path,
    }


def notification_dict(n: NotificationRow) -> dict[str, Any]:
    """One notification of a run and its delivery (a Podium extension of runs/get)."""
    out: dict[str, Any] = {
        "event": n.event, "channel": n.channel, "destination": n.destination,
        "state": n.state, "attempts": n.attempts, "created_time": millis(n.created_at),
    }
    if n.task_key:
        out["task_key"] = n.task_key
    if n.sent_at is not None:
        out["sent_time"] = millis(n.sent_at)
    if n.error:
        out["error"] = n.error
    return out


def _duration(start: datetime | None, end: datetime | None) -> int:
    return int((end - start).total_seconds() * 1000) if start and end else 0


# runs/get-output returns the end of the log, as Databricks returns its last part.
LOG_TAIL_CHARS = 10_000


def output_dict(run: RunRow, attempt: AttemptRow, task_key: str) -> dict[str, Any]:
    """One attempt's output in the ``runs/get-output`` shape."""
    output: dict[str, Any] = json.loads(attempt.output_json) if attempt.output_json else {}
    error_trace = output.pop("error_trace", None)
    output.pop("error", None)
    logs, truncated = _log_tail(attempt.log_path)
    out: dict[str, Any] = {
        "metadata": {
            "job_id": run.job_id, "run_id": attempt.attempt_id, "parent_run_id": run.run_id,
            "task_key": task_key, **_attempt_dict(attempt),
        },
        **output,
        "logs": logs,
        "logs_truncated": truncated,
    }
    if attempt.result_state not in (None, "SUCCESS") or attempt.life_cycle_state == (
        "INTERNAL_ERROR"
    ):
        out["error"] = attempt.state_message
        if error_trace:
            out["error_trace"] = error_trace
    return out


def _log_tail(path: str) -> tuple[str, bool]:
    try:
        with open(path, "rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - LOG_TAIL_CHARS))
            return log.read().decode(errors="replace"), size > LOG_TAIL_CHARS
    except FileNotFoundError:
        return "", False
