"""The insights of a job and of one run, put together as plain JSON-ready dicts (what
the API returns and ``podium insights ... --output json`` prints)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import Any

from podium.insights.anomalies import (
    RECENT_RUNS,
    failure_rate_anomalies,
    run_duration_anomalies,
    task_duration_anomalies,
    value_anomalies,
)
from podium.insights.critical_path import critical_path
from podium.insights.durations import (
    Eta,
    eta_from_tasks,
    eta_of_running,
    etas_of_queued,
    job_estimate,
    task_estimates,
)
from podium.insights.flaky import flaky_tasks
from podium.insights.records import History, JobShape, PastRun
from podium.insights.suggestions import suggestions


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts, datetimes in ISO 8601, floats
    to the millisecond, and infinities (a value off a spread of 0) as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 3) if math.isfinite(value) else None
    return value


def _active(run: PastRun) -> bool:
    return run.result_state is None and run.ended_at is None


def job_etas(history: History, shape: JobShape, now: datetime) -> list[Eta]:
    """Expected ends of the job's running runs (from their tasks when every task left
    has an estimate, else from the job's runs) and starts of its queued ones."""
    expected = job_estimate(history)
    running = [r for r in history.runs if _active(r) and r.started_at is not None]
    tasks = task_estimates(history, [t.task_key for t in shape.tasks]) if running else {}
    queued = sorted((r for r in history.runs if _active(r) and r.started_at is None),
                    key=lambda r: r.run_id)
    etas = [eta_from_tasks(r, shape.deps, tasks, history.task_runs, now)
            or eta_of_running(r, expected, now) for r in running]
    ends = [e.expected_end_at for e in etas]
    return etas + etas_of_queued(queued, ends, shape.max_concurrent_runs, expected, now)


TREND_RUNS = 30  # the points of a duration trend


def duration_trends(history: History, keys: list[str], n: int = TREND_RUNS
                    ) -> dict[str, list[tuple[int, float, str]]]:
    """The duration of the job (key ``""``) and of each task in its ``n`` newest ended
    runs, oldest first: ``(run_id, seconds, result_state)`` per point."""
    recent = [r for r in history.runs if r.seconds is not None][:n]
    ids = {r.run_id for r in recent}
    trends: dict[str, list[tuple[int, float, str]]] = {
        "": [(r.run_id, r.seconds or 0.0, r.result_state or "") for r in reversed(recent)]}
    wanted = set(keys)
    for t in sorted(history.task_runs, key=lambda t: t.run_id):
        if t.run_id in ids and t.task_key in wanted and t.seconds is not None:
            trends.setdefault(t.task_key, []).append((t.run_id, t.seconds,
                                                      t.result_state or ""))
    return trends


def job_report(shape: JobShape, history: History, now: datetime, slots: int
               ) -> dict[str, Any]:
    """Everything insights say about a job, from its ``history`` (newest runs first)."""
    keys = [t.task_key for t in shape.tasks]
    job = job_estimate(history)
    tasks = task_estimates(history, keys)
    recent = [r.run_id for r in history.runs[:RECENT_RUNS]]
    anomalies = [*run_duration_anomalies(history, now), *task_duration_anomalies(history, recent),
                 *value_anomalies(history, recent), *failure_rate_anomalies(history)]
    flaky = flaky_tasks(history)
    medians = {k: e.median_seconds for k, e in tasks.items()
               if e.median_seconds is not None and k in keys}
    expected_path = (critical_path(shape.deps, medians, "median task durations")
                     if keys and len(medians) == len(keys) else None)
    report: dict[str, Any] = plain({
        "runs_considered": len(history.runs),
        "expected_duration": job,
        "tasks": [tasks[k] for k in tasks],
        "etas": job_etas(history, shape, now),
        "anomalies": anomalies,
        "flaky_tasks": flaky,
        "expected_critical_path": expected_path,
        "suggestions": suggestions(shape, job, tasks, flaky, slots),
        "trends": duration_trends(history, keys),
    })
    return report


def run_report(shape: JobShape, history: History, run_id: int, now: datetime
               ) -> dict[str, Any]:
    """What insights say about run ``run_id``: how its duration and its tasks compare
    with the runs before it, its critical path, and when it should end or start.

    ``history`` holds the run and the job's runs before it, newest first.
    """
    run = next(r for r in history.runs if r.run_id == run_id)
    earlier = History(tuple(r for r in history.runs if r.run_id < run_id),
                      tuple(t for t in history.task_runs if t.run_id < run_id),
                      tuple(a for a in history.attempts if a.run_id < run_id),
                      tuple(v for v in history.values if v.run_id < run_id))
    from_run = History(tuple(r for r in history.runs if r.run_id <= run_id),
                       history.task_runs, history.attempts, history.values)
    tasks = task_estimates(earlier, [t.task_key for t in shape.tasks])
    took: dict[str, float] = {}
    for t in history.task_runs:
        if t.run_id == run_id and t.started_at is not None:
            took[t.task_key] = ((t.ended_at or now) - t.started_at).total_seconds()
    eta = None
    if _active(run):
        eta = next((e for e in job_etas(from_run, shape, now) if e.run_id == run_id), None)
    report: dict[str, Any] = plain({
        "run_id": run_id,
        "expected_duration": job_estimate(earlier),
        "eta": eta,
        "tasks": [{"task_key": k, "seconds": took.get(k), "expected": tasks[k]}
                  for k in tasks],
        "critical_path": critical_path(shape.deps, took, f"task durations of run {run_id}")
        if took else None,
        "anomalies": [a for a in [*run_duration_anomalies(from_run, now, recent=1),
                                  *task_duration_anomalies(history, [run_id]),
                                  *value_anomalies(history, [run_id])] if a.run_id == run_id],
    })
    return report
