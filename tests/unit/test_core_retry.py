"""Tests for podium.core.retry: which attempts are retried, and how long to wait."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from podium.core.retry import (
    DEFAULT_MAX_INTERVAL_MILLIS,
    JITTER_FRACTION,
    retry_delay_millis,
    should_retry,
)
from podium.core.states import ResultState
from podium.spec import Task, parse_job

R = ResultState


def make_task(**fields: Any) -> Task:
    """A shell task with the given retry fields, through the real spec parser."""
    data = {"task_key": "t", "shell_task": {"command": ["true"]}, **fields}
    return parse_job({"name": "retry-test", "tasks": [data]})[0].task("t")


# --- should_retry ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_retries", "retries_used", "expected"),
    [(0, 0, False), (1, 0, True), (1, 1, False), (3, 0, True), (3, 2, True), (3, 3, False),
     (3, 4, False)],
)
def test_failed_is_retried_up_to_max_retries(
    max_retries: int, retries_used: int, expected: bool
) -> None:
    task = make_task(max_retries=max_retries)
    assert should_retry(task, R.FAILED, retries_used) is expected


@pytest.mark.parametrize(("retry_on_timeout", "expected"), [(False, False), (True, True)])
def test_timedout_is_retried_only_with_retry_on_timeout(
    retry_on_timeout: bool, expected: bool
) -> None:
    task = make_task(max_retries=2, retry_on_timeout=retry_on_timeout)
    assert should_retry(task, R.TIMEDOUT, 0) is expected
    assert should_retry(task, R.TIMEDOUT, 2) is False


@pytest.mark.parametrize("result", sorted(set(ResultState) - {R.FAILED, R.TIMEDOUT}))
def test_other_results_are_never_retried(result: ResultState) -> None:
    task = make_task(max_retries=5, retry_on_timeout=True)
    assert should_retry(task, result, 0) is False


@given(
    st.integers(0, 1000),
    st.integers(0, 1001),
    st.booleans(),
    st.sampled_from(list(ResultState)),
)
def test_should_retry_rule(
    max_retries: int, retries_used: int, retry_on_timeout: bool, result: ResultState
) -> None:
    task = make_task(max_retries=max_retries, retry_on_timeout=retry_on_timeout)
    retryable = result is R.FAILED or (result is R.TIMEDOUT and retry_on_timeout)
    assert should_retry(task, result, retries_used) is (retryable and retries_used < max_retries)


# --- retry_delay_millis ----------------------------------------------------------------


def test_defaults_retry_at_once() -> None:
    task = make_task(max_retries=3)
    assert [retry_delay_millis(task, n, 0.5) for n in (1, 2, 3)] == [0, 0, 0]


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_without_backoff_every_delay_is_the_minimum_and_has_no_jitter(jitter: float) -> None:
    task = make_task(max_retries=5, min_retry_interval_millis=1500)
    assert [retry_delay_millis(task, n, jitter) for n in range(1, 6)] == [1500] * 5


def test_exponential_backoff() -> None:
    task = make_task(max_retries=5, min_retry_interval_millis=1000, retry_backoff_multiplier=2)
    assert [retry_delay_millis(task, n, 0.0) for n in range(1, 6)] == [
        1000, 2000, 4000, 8000, 16000
    ]


def test_fractional_multiplier() -> None:
    task = make_task(max_retries=3, min_retry_interval_millis=1000, retry_backoff_multiplier=1.5)
    assert [retry_delay_millis(task, n, 0.0) for n in (1, 2, 3)] == [1000, 1500, 2250]


@pytest.mark.parametrize(
    ("retry_number", "jitter", "expected"),
    [(1, 0.5, 1050), (2, 0.5, 2100), (3, 0.25, 4100), (1, 0.999, 1099)],
)
def test_jitter_adds_up_to_ten_percent_with_backoff(
    retry_number: int, jitter: float, expected: int
) -> None:
    task = make_task(max_retries=5, min_retry_interval_millis=1000, retry_backoff_multiplier=2)
    assert retry_delay_millis(task, retry_number, jitter) == expected


def test_cap_by_max_retry_interval() -> None:
    task = make_task(max_retries=6, min_retry_interval_millis=1000, retry_backoff_multiplier=2,
                     max_retry_interval_millis=5000)
    assert [retry_delay_millis(task, n, 0.0) for n in range(1, 7)] == [
        1000, 2000, 4000, 5000, 5000, 5000
    ]
    # jitter never pushes a delay past the cap
    assert retry_delay_millis(task, 3, 0.999) == 4399
    assert retry_delay_millis(task, 4, 0.999) == 5000


def test_cap_below_the_minimum_keeps_the_minimum() -> None:
    task = make_task(max_retries=3, min_retry_interval_millis=2000, retry_backoff_multiplier=3,
                     max_retry_interval_millis=500)
    assert [retry_delay_millis(task, n, 0.9) for n in (1, 2, 3)] == [2000, 2000, 2000]


def test_cap_without_backoff() -> None:
    task = make_task(max_retries=3, min_retry_interval_millis=2000, max_retry_interval_millis=3000)
    assert retry_delay_millis(task, 3, 0.9) == 2000


def test_huge_backoff_is_capped_not_an_overflow() -> None:
    # A valid spec (max_retries <= 1000, multiplier <= 100): by retry 400 the uncapped
    # delay is 10**399 ms, beyond a float. The cap must still apply.
    task = make_task(max_retries=1000, min_retry_interval_millis=1000,
                     retry_backoff_multiplier=10, max_retry_interval_millis=60_000)
    assert retry_delay_millis(task, 400, 0.5) == 60_000
    assert retry_delay_millis(task, 1000, 0.5) == 60_000


retry_tasks = st.builds(
    lambda min_ms, mult, cap, max_retries: make_task(
        max_retries=max_retries,
        min_retry_interval_millis=min_ms,
        retry_backoff_multiplier=mult,
        max_retry_interval_millis=cap,
    ),
    st.integers(0, 10_000_000),
    st.one_of(st.just(1.0), st.floats(1.0, 100.0)),
    st.one_of(st.none(), st.integers(0, 100_000_000)),
    st.integers(1, 40),
)
jitters = st.floats(0.0, 1.0, exclude_max=True)


@given(retry_tasks, st.data(), jitters)
def test_delay_bounds(task: Task, data: st.DataObject, jitter: float) -> None:
    n = data.draw(st.integers(1, task.max_retries))
    delay = retry_delay_millis(task, n, jitter)
    low = task.min_retry_interval_millis
    base = low * task.retry_backoff_multiplier ** (n - 1)
    cap = DEFAULT_MAX_INTERVAL_MILLIS if task.retry_backoff_multiplier > 1 else math.inf
    if task.max_retry_interval_millis is not None:
        cap = task.max_retry_interval_millis
    cap = max(cap, low)  # a cap below the minimum is ignored
    assert isinstance(delay, int)
    assert delay >= low
    assert delay <= cap
    # the back-off, capped; jitter adds at most 10% of it
    assert math.floor(min(base, cap)) <= delay <= min(base * (1 + JITTER_FRACTION), cap)


@given(retry_tasks, st.data(), jitters)
def test_no_jitter_without_backoff(task: Task, data: st.DataObject, jitter: float) -> None:
    assume(task.retry_backoff_multiplier == 1.0)
    n = data.draw(st.integers(1, task.max_retries))
    assert retry_delay_millis(task, n, jitter) == task.min_retry_interval_millis


@given(retry_tasks, jitters)
def test_delay_never_shrinks_from_one_retry_to_the_next(task: Task, jitter: float) -> None:
    delays = [retry_delay_millis(task, n, jitter) for n in range(1, task.max_retries + 1)]
    assert delays == sorted(delays)


@given(retry_tasks, st.data(), jitters, jitters)
def test_more_jitter_never_means_a_shorter_delay(
    task: Task, data: st.DataObject, j1: float, j2: float
) -> None:
    n = data.draw(st.integers(1, task.max_retries))
    lo, hi = sorted([j1, j2])
    assert retry_delay_millis(task, n, lo) <= retry_delay_millis(task, n, hi)
