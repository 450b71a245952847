"""Learning from history: expected durations and ETAs, anomalies, flaky tasks, critical
paths, suggestions and critical-path-first dispatch order.

Pure like ``podium.core``: functions over history rows (``records``) that the store
fills; no IO and no clock (``now`` is a parameter). Every number carries its basis.
"""

from __future__ import annotations

from podium.insights.alerts import run_alerts
from podium.insights.critical_path import CriticalPath, PathStep, critical_path
from podium.insights.dispatch import dispatch_priorities, order_ready, simulate
from podium.insights.durations import Estimate, Eta, job_estimate, task_estimates
from podium.insights.flaky import FlakyTask, flaky_tasks
from podium.insights.records import (
    History,
    JobShape,
    PastAttempt,
    PastRun,
    PastTaskRun,
    PastValue,
    TaskShape,
    shape_of,
)
from podium.insights.report import job_report, plain, run_report
from podium.insights.suggestions import Suggestion

__all__ = [
    "CriticalPath",
    "Estimate",
    "Eta",
    "FlakyTask",
    "History",
    "JobShape",
    "PastAttempt",
    "PastRun",
    "PastTaskRun",
    "PastValue",
    "PathStep",
    "Suggestion",
    "TaskShape",
    "critical_path",
    "dispatch_priorities",
    "flaky_tasks",
    "job_estimate",
    "job_report",
    "order_ready",
    "plain",
    "run_alerts",
    "run_report",
    "shape_of",
    "simulate",
    "task_estimates",
]
