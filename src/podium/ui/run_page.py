"""The run page: a run's state, graph, timeline and tasks, kept live while it runs; each
task's attempts, live log, output and values; and the cancel, repair and run-again
buttons. Every read and write goes through ``podium.services.runs`` as the viewer."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.api.deps import started
from podium.core import REPAIRABLE, TERMINAL, LifeCycleState, downstream_of
from podium.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from podium.insights import CriticalPath, critical_path
from podium.log_lines import strip
from podium.services import Podium, Principal
from podium.services import jobs as job_service
from podium.services import runs as run_service
from podium.ui.app import error_page, page, templates
from podium.ui.session import check_csrf, viewer

router = APIRouter(include_in_schema=False)

HERE = Path(__file__).parent
# Bytes of a log one page or poll shows; a bigger log is read in several polls, and the
# whole file is always a download away.
LOG_CHUNK = 256 * 1024
REPAIRABLE_NAMES = frozenset(r.value for r in REPAIRABLE)
TERMINAL_NAMES = frozenset(s.value for s in TERMINAL)


# ---- shaping a run for the templates -------------------------------------------------------
def state_of(item: dict[str, Any]) -> str:
    """The one word shown for a run's or a task's state: its result once it has one."""
    state = item.get("state", {})
    return str(state.get("result_state") or state.get("life_cycle_state", ""))


def ended(item: dict[str, Any]) -> bool:
    return str(item.get("state", {}).get("life_cycle_state")) in TERMINAL_NAMES


def duration(millis: int | None) -> str:
    """``millis`` for people: ``850 ms``, ``4.2 s``, ``3 min 07 s``, ``2 h 05 min``."""
    if not millis:
        return ""
    if millis < 1000:
        return f"{millis} ms"
    seconds = millis / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


templates.env.filters["ms_duration"] = duration
templates.env.filters["run_state"] = state_of


def needs_repair(task: dict[str, Any]) -> bool:
    """A task a repair re-runs by default: failed, timed out, canceled or crashed."""
    state = task.get("state", {})
    return (state.get("result_state") in REPAIRABLE_NAMES
            or state.get("life_cycle_state") == LifeCycleState.INTERNAL_ERROR.value)


def repair_preselected(tasks: list[dict[str, Any]]) -> set[str]:
    """The tasks to tick in the repair form: the failed and canceled ones and everything
    downstream of them (what ``runs repair`` re-runs when no task is named)."""
    deps = {t["task_key"]: [d["task_key"] for d in t.get("depends_on", [])] for t in tasks}
    roots = {t["task_key"] for t in tasks if needs_repair(t)}
    return roots | downstream_of(deps, roots)


def failures(run: dict[str, Any]) -> list[dict[str, str]]:
    """What went wrong, for the top of the page: the run's message, then each failed task's."""
    found: list[dict[str, str]] = []
    if ended(run) and state_of(run) not in ("SUCCESS", "SUCCESS_WITH_FAILURES"):
        message = run.get("state", {}).get("state_message", "")
        found.append({"task_key": "", "state": state_of(run), "message": message})
    for task in run.get("tasks", []):
        if ended(task) and needs_repair(task):
            found.append({"task_key": task["task_key"], "state": state_of(task),
                          "message": task.get("state", {}).get("state_message", "")})
    return found


def task_type(task: dict[str, Any]) -> str:
    """``shell``, ``notebook``, ``sql``, ...: the task's one ``*_task`` field."""
    for name, value in task.items():
        if name.endswith("_task") and isinstance(value, dict):
            return name.removesuffix("_task")
    return ""


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A function of a UI module that may not be there yet (the graph, the Gantt)."""
    try:
        found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return found


def critical_chain(run: dict[str, Any], now_ms: int) -> CriticalPath | None:
    """The run's critical path from its tasks' times (a running task counts until now);
    None before any task started."""
    tasks = run.get("tasks", [])
    deps = {t["task_key"]: [d["task_key"] for d in t.get("depends_on", [])] for t in tasks}
    took = {t["task_key"]: ((t.get("end_time") or now_ms) - t["start_time"]) / 1000
            for t in tasks if t.get("start_time")}
    if not took:
        return None
    return critical_path(deps, took, f"task durations of run {run['run_id']}")


def graph_json(run: dict[str, Any], critical: tuple[str, ...] = ()) -> str | None:
    """The cytoscape elements of the run's tasks coloured by state (and its critical path
    marked), as JSON safe inside a ``<script>`` element; None without the graph module."""
    elements = _optional("podium.ui.graph", "graph_elements")
    if elements is None or not (HERE / "static" / "graph.js").exists():
        return None
    text = json.dumps(elements(run.get("tasks", []), critical))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def gantt(run: dict[str, Any], critical: tuple[str, ...] = ()) -> str | None:
    """The run's attempts as an SVG timeline (running ones reach now); None without the
    Gantt module."""
    draw = _optional("podium.ui.gantt", "gantt_svg")
    if draw is None:
        return None
    return str(draw(run, None if ended(run) else int(time.time() * 1000), frozenset(critical)))


def live_context(podium: Podium, user: Principal, run: dict[str, Any]) -> dict[str, Any]:
    tasks = run.get("tasks", [])
    level = job_service.levels_held(podium, user, [run["job_id"]]).get(run["job_id"])
    path = critical_chain(run, int(time.time() * 1000))
    chain = tuple(step.task_key for step in path.steps) if path else ()
    return {
        "critical_path": path,
        # Cancel, repair and run again need CAN_MANAGE_RUN: others do not see the buttons.
        "can_run": job_service.at_least(level or job_service.VIEW, job_service.MANAGE_RUN),
        "run": run, "tasks": tasks, "live": not ended(run), "failures": failures(run),
        "preselected": repair_preselected(tasks), "graph_json": graph_json(run, chain),
        "gantt_svg": gantt(run, chain), "kinds": {t["task_key"]: task_type(t) for t in tasks},
        "params": {p["name"]: p["value"] for p in run.get("job_parameters", [])},
    }


# ---- reading as the viewer ------------------------------------------------------------------
def _podium(request: Request) -> Podium:
    found: Podium = request.app.state.podium
    return found


def _task(run: dict[str, Any], task_key: str) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = run.get("tasks", [])
    for task in tasks:
        if task["task_key"] == task_key:
            return task
    raise NotFound(f"run {run['run_id']} has no task {task_key!r}")


# ---- the run ------------------------------------------------------------------------------
@router.get("/runs/{run_id}")
def run_view(request: Request, run_id: int) -> HTMLResponse:
    user = viewer(request)
    try:
        run = run_service.get_run(_podium(request), run_id, user)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    return page(request, "run.html", user=user, section="runs",
                **live_context(_podium(request), user, run))


@router.get("/runs/{run_id}/live")
def run_live(request: Request, run_id: int) -> HTMLResponse:
    """The parts of the run page that change, polled every second while the run goes on;
    once it has ended the answer carries no trigger, so polling stops."""
    user = viewer(request)
    try:
        run = run_service.get_run(_podium(request), run_id, user)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    return page(request, "run_live.html", user=user, oob=True,
                **live_context(_podium(request), user, run))


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: int) -> Response:
    user = viewer(request)
    await check_csrf(request)
    try:
        await run_in_threadpool(run_service.cancel_run, _podium(request), run_id, user)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/runs/{run_id}", 303)


@router.post("/runs/{run_id}/repair")
async def repair(request: Request, run_id: int) -> Response:
    user = viewer(request)
    await check_csrf(request)
    keys = [str(k) for k in (await request.form()).getlist("task")]
    if not keys:
        return error_page(request, user, InvalidArgument("choose at least one task to re-run"))
    try:
        await run_in_threadpool(run_service.repair_run, _podium(request), run_id, keys, user)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    except (Conflict, InvalidArgument) as exc:
        return error_page(request, user, exc, 409 if isinstance(exc, Conflict) else None)
    started(request)
    return RedirectResponse(f"/runs/{run_id}", 303)


@router.post("/runs/{run_id}/run-again")
async def run_again(request: Request, run_id: int) -> Response:
    """A new run of the run's job with the run's parameters."""
    user = viewer(request)
    await check_csrf(request)
    podium = _podium(request)
    try:
        run = await run_in_threadpool(run_service.get_run, podium, run_id, user)
        params = {p["name"]: p["value"] for p in run.get("job_parameters", [])}
        new_id = await run_in_threadpool(run_service.run_now, podium, run["job_id"], user,
                                         params)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    except (Conflict, InvalidArgument) as exc:
        return error_page(request, user, exc, 409 if isinstance(exc, Conflict) else None)
    started(request)
    return RedirectResponse(f"/runs/{new_id}", 303)


# ---- a task -------------------------------------------------------------------------------
def _attempt(task: dict[str, Any], number: int | None) -> dict[str, Any] | None:
    """The attempt ``number`` of ``task`` (default: the latest), None before it started."""
    attempts: list[dict[str, Any]] = task.get("attempts", [])
    if number is None:
        return attempts[-1] if attempts else None
    for attempt in attempts:
        if attempt["attempt_number"] == number:
            return attempt
    raise NotFound(f"task {task['task_key']!r} has no attempt {number}")


@router.get("/runs/{run_id}/tasks/{task_key}")
def task_view(request: Request, run_id: int, task_key: str,
              attempt: int | None = None) -> HTMLResponse:
    user = viewer(request)
    podium = _podium(request)
    try:
        run = run_service.get_run(podium, run_id, user)
        task = _task(run, task_key)
        shown = _attempt(task, attempt)
        output = (run_service.get_output(podium, run_id, task_key, shown["attempt_number"],
                                         user) if shown else {})
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    log = _log_part(podium, user, run_id, task, shown, _tail_offset(shown))
    return page(request, "run_task.html", user=user, section="runs", run=run, task=task,
                attempt=shown, output=output, log=log)


def _tail_offset(attempt: dict[str, Any] | None) -> int:
    """Where the page starts showing a log: its start, or for a long log the first whole
    line of its last LOG_CHUNK bytes (the download has it all)."""
    path = Path(attempt["log_path"]) if attempt and attempt.get("log_path") else None
    try:
        size = path.stat().st_size if path else 0
    except OSError:
        return 0
    if size <= LOG_CHUNK or path is None:
        return 0
    with open(path, "rb") as log:
        log.seek(size - LOG_CHUNK)
        head = log.read(LOG_CHUNK)
    return size - LOG_CHUNK + head.find(b"\n") + 1


def _log_part(podium: Podium, user: Principal, run_id: int, task: dict[str, Any],
              attempt: dict[str, Any] | None, offset: int) -> dict[str, Any]:
    """The log of ``attempt`` from byte ``offset``: its whole lines (all of it once the
    attempt has ended), the offset to read on from, and whether to keep polling."""
    if attempt is None:  # not started yet: poll until it has an attempt, or ended without
        return {"lines": [], "offset": 0, "attempt": None, "follow": not ended(task),
                "waiting": True}
    running = attempt["state"]["life_cycle_state"] not in TERMINAL_NAMES
    path = run_service.log_path(podium, run_id, task["task_key"], attempt["attempt_number"],
                                user)
    data = run_service.read_log(path, offset, LOG_CHUNK)
    more = len(data) == LOG_CHUNK
    if running or more:  # hold back an unfinished last line until it is complete
        cut = data.rfind(b"\n") + 1
        if cut or len(data) < LOG_CHUNK:
            data = data[:cut]
    return {"lines": [_line(raw) for raw in data.decode(errors="replace").splitlines()],
            "offset": offset + len(data), "attempt": attempt["attempt_number"],
            "follow": running or more, "waiting": False, "skipped": offset}


def _line(raw: str) -> dict[str, str]:
    """One log line split into its stamp, its stream and its text."""
    text = strip(raw)
    if text == raw:
        return {"stamp": "", "stream": "", "text": raw}
    head = raw[: len(raw) - len(text)]
    stamp, _, stream = head.rstrip(" |").partition(" ")
    return {"stamp": stamp, "stream": stream, "text": text}


@router.get("/runs/{run_id}/tasks/{task_key}/log")
def task_log(request: Request, run_id: int, task_key: str, offset: int = 0,
             attempt: int | None = None) -> HTMLResponse:
    """New lines of a task's log from ``offset``, to append to the log shown, and the
    poller that asks for the next ones (without a trigger once the attempt has ended)."""
    user = viewer(request)
    podium = _podium(request)
    try:
        run = run_service.get_run(podium, run_id, user)
        task = _task(run, task_key)
        log = _log_part(podium, user, run_id, task, _attempt(task, attempt), max(0, offset))
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    if (log["waiting"] and task.get("attempts")) or not log["follow"]:
        # It started, or it ended: show the page again with its attempts and output.
        return HTMLResponse("", headers={"HX-Refresh": "true"})
    return page(request, "run_task_log.html", user=user, run=run, task=task, log=log)


@router.get("/runs/{run_id}/tasks/{task_key}/log/download")
def task_log_download(request: Request, run_id: int, task_key: str,
                      attempt: int | None = None) -> Response:
    user = viewer(request)
    try:
        path = run_service.log_path(_podium(request), run_id, task_key, attempt, user)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    if not path.exists():
        return error_page(request, user, NotFound(f"the log of task {task_key!r} is empty"))
    name = f"run-{run_id}-{task_key}-{path.stem}.log"
    return FileResponse(path, media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/runs/{run_id}/tasks/{task_key}/notebook")
def task_notebook(request: Request, run_id: int, task_key: str,
                  attempt: int | None = None) -> Response:
    """The notebook run as HTML, sandboxed: it is the task's content, not Podium's."""
    user = viewer(request)
    try:
        output = run_service.get_output(_podium(request), run_id, task_key, attempt, user)
    except (NotFound, PermissionDenied) as exc:
        return error_page(request, user, exc)
    html = (output.get("notebook_output") or {}).get("html_path")
    if not html or not Path(html).exists():
        return error_page(request, user, NotFound(
            f"task {task_key!r} has no notebook rendered as HTML"))
    return FileResponse(html, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; "
                                   "img-src data:"})
