"""The Jobs API 2.2 (served under /api/2.2/jobs and /api/2.1/jobs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Body as BodyParam

from podium import notify
from podium.api.deps import Body, Caller, PodiumDep, parameters, started
from podium.errors import InvalidArgument
from podium.services import jobs, runs

router = APIRouter()
JobSettings = Annotated[
    dict[str, Any], BodyParam(description="The job's settings in the Jobs API 2.2 shape")
]


class JobId(Body):
    job_id: int


class UpdateJob(JobId):
    new_settings: dict[str, Any] | None = None
    fields_to_remove: list[str] | None = None


class ResetJob(JobId):
    new_settings: dict[str, Any]


class RunNow(JobId):
    job_parameters: dict[str, Any] | None = None
    idempotency_token: str | None = None
    only: list[str] | None = None


class RunId(Body):
    run_id: int


class CancelAll(Body):
    job_id: int | None = None
    all_queued_runs: bool = False


class Repair(RunId):
    rerun_tasks: list[str] | None = None
    rerun_all_failed_tasks: bool = False
    rerun_dependent_tasks: bool = False
    latest_repair_id: int | None = None
    job_parameters: dict[str, Any] | None = None


@router.post("/create")
def create(podium: PodiumDep, actor: Caller, settings: JobSettings) -> dict[str, Any]:
    acl = settings.pop("access_control_list", None)
    return {"job_id": jobs.create_job(podium, settings, actor, acl)}


# The hot reads run on the event loop: a few indexed queries cost less than the hop to
# the thread pool that a sync route takes.
@router.get("/get")
async def get(podium: PodiumDep, actor: Caller, job_id: int) -> dict[str, Any]:
    return jobs.get_job(podium, job_id, actor)


@router.get("/list")
async def list_(podium: PodiumDep, actor: Caller, name: str | None = None, limit: int = 20,
          page_token: str | None = None, expand_tasks: bool = False,
          offset: int = 0) -> dict[str, Any]:
    if offset and not page_token:
        raise InvalidArgument("offset: page with page_token (from next_page_token)")
    return jobs.list_jobs(podium, actor, name=name, limit=limit, page_token=page_token,
                          expand_tasks=expand_tasks)


@router.post("/update")
def update(podium: PodiumDep, actor: Caller, body: UpdateJob) -> dict[str, Any]:
    jobs.update_job(podium, body.job_id, body.new_settings, body.fields_to_remove, actor)
    return {}


@router.post("/reset")
def reset(podium: PodiumDep, actor: Caller, body: ResetJob) -> dict[str, Any]:
    jobs.reset_job(podium, body.job_id, body.new_settings, actor)
    return {}


@router.post("/delete")
def delete(podium: PodiumDep, actor: Caller, body: JobId) -> dict[str, Any]:
    jobs.delete_job(podium, body.job_id, actor)
    return {}


@router.post("/run-now")
def run_now(request: Request, podium: PodiumDep, actor: Caller, body: RunNow) -> dict[str, Any]:
    run_id = runs.run_now(podium, body.job_id, actor,
                          parameters(body.job_parameters, "job_parameters"),
                          body.idempotency_token, body.only)
    started(request)
    return {"run_id": run_id, "number_in_job": run_id}


@router.post("/runs/submit")
def submit(request: Request, podium: PodiumDep, actor: Caller,
           settings: JobSettings) -> dict[str, Any]:
    settings.pop("access_control_list", None)
    token = settings.pop("idempotency_token", None)
    run_id = runs.submit_once(podium, settings, actor, token)
    started(request)
    return {"run_id": run_id}


@router.get("/runs/get")
async def get_run(request: Request, podium: PodiumDep, actor: Caller,
                  run_id: int) -> dict[str, Any]:
    run = runs.get_run(podium, run_id, actor)
    run["run_page_url"] = run_page_url(request, run_id)
    return run


def run_page_url(request: Request, run_id: int) -> str:
    """The run's page in the UI, at the server's public address (else the request's)."""
    return notify.run_page_url(request.app.state.public_url or str(request.base_url), run_id)


@router.get("/runs/list")
def list_runs(
    podium: PodiumDep, actor: Caller, job_id: int | None = None, active_only: bool = False,
    completed_only: bool = False, offset: int = 0, limit: int = 25,
    start_time_from: int | None = None, start_time_to: int | None = None,
    expand_tasks: bool = False, page_token: str | None = None,
) -> dict[str, Any]:
    if limit == 0:  # the Jobs API reads 0 as "the most a page holds" (25 there)
        limit = 25
    if page_token:
        if not page_token.isdigit():
            raise InvalidArgument(f"page_token: {page_token!r} is not a token this server gave")
        offset = int(page_token)
    page = runs.list_runs(
        podium, limit=limit, offset=offset, active_only=active_only, actor=actor,
        job_id=job_id, completed_only=completed_only, start_time_from=start_time_from,
        start_time_to=start_time_to, expand_tasks=expand_tasks, top_level=True,
    )
    if page["has_more"]:
        page["next_page_token"] = str(offset + limit)
    if offset:
        page["prev_page_token"] = str(max(0, offset - limit))
    return page


@router.post("/runs/cancel")
def cancel(podium: PodiumDep, actor: Caller, body: RunId) -> dict[str, Any]:
    runs.cancel_run(podium, body.run_id, actor)
    return {}


@router.post("/runs/cancel-all")
def cancel_all(podium: PodiumDep, actor: Caller, body: CancelAll) -> dict[str, Any]:
    if body.job_id is None:
        raise InvalidArgument("job_id: give the job whose runs to cancel")
    runs.cancel_all(podium, body.job_id, actor)
    return {}


@router.post("/runs/delete")
def delete_run(podium: PodiumDep, actor: Caller, body: RunId) -> dict[str, Any]:
    runs.delete_run(podium, body.run_id, actor)
    return {}


@router.post("/runs/repair")
def repair(request: Request, podium: PodiumDep, actor: Caller, body: Repair) -> dict[str, Any]:
    if not body.rerun_tasks and not body.rerun_all_failed_tasks:
        raise InvalidArgument("give rerun_tasks, or rerun_all_failed_tasks: true")
    runs.repair_run(podium, body.run_id, None if body.rerun_all_failed_tasks else
                    body.rerun_tasks, actor, body.latest_repair_id,
                    parameters(body.job_parameters, "job_parameters"))
    started(request)
    return {"repair_id": runs.get_run(podium, body.run_id, actor)["repair_count"]}


@router.get("/runs/get-output")
def get_output(podium: PodiumDep, actor: Caller, run_id: int) -> dict[str, Any]:
    return runs.get_task_output(podium, run_id, actor)
