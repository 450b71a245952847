"""Insights use-cases: what a job's and a run's history say (``podium.insights``),
and applying one of the suggestions. Viewing needs CAN_VIEW on the job; applying a
suggestion changes the job's settings, so it needs CAN_MANAGE."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from podium.engine import utcnow
from podium.errors import InvalidArgument, NotFound
from podium.insights import job_report, run_report, shape_of
from podium.services import jobs
from podium.services.auth import Principal
from podium.services.context import Podium
from podium.services.runs import _run_for
from podium.spec import JobSpec
from podium.store import JobRow
from podium.store import history as h
from podium.store import jobs as job_queries

RUNS = 100  # the newest runs a report reads: recent behaviour is what predicts
MIN_RUNS = 10
MAX_TASK_RUNS = 50_000  # a job of 10,000 tasks reads its 10 newest runs, not 100


def runs_to_read(spec: JobSpec) -> int:
    """How many of the newest runs to read: fewer for big graphs, so a report reads a
    bounded number of rows."""
    return max(MIN_RUNS, min(RUNS, MAX_TASK_RUNS // max(1, len(spec.tasks))))


def _job_row(session: Session, job: str, actor: Principal) -> JobRow:
    """The job named by id or by name (runs of ``podium run FILE`` are recorded under
    the job named in the file, so they count here), if the actor may view it."""
    row = (job_queries.find_job(session, int(job)) if job.isdigit()
           else job_queries.find_job_by_name(session, job))
    if row is None:
        raise NotFound(f"no job {job!r}; `podium jobs list` shows the jobs")
    return jobs.require(session, actor, row.job_id, jobs.VIEW)


def job_insights(podium: Podium, job: str, actor: Principal) -> dict[str, Any]:
    """Expected durations, ETAs, anomalies, flaky tasks, the expected critical path and
    suggestions for ``job`` (an id or a name), from its newest runs."""
    with podium.sessions() as session:
        row = _job_row(session, job, actor)
        spec = JobSpec.model_validate_json(row.spec_json)
        history = h.job_history(session, row.job_id, runs_to_read(spec))
    now = utcnow()
    report = job_report(shape_of(spec), history, now, podium.settings.max_parallel_tasks)
    for suggestion in report["suggestions"]:
        suggestion["command"] = (f"podium insights apply {row.job_id} {suggestion['id']}"
                                 if suggestion["target"] != "engine" else
                                 _engine_setting(suggestion["suggested"]))
    return {"job_id": row.job_id, "name": row.name, "generated_at": now.isoformat(),
            **report}


def _engine_setting(value: int) -> str:
    return (f"set max_parallel_tasks = {value} in $PODIUM_HOME/podium.toml (or "
            f"PODIUM_MAX_PARALLEL_TASKS={value}) and restart the server")


def run_insights(podium: Podium, run_id: int, actor: Principal) -> dict[str, Any]:
    """How run ``run_id`` compares with the runs of its job before it, its critical path
    (with the graph as it ran) and its expected end or start."""
    with podium.sessions() as session:
        run = _run_for(session, run_id, actor, jobs.VIEW)
        if run.parent_run_id is not None:
            raise InvalidArgument(f"run {run_id} is a child run of run {run.parent_run_id}; "
                                  "insights compare a job's top-level runs")
        spec = JobSpec.model_validate_json(run.spec_json)
        history = h.job_history(session, run.job_id, runs_to_read(spec),
                                up_to_run_id=run_id)
    report = run_report(shape_of(spec), history, run_id, utcnow())
    return {"job_id": run.job_id, "run_name": run.run_name, **report}


def apply_suggestion(podium: Podium, job: str, suggestion_id: str,
                     actor: Principal) -> dict[str, Any]:
    """Change the job's settings as suggestion ``suggestion_id`` of its current insights
    says; the suggestion applied.

    Raises:
        NotFound: the job's insights have no such suggestion (now).
        InvalidArgument: the suggestion is about the engine, not the job.
    """
    report = job_insights(podium, job, actor)
    found: dict[str, Any] | None = next(
        (s for s in report["suggestions"] if s["id"] == suggestion_id), None)
    if found is None:
        known = ", ".join(s["id"] for s in report["suggestions"]) or "none"
        raise NotFound(f"job {report['job_id']} has no suggestion {suggestion_id!r} now; "
                       f"its suggestions: {known}")
    if found["target"] == "engine":
        raise InvalidArgument(f"{suggestion_id} is an engine setting: {found['command']}")
    job_id = int(report["job_id"])
    with podium.sessions() as session:
        current = json.loads(jobs.require(session, actor, job_id, jobs.MANAGE).spec_json)
    change = dict(found["change"])
    if "tasks" in change:  # jobs/update replaces a task entry whole: send all of it
        by_key = {t["task_key"]: t for t in current.get("tasks", [])}
        change["tasks"] = [{**by_key[t["task_key"]], **t} for t in change["tasks"]]
    jobs.update_job(podium, job_id, change, None, actor)
    return found
