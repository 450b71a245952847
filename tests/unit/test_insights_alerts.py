"""Tests for podium.insights.alerts: which ended runs raise the on_flaky and on_anomaly
alerts, with what evidence."""

from __future__ import annotations

from podium.insights import History, JobShape, TaskShape, run_alerts
from tests.unit.insights_factory import GAP, at, attempt, runs, task_run

SHAPE = JobShape((TaskShape("fetch"),))


def flaky_runs(n: int, saved: set[int]) -> History:
    """Runs 1..n of ``fetch`` (10 s each); in the runs of ``saved`` its first attempt
    failed and the retry passed."""
    attempts = []
    for i in range(1, n + 1):
        if i in saved:
            attempts += [attempt(i, "fetch", 5, "FAILED", 0, f"timeout after {i} s"),
                         attempt(i, "fetch", 10, "SUCCESS", 1, offset=5)]
        else:
            attempts.append(attempt(i, "fetch", 10))
    task_runs = tuple(task_run(i, "fetch", 10) for i in range(1, n + 1))
    return History(runs([10.0] * n), task_runs, tuple(attempts))


def test_a_task_saved_by_a_retry_alerts_from_its_second_time() -> None:
    assert run_alerts(SHAPE, flaky_runs(1, {1}), 1, at(2 * GAP))["on_flaky"] == []
    history = flaky_runs(3, {1, 3})
    [line] = run_alerts(SHAPE, history, 3, at(4 * GAP))["on_flaky"]
    assert line.startswith("fetch: failed, then succeeded when tried again, in 2 of the last")
    assert "timeout after" in line
    # A run where the task passed at once raises nothing, whatever came before.
    assert run_alerts(SHAPE, flaky_runs(4, {1, 3}), 4, at(5 * GAP))["on_flaky"] == []


def test_an_unusual_run_alerts_with_its_evidence() -> None:
    quick = History(runs([10.0] * 6 + [60.0]),
                    tuple(task_run(i, "fetch", 10 if i < 7 else 60) for i in range(1, 8)),
                    tuple(attempt(i, "fetch", 10 if i < 7 else 60) for i in range(1, 8)))
    alerts = run_alerts(SHAPE, quick, 7, at(8 * GAP))
    run_line, task_line = alerts["on_anomaly"]
    assert run_line.startswith("job: run 7 took 1 min 0 s; the median of the 6 successful runs")
    assert task_line.startswith("fetch: ") and "robust z = 50.0" in task_line
    assert run_alerts(SHAPE, quick, 6, at(8 * GAP))["on_anomaly"] == []
