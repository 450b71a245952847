"""Synthetic histories for the insights tests: runs and attempts laid out on a clock
from T0, so that every duration is a round number of seconds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from podium.insights import History, PastAttempt, PastRun, PastTaskRun, PastValue

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GAP = 3600  # seconds between the starts of consecutive runs


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(run_id: int, seconds: float | None, result: str | None = "SUCCESS",
        queued: bool = False) -> PastRun:
    """Run ``run_id`` started at ``run_id`` hours after T0; ``seconds`` None: running."""
    start = at(run_id * GAP)
    if queued:
        return PastRun(run_id, "QUEUED", None, start)
    if seconds is None:
        return PastRun(run_id, "RUNNING", None, start, start)
    return PastRun(run_id, "TERMINATED", result, start, start, start + timedelta(seconds=seconds))


def runs(durations: Sequence[float], results: Sequence[str] | None = None) -> tuple[PastRun, ...]:
    """Runs 1..n with ``durations`` oldest first, returned newest first."""
    results = results or ["SUCCESS"] * len(durations)
    made = [run(i + 1, d, r) for i, (d, r) in enumerate(zip(durations, results, strict=True))]
    return tuple(reversed(made))


def attempt(run_id: int, task_key: str, seconds: float, result: str | None = "SUCCESS",
            number: int = 0, message: str = "", repair_count: int = 0,
            offset: float = 0) -> PastAttempt:
    start = at(run_id * GAP + offset)
    return PastAttempt(run_id, task_key, number, result, start,
                       start + timedelta(seconds=seconds), message, repair_count)


def task_run(run_id: int, task_key: str, seconds: float | None, result: str | None = "SUCCESS",
             offset: float = 0) -> PastTaskRun:
    start = at(run_id * GAP + offset)
    end = None if seconds is None else start + timedelta(seconds=seconds)
    return PastTaskRun(run_id, task_key, result if seconds is not None else None, start, end)


def task_history(task_key: str, durations: Sequence[float]) -> History:
    """One successful attempt of ``task_key`` in each of runs 1..n, oldest first."""
    return History(runs([10.0] * len(durations)),
                   attempts=tuple(attempt(i + 1, task_key, d) for i, d in enumerate(durations)))


def values(task_key: str, key: str, series: Sequence[float]) -> tuple[PastValue, ...]:
    return tuple(PastValue(i + 1, task_key, key, v) for i, v in enumerate(series))
