"""Retry decisions and back-off timing (pure: randomness comes in as a number)."""

from __future__ import annotations

from podium.core.states import ResultState
from podium.spec.models import Task

# Up to this fraction is added to a back-off delay so that retries of many tasks that
# failed together do not all hit the same resource at the same instant.
JITTER_FRACTION = 0.1
# Exponential back-off with no max_retry_interval_millis stops growing here (one day).
DEFAULT_MAX_INTERVAL_MILLIS = 24 * 3600 * 1000


def should_retry(task: Task, result: ResultState, retries_used: int) -> bool:
    """Whether a failed attempt of ``task`` gets another try.

    Args:
        task: the task spec.
        result: how the attempt ended.
        retries_used: retries already made for this task in this run (attempts - 1).
    """
    if result is ResultState.FAILED:
        retryable = True
    elif result is ResultState.TIMEDOUT:
        retryable = task.retry_on_timeout
    else:
        retryable = False
    return retryable and retries_used < task.max_retries


def retry_delay_millis(task: Task, retry_number: int, jitter: float) -> int:
    """Delay before retry ``retry_number`` (1 for the first retry).

    ``min_retry_interval_millis`` grows by ``retry_backoff_multiplier`` per retry, gets
    up to 10% jitter (``jitter`` is a number in [0, 1)), and is capped by
    ``max_retry_interval_millis`` (default: one day). It is never shorter than the
    minimum interval.
    """
    minimum = task.min_retry_interval_millis
    if task.retry_backoff_multiplier <= 1:
        return minimum
    cap = task.max_retry_interval_millis
    ceiling = max(DEFAULT_MAX_INTERVAL_MILLIS if cap is None else cap, minimum)
    # Grow step by step and stop at the ceiling: a power would overflow for late retries.
    base = float(minimum)
    for _ in range(retry_number - 1):
        if base >= ceiling:
            break
        base *= task.retry_backoff_multiplier
    return int(min(base * (1 + JITTER_FRACTION * jitter), ceiling))
