"""Tests for podium.insights.flaky: which tasks fail then succeed when tried again,
their ranking, and the grouping of the errors before the retries."""

from __future__ import annotations

from podium.insights import History
from podium.insights.flaky import ErrorGroup, error_pattern, flaky_tasks
from tests.unit.insights_factory import attempt


def test_error_patterns_leave_out_numbers_and_ids() -> None:
    assert error_pattern("connection reset by 10.0.0.1:5432\nTraceback ...") == \
        "connection reset by <n>.<n>:<n>"
    assert error_pattern("lock 0xdeadbeef held by job 8f3a9c21d4") == \
        "lock <id> held by job <id>"
    assert error_pattern("  ") == "(no message)"


HISTORY = History(attempts=(
    # run 1: a fails once then succeeds; b likewise
    attempt(1, "a", 1, "FAILED", 0, "connection reset by 10.0.0.1:5432"),
    attempt(1, "a", 1, "SUCCESS", 1),
    attempt(1, "b", 1, "FAILED", 0, "boom"),
    attempt(1, "b", 1, "SUCCESS", 1),
    # run 2: a succeeds at once
    attempt(2, "a", 1),
    # run 3: a needs two retries
    attempt(3, "a", 1, "FAILED", 0, "connection reset by 10.0.0.2:5432"),
    attempt(3, "a", 1, "TIMEDOUT", 1, "timeout after 30 s"),
    attempt(3, "a", 1, "SUCCESS", 2),
    # run 4: a fails for good; its first failure was followed by a retry
    attempt(4, "a", 1, "FAILED", 0, "timeout after 31 s"),
    attempt(4, "a", 1, "FAILED", 1, "disk full"),
))


def test_flaky_tasks_are_counted_and_ranked() -> None:
    a, b = flaky_tasks(HISTORY)
    assert (a.task_key, a.runs, a.flaky_runs, a.failed_runs, a.most_retries_needed) == (
        "a", 4, 2, 1, 2)
    assert a.rate == 0.5
    assert a.basis == "failed, then succeeded when tried again, in 2 of the last 4 runs of task a"
    assert (b.task_key, b.runs, b.flaky_runs) == ("b", 1, 1)


def test_errors_before_retries_are_grouped() -> None:
    a = flaky_tasks(HISTORY)[0]
    assert a.errors == (
        ErrorGroup("connection reset by <n>.<n>:<n>", 2, "connection reset by 10.0.0.1:5432",
                   (1, 3)),
        ErrorGroup("timeout after <n> s", 2, "timeout after 30 s", (3, 4)),
    )  # "disk full" ended the run: no retry followed it


def test_a_repair_that_succeeds_counts_as_flaky() -> None:
    history = History(attempts=(attempt(1, "t", 1, "FAILED", 0, "x"),
                                attempt(1, "t", 1, "SUCCESS", 0, repair_count=1)))
    [found] = flaky_tasks(history)
    assert found.flaky_runs == 1


def test_edge_cases() -> None:
    assert flaky_tasks(History()) == []
    all_failed = History(attempts=tuple(attempt(i, "t", 1, "FAILED") for i in (1, 2, 3)))
    assert flaky_tasks(all_failed) == []
    one_run = History(attempts=(attempt(1, "t", 1),))
    assert flaky_tasks(one_run) == []
    still_running = History(attempts=(attempt(1, "t", 1, None),))
    assert flaky_tasks(still_running) == []
