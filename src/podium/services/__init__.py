"""Use-cases shared by every edge (CLI, API, UI), so each behaves the same everywhere."""

from __future__ import annotations

from podium.services.context import Podium, open_podium
from podium.services.runs import (
    attempt_running,
    cancel_run,
    execute_run,
    get_output,
    get_run,
    list_jobs,
    list_runs,
    log_path,
    repair_run,
    save_job,
    submit_run,
)

__all__ = [
    "Podium",
    "attempt_running",
    "cancel_run",
    "execute_run",
    "get_output",
    "get_run",
    "list_jobs",
    "list_runs",
    "log_path",
    "open_podium",
    "repair_run",
    "save_job",
    "submit_run",
]
