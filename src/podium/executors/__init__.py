"""Executors run attempts and report outcomes; they never write the database."""

from __future__ import annotations

from podium.executors.base import AttemptRequest, Executor, Outcome, attempt_file
from podium.executors.local import LocalExecutor, kill_leftover

__all__ = [
    "AttemptRequest",
    "Executor",
    "LocalExecutor",
    "Outcome",
    "attempt_file",
    "kill_leftover",
]
