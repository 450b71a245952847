"""Use-cases shared by every edge (CLI, API, UI), so each behaves the same everywhere.

Each use-case takes the ``actor`` it acts for (a Principal); the local CLI acts as the
owner of the home's files, an admin (``local_principal()``).
"""

from __future__ import annotations

from podium.services.auth import Principal, authenticate, local_principal
from podium.services.context import Podium, open_podium
from podium.services.jobs import save_job
from podium.services.runs import (
    attempt_running,
    cancel_run,
    execute_run,
    get_output,
    get_run,
    list_runs,
    log_path,
    repair_run,
    submit_run,
)

__all__ = [
    "Podium",
    "Principal",
    "attempt_running",
    "authenticate",
    "cancel_run",
    "execute_run",
    "get_output",
    "get_run",
    "list_runs",
    "local_principal",
    "log_path",
    "open_podium",
    "repair_run",
    "save_job",
    "submit_run",
]
