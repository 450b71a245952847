"""The UI's list and job pages: the jobs (search, sort, last runs, run now, pause), one
job (its tasks, runs matrix, settings, permissions and spec) and all runs (filtered,
paginated). Every page calls the services as the signed-in viewer, so it shows exactly
what the API would give that user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.api.deps import started
from podium.errors import InvalidArgument, PodiumError
from podium.services import Podium, Principal
from podium.services import jobs as job_services
from podium.services import runs as run_services
from podium.ui.app import HERE, error_page, page, templates
from podium.ui.graph import graph_elements, task_type
from podium.ui.session import check_csrf, viewer

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

LAST_RUNS = 10  # squares per job on the jobs page
MATRIX_RUNS = 20  # columns of a job's runs matrix
MAX_JOBS = 1000  # the jobs page lists at most this many
RUNS_PAGE = 25
GRAPH_JS = HERE / "static" / "graph.js"  # the graph's script (its engineer vendors it)
# A short text cue for each state, so colour is never the only carrier.
SYMBOLS = {
    "SUCCESS": "✓", "SUCCESS_WITH_FAILURES": "!", "FAILED": "✗", "TIMEDOUT": "⧗",
    "CANCELED": "⊘", "UPSTREAM_FAILED": "↑", "UPSTREAM_CANCELED": "↑", "EXCLUDED": "·",
    "SKIPPED": "·", "MAXIMUM_CONCURRENT_RUNS_REACHED": "·", "INTERNAL_ERROR": "✗",
    "RUNNING": "▶", "PENDING": "…", "QUEUED": "…", "BLOCKED": "…", "TERMINATING": "▶",
    "WAITING_FOR_RETRY": "↻",
}
SORTS = {
    "name": lambda j: (j["name"].lower(), j["job_id"]),
    "id": lambda j: j["job_id"],
    "owner": lambda j: (j["owner"].lower(), j["job_id"]),
    "created": lambda j: j["created_time"],
}


def state_of(thing: dict[str, Any]) -> str:
    """A run's or task's one-word state: its result once ended, else its life cycle."""
    state = thing.get("state", {})
    return str(state.get("result_state") or state.get("life_cycle_state") or "PENDING")


def duration(ms: int | None) -> str:
    if not ms:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {sec} s"


templates.env.filters["state_of"] = state_of
templates.env.filters["duration"] = duration
templates.env.globals["SYMBOLS"] = SYMBOLS


def trigger_summary(settings: dict[str, Any]) -> tuple[str, str | None]:
    """How the job starts, in words, and its pause status (None: nothing to pause)."""
    parts: list[str] = []
    statuses: list[str] = []
    if schedule := settings.get("schedule"):
        parts.append(f"cron {schedule.get('quartz_cron_expression', '')} "
                     f"({schedule.get('timezone_id', 'UTC')})")
        statuses.append(schedule.get("pause_status") or "UNPAUSED")
    if trigger := settings.get("trigger"):
        if arrival := trigger.get("file_arrival"):
            parts.append(f"file arrival at {arrival.get('url', '')}")
        if periodic := trigger.get("periodic"):
            parts.append(f"every {periodic.get('interval', '')} "
                         f"{str(periodic.get('unit', '')).lower()}")
        statuses.append(trigger.get("pause_status") or "UNPAUSED")
    if (continuous := settings.get("continuous")) is not None:
        parts.append("continuous")
        statuses.append((continuous or {}).get("pause_status") or "UNPAUSED")
    if not parts:
        return "manual", None
    return "; ".join(parts), "PAUSED" if "PAUSED" in statuses else "UNPAUSED"


def _job_row(job: dict[str, Any], runs: list[dict[str, Any]], level: str | None
             ) -> dict[str, Any]:
    """What the pages show of a job; ``level`` is the viewer's, which decides the buttons."""
    settings = job["settings"]
    summary, pause = trigger_summary(settings)
    held = level or job_services.VIEW
    return {
        "can_run": job_services.at_least(held, job_services.MANAGE_RUN),
        "can_manage": job_services.at_least(held, job_services.MANAGE),
        "job_id": job["job_id"], "name": settings.get("name", f"job {job['job_id']}"),
        "owner": job["creator_user_name"], "created_time": job["created_time"],
        "tags": settings.get("tags") or {}, "trigger": summary, "pause": pause,
        "parameters": settings.get("parameters") or [], "runs": runs,
    }


def _all_jobs(podium: Podium, actor: Principal) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while len(found) < MAX_JOBS:
        batch = job_services.list_jobs(podium, actor, limit=job_services.MAX_PAGE,
                                       page_token=token)
        found += batch["jobs"]
        if not batch["has_more"]:
            break
        token = batch["next_page_token"]
    return found


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await run_in_threadpool(fn, *args, **kwargs)


def _back(target: str, fallback: str) -> str:
    """Only paths on this site."""
    return target if target.startswith("/") and not target.startswith("//") else fallback


# ---- jobs -------------------------------------------------------------------------------
@router.get("/jobs")
def jobs_page(request: Request, q: str = "", sort: str = "name", desc: str = "",
              ) -> HTMLResponse:
    user = viewer(request)
    descending = desc.lower() in ("true", "1", "on", "yes")
    podium: Podium = request.app.state.podium
    sort = sort if sort in SORTS else "name"
    jobs = _all_jobs(podium, user)
    total = len(jobs)
    needle = q.strip().lower()
    if needle:
        jobs = [j for j in jobs if needle in str(j["settings"].get("name", "")).lower()
                or any(needle in f"{k}:{v}".lower()
                       for k, v in (j["settings"].get("tags") or {}).items())]
    ids = [j["job_id"] for j in jobs]
    last = run_services.last_runs_by_job(podium, user, ids, LAST_RUNS)  # one query for all
    levels = job_services.levels_held(podium, user, ids)
    rows = [_job_row(j, last[j["job_id"]], levels.get(j["job_id"])) for j in jobs]
    rows.sort(key=SORTS[sort], reverse=descending)
    return page(request, "jobs.html", user=user, section="jobs", jobs=rows, q=q,
                sort=sort, desc=descending, total=total)


@router.get("/jobs/last-runs")
def last_runs(request: Request, ids: str = "") -> HTMLResponse:
    """The jobs page's squares, polled: each job's last runs, for the jobs the viewer sees."""
    user = viewer(request)
    podium: Podium = request.app.state.podium
    wanted = [int(i) for i in ids.split(",") if i.strip().isdigit()][:MAX_JOBS]
    # Runs of jobs the viewer may not see do not come back from the service.
    last = run_services.last_runs_by_job(podium, user, wanted, LAST_RUNS)
    rows = [{"job_id": j, "runs": runs} for j, runs in last.items()]
    return page(request, "_last_runs.html", user=user, rows=rows)


@router.post("/jobs/{job_id}/run")
async def run_now(request: Request, job_id: int) -> Response:
    user = viewer(request)
    await check_csrf(request)
    form = await request.form()
    params = {str(k)[len("param."):]: str(v) for k, v in form.multi_items()
              if str(k).startswith("param.")}
    try:
        run_id = await _call(run_services.run_now, request.app.state.podium, job_id, user,
                             params or None)
    except PodiumError as exc:
        return error_page(request, user, exc)
    started(request)
    return RedirectResponse(f"/runs/{run_id}", 303)


@router.post("/jobs/{job_id}/pause")
async def pause(request: Request, job_id: int) -> Response:
    user = viewer(request)
    await check_csrf(request)
    form = await request.form()
    status = str(form.get("status", ""))
    try:
        if status not in ("PAUSED", "UNPAUSED"):
            raise InvalidArgument(f"status: PAUSED or UNPAUSED, not {status!r}")
        await _call(job_services.set_pause_status, request.app.state.podium, job_id, status,
                    user)
    except PodiumError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(_back(str(form.get("next", "")), f"/jobs/{job_id}"), 303)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: int) -> HTMLResponse:
    user = viewer(request)
    podium: Podium = request.app.state.podium
    try:
        job = job_services.get_job(podium, job_id, user)
        acl = job_services.get_permissions(podium, job_id, user)
        versions = job_services.job_versions(podium, job_id, user)
        level = job_services.levels_held(podium, user, [job_id]).get(job_id)
        matrix = _matrix(podium, user, job)
    except PodiumError as exc:
        return error_page(request, user, exc)
    settings = job["settings"]
    tasks = settings.get("tasks") or []
    return page(
        request, "job.html", user=user, section="jobs", job=job, job_id=job_id,
        row=_job_row(job, matrix["runs"], level), settings=settings,
        tasks=[{**t, "type": task_type(t) or "task"} for t in tasks],
        graph=graph_elements(tasks) if GRAPH_JS.exists() else None,
        acl=acl["access_control_list"], versions=versions,
        spec=yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), **matrix,
    )


@router.get("/jobs/{job_id}/matrix")
def job_matrix(request: Request, job_id: int) -> HTMLResponse:
    """The job page's runs matrix, polled so that new runs and their states show up."""
    user = viewer(request)
    podium: Podium = request.app.state.podium
    try:
        matrix = _matrix(podium, user, job_services.get_job(podium, job_id, user))
    except PodiumError as exc:
        return error_page(request, user, exc)
    return page(request, "_job_matrix.html", user=user, job_id=job_id, **matrix)


def _matrix(podium: Podium, user: Principal, job: dict[str, Any]) -> dict[str, Any]:
    """The last runs of the job as columns and its tasks as rows (with the tasks that ran
    in older versions of the job), and whether a run is still going."""
    # Only what the matrix shows, in two queries (a job may have hundreds of tasks).
    runs = run_services.runs_matrix(podium, user, job["job_id"], MATRIX_RUNS)
    keys = [t["task_key"] for t in job["settings"].get("tasks") or []]
    for run in runs:
        keys += [t["task_key"] for t in run.get("tasks", []) if t["task_key"] not in keys]
    cells = {run["run_id"]: {t["task_key"]: t for t in run.get("tasks", [])} for run in runs}
    live = any(not run.get("state", {}).get("result_state") for run in runs)
    return {"runs": runs, "keys": keys, "matrix": cells, "live": live}


# ---- runs -------------------------------------------------------------------------------
def day_millis(value: str, name: str, end: bool = False) -> int | None:
    """A date (YYYY-MM-DD, UTC) as epoch ms; its last millisecond with ``end``."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name}: a date as YYYY-MM-DD, not {value!r}") from None
    at = datetime(day.year, day.month, day.day, tzinfo=UTC) + (timedelta(days=1) if end
                                                               else timedelta())
    return int(at.timestamp() * 1000) - (1 if end else 0)


@router.get("/runs")
def runs_page(request: Request, job: str = "", state: str = "", start: str = "",
              end: str = "", trigger: str = "", offset: int = 0,
              limit: int = RUNS_PAGE) -> HTMLResponse:
    user = viewer(request)
    podium: Podium = request.app.state.podium
    filters = {"job": job, "state": state, "start": start, "end": end, "trigger": trigger}
    try:
        if job and not job.isdigit():
            raise InvalidArgument(f"job: a job id, not {job!r}")
        if not 1 <= limit <= 200:
            raise InvalidArgument(f"limit: between 1 and 200, not {limit}")
        query: dict[str, Any] = {
            "actor": user, "job_id": int(job) if job else None,
            "active_only": state == "active", "completed_only": state == "completed",
            "start_time_from": day_millis(start, "from"),
            "start_time_to": day_millis(end, "to", True),
        }
        runs, has_more, next_offset = _runs_window(podium, query, max(offset, 0), limit,
                                                   trigger)
        jobs = _all_jobs(podium, user)
    except PodiumError as exc:
        return error_page(request, user, exc)
    names = {j["job_id"]: j["settings"].get("name", "") for j in jobs}
    kept = {k: v for k, v in filters.items() if v}

    def link(at: int) -> str:
        return "/runs?" + urlencode({**kept, "offset": at, "limit": limit})

    return page(
        request, "runs.html", user=user, section="runs", runs=runs, names=names,
        filters=filters, triggers=TRIGGERS,
        newer=link(max(offset - limit, 0)) if offset > 0 and not trigger else
        (link(0) if offset > 0 else None),
        older=link(next_offset) if has_more else None, offset=offset,
    )


TRIGGERS = ("ONE_TIME", "ONE_TIME_SUBMIT", "PERIODIC", "FILE_ARRIVAL", "CONTINUOUS",
            "RUN_JOB_TASK", "FOR_EACH_TASK")


def _runs_window(podium: Podium, query: dict[str, Any], offset: int, limit: int,
                 trigger: str) -> tuple[list[dict[str, Any]], bool, int]:
    """A page of runs from ``offset``, whether more follow and the offset of the next
    page. The trigger filter is applied here, scanning forward, as the service has none."""
    if not trigger:
        out = run_services.list_runs(podium, limit, offset, top_level=True, **query)
        return out["runs"], out["has_more"], offset + limit
    found: list[dict[str, Any]] = []
    at = offset
    while True:
        out = run_services.list_runs(podium, 200, at, top_level=True, **query)
        for i, run in enumerate(out["runs"]):
            if run.get("trigger") == trigger:
                if len(found) == limit:
                    return found, True, at + i
                found.append(run)
        if not out["has_more"]:
            return found, False, 0
        at += len(out["runs"])
