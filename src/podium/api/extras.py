"""Podium's own additions under /api/podium: job versions, logs, outputs and task values
by task key, saving a job by name, and the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi import Body as BodyParam

from podium.api.deps import Caller, PodiumDep
from podium.errors import InvalidArgument
from podium.services import jobs, runs
from podium.services.audit import list_audit
from podium.spec import LoadedJob

router = APIRouter(prefix="/api/podium")
MAX_LOG_CHUNK = 1 << 20  # bytes of a log one request returns


@router.post("/jobs/save")
def save_job(podium: PodiumDep, actor: Caller,
             settings: Annotated[dict[str, Any], BodyParam()]) -> dict[str, Any]:
    """Create the job, or update the job of the same name (as ``podium jobs create``)."""
    spec, _ = jobs.validate_settings(settings)
    loaded = LoadedJob(spec, [], "request", podium.settings.workspace)
    return {"job_id": jobs.save_job(podium, loaded, actor)}


@router.get("/jobs/{job_id}/versions")
def versions(podium: PodiumDep, actor: Caller, job_id: int) -> dict[str, Any]:
    return {"versions": jobs.job_versions(podium, job_id, actor)}


@router.get("/jobs/{job_id}/versions/diff")
def diff(podium: PodiumDep, actor: Caller, job_id: int, old: int, new: int) -> dict[str, Any]:
    return {"diff": jobs.diff_versions(podium, job_id, old, new, actor)}


@router.get("/runs/{run_id}/tasks/{task_key}/output")
def output(podium: PodiumDep, actor: Caller, run_id: int, task_key: str,
           attempt: int | None = None) -> dict[str, Any]:
    return runs.get_output(podium, run_id, task_key, attempt, actor)


@router.get("/runs/{run_id}/tasks/{task_key}/logs")
def logs(podium: PodiumDep, actor: Caller, run_id: int, task_key: str,
         attempt: int | None = None, offset: int = 0) -> Response:
    """The attempt's log from byte ``offset``; poll with the returned offset to follow it."""
    if offset < 0:
        raise InvalidArgument(f"offset: must not be negative, got {offset}")
    path = runs.log_path(podium, run_id, task_key, attempt, actor)
    running = attempt is None and runs.attempt_running(podium, run_id, task_key, actor)
    data = runs.read_log(path, offset, MAX_LOG_CHUNK)
    return Response(data, media_type="text/plain; charset=utf-8", headers={
        "X-Podium-Log-Offset": str(offset + len(data)),
        "X-Podium-Running": "true" if running else "false",
        "X-Podium-Log-Name": path.name,
    })


@router.get("/runs/{run_id}/values")
def values(podium: PodiumDep, actor: Caller, run_id: int) -> dict[str, Any]:
    run = runs.get_run(podium, run_id, actor)
    return {"run_id": run_id,
            "tasks": {t["task_key"]: t.get("task_values", {}) for t in run.get("tasks", [])}}


@router.get("/audit")
def audit_log(podium: PodiumDep, actor: Caller, limit: int = 100,
              before_id: int | None = None) -> dict[str, Any]:
    return {"events": list_audit(podium, actor, limit, before_id)}
