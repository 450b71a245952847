"""Insights over the API under /api/podium/insights: what a job's and a run's history
say, and applying a suggestion. Viewing needs CAN_VIEW on the job, applying CAN_MANAGE
(both checked by the services)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from podium.api.deps import Body, Caller, PodiumDep
from podium.services import insights

router = APIRouter(prefix="/api/podium/insights")


class ApplyBody(Body):
    suggestion_id: str


@router.get("/jobs/{job}")
def job_insights(podium: PodiumDep, actor: Caller, job: str) -> dict[str, Any]:
    """``job`` is a job id or a job name."""
    return insights.job_insights(podium, job, actor)


@router.post("/jobs/{job}/apply")
def apply_suggestion(podium: PodiumDep, actor: Caller, job: str,
                     body: ApplyBody) -> dict[str, Any]:
    return {"applied": insights.apply_suggestion(podium, job, body.suggestion_id, actor)}


@router.get("/runs/{run_id}")
def run_insights(podium: PodiumDep, actor: Caller, run_id: int) -> dict[str, Any]:
    return insights.run_insights(podium, run_id, actor)
