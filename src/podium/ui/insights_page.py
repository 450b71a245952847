"""What a job's and a run's history say, as panels of the job and run pages: expected
durations and their trends, ETAs, anomalies, flaky tasks, the critical path and
suggestions with an Apply button. The panels load after their page (the history takes a
moment to read) and come from ``podium.services.insights`` as the viewer."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from podium.errors import PodiumError
from podium.insights.stats import seconds_text
from podium.services import Podium
from podium.services import insights as insight_services
from podium.services import jobs as job_services
from podium.ui.app import error_page, page, templates
from podium.ui.session import check_csrf, viewer

router = APIRouter(include_in_schema=False)

SPARK_W, SPARK_H = 160, 28


def sparkline(points: list[list[Any]], label: str) -> str:
    """Durations (``[run_id, seconds, result_state]``, oldest first) as a small SVG line
    with a dot per run, a failed run's dot hollow; a text alternative says the range."""
    if len(points) < 2:
        return '<span class="muted">too few runs</span>'
    seconds = [float(p[1]) for p in points]
    low, high = min(seconds), max(seconds)
    spread = (high - low) or 1.0
    step = (SPARK_W - 6) / (len(points) - 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        return round(3 + i * step, 1), round(SPARK_H - 3 - (value - low) / spread
                                             * (SPARK_H - 6), 1)

    line = " ".join(f"{x},{y}" for x, y in (xy(i, v) for i, v in enumerate(seconds)))
    text = (f"{label}: {len(points)} runs, from {low:.1f} s to {high:.1f} s, "
            f"last {seconds[-1]:.1f} s")
    dots = []
    for i, (run_id, value, state) in enumerate(points):
        x, y = xy(i, float(value))
        kind = "ok" if state == "SUCCESS" else "bad"
        dots.append(f'<circle class="{kind}" cx="{x}" cy="{y}" r="2.2"><title>run '
                    f'{escape(str(run_id))}: {float(value):.1f} s, {escape(str(state))}'
                    f"</title></circle>")
    return (f'<svg class="spark" viewBox="0 0 {SPARK_W} {SPARK_H}" width="{SPARK_W}" '
            f'height="{SPARK_H}" role="img" aria-label="{escape(text)}">'
            f'<polyline points="{line}"/>{"".join(dots)}</svg>')


def seconds(value: float | None) -> str:
    return "—" if value is None else seconds_text(value)


templates.env.globals["sparkline"] = sparkline
templates.env.filters["secs"] = seconds


def _podium(request: Request) -> Podium:
    found: Podium = request.app.state.podium
    return found


@router.get("/jobs/{job_id}/insights")
def job_panel(request: Request, job_id: int) -> HTMLResponse:
    user = viewer(request)
    podium = _podium(request)
    try:
        report = insight_services.job_insights(podium, str(job_id), user)
        level = job_services.levels_held(podium, user, [job_id]).get(job_id)
    except PodiumError as exc:
        return error_page(request, user, exc)
    return page(request, "_job_insights.html", user=user, report=report, job_id=job_id,
                can_apply=job_services.at_least(level or job_services.VIEW,
                                                job_services.MANAGE))


@router.post("/jobs/{job_id}/insights/apply")
async def apply(request: Request, job_id: int) -> Response:
    """Change the job as one of its suggestions says (a new version of its settings)."""
    user = viewer(request)
    await check_csrf(request)
    form = await request.form()
    try:
        await run_in_threadpool(insight_services.apply_suggestion, _podium(request),
                                str(job_id), str(form.get("suggestion_id", "")), user)
    except PodiumError as exc:
        return error_page(request, user, exc)
    return RedirectResponse(f"/jobs/{job_id}#insights", 303)


@router.get("/runs/{run_id}/insights")
def run_panel(request: Request, run_id: int, live: bool = False) -> HTMLResponse:
    """The run's panel; polled while the run goes on (its ETA moves)."""
    user = viewer(request)
    try:
        report = insight_services.run_insights(_podium(request), run_id, user)
    except PodiumError as exc:
        return error_page(request, user, exc)
    return page(request, "_run_insights.html", user=user, report=report, run_id=run_id,
                live=live and report.get("eta") is not None)
