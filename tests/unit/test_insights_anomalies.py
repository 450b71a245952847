"""Tests for podium.insights.anomalies: robust z-scores and failure-rate jumps on
synthetic histories, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from podium.insights import History
from podium.insights.anomalies import (
    failure_rate_anomalies,
    outlier,
    rate_jump,
    run_duration_anomalies,
    task_duration_anomalies,
    value_anomalies,
)
from tests.unit.insights_factory import GAP, at, attempt, run, runs, task_run, values

BASELINE = [10, 11, 9, 10, 10]  # median 10, MAD 0: the scale is 10% of 10 = 1


def test_outlier_by_robust_z() -> None:
    assert outlier(20, BASELINE) == (10, 1.0, 10.0)
    assert outlier(13, BASELINE) is None  # z = 3, inside ±3.5
    assert outlier(5, BASELINE) == (10, 1.0, -5.0)


def test_outlier_needs_five_earlier_values() -> None:
    assert outlier(1000, [10, 10, 10, 10]) is None


def test_a_baseline_of_zeros_makes_any_change_an_outlier() -> None:
    assert outlier(1, [0, 0, 0, 0, 0]) == (0, 0.0, math.inf)
    assert outlier(0, [0, 0, 0, 0, 0]) is None


def test_a_slow_run_is_an_anomaly_against_the_runs_before_it() -> None:
    history = History(runs([*BASELINE, 100]))  # run 6 took 100 s
    [found] = run_duration_anomalies(history, at(0))
    assert (found.kind, found.run_id, found.value, found.expected) == ("run_duration", 6, 100, 10)
    assert found.score == pytest.approx(90) and found.n == 5
    assert found.evidence == (
        "run 6 took 1 min 40 s; the median of the 5 successful runs before is 10.0 s "
        "(robust spread 1.0 s): robust z = 90.0, beyond ±3.5")


def test_a_run_running_far_too_long_is_an_anomaly_but_a_young_one_is_not() -> None:
    history = History((run(6, None), *runs(BASELINE)))
    [found] = run_duration_anomalies(history, at(6 * GAP + 100))
    assert found.evidence.startswith("run 6 has been running for 1 min 40 s")
    assert run_duration_anomalies(history, at(6 * GAP + 2)) == []  # only 2 s so far


def test_failed_runs_and_short_histories_give_no_duration_anomaly() -> None:
    assert run_duration_anomalies(History(runs([*BASELINE, 100], [*["SUCCESS"] * 5, "FAILED"])),
                                  at(0)) == []
    assert run_duration_anomalies(History(runs([10, 100])), at(0)) == []
    assert run_duration_anomalies(History(), at(0)) == []


def test_a_slow_task() -> None:
    history = History(attempts=tuple(
        attempt(i + 1, "match", d) for i, d in enumerate([*BASELINE, 40])))
    [found] = task_duration_anomalies(history, [6])
    assert (found.subject, found.run_id) == ("match", 6)
    assert found.score == pytest.approx(30)
    assert task_duration_anomalies(history, [5]) == []  # 10 s against 4 runs: too few


def test_a_task_value_out_of_range() -> None:
    # Baseline 100, 102, 98, 100, 101: median 100, MAD 1, scale max(1.48, 10) = 10.
    history = History(values=values("ingest", "rows", [100, 102, 98, 100, 101, 10]))
    [found] = value_anomalies(history, [6])
    assert (found.kind, found.subject, found.value, found.expected) == (
        "task_value", "ingest.rows", 10, 100)
    assert found.score == pytest.approx(-9)
    assert "ingest set rows = 10 in run 6" in found.evidence
    assert value_anomalies(History(values=values("ingest", "rows", [100] * 5 + [104])),
                           [6]) == []


def test_failure_rate_jump() -> None:
    # 5 of the last 10 failed, 0 of the 30 before: rate (0 + 1) / 32.
    outcomes = [True, False] * 5 + [False] * 30
    found = rate_jump(outcomes, "job", "runs")
    assert found is not None
    p = 1 / 32
    expected = sum(math.comb(10, k) * p**k * (1 - p) ** (10 - k) for k in range(5, 11))
    assert found.score == pytest.approx(expected)
    assert (found.value, found.n) == (0.5, 30)
    assert found.expected == pytest.approx(p)
    assert found.evidence.startswith("5 of the last 10 runs failed, against 0 of the 30 before")


def test_no_jump_when_the_rate_is_as_before() -> None:
    assert rate_jump([True] + [False] * 9 + [True] * 3 + [False] * 27, "job", "runs") is None


def test_no_jump_without_enough_runs() -> None:
    assert rate_jump([True] * 9, "job", "runs") is None  # fewer than 10 recent
    assert rate_jump([True] * 10 + [False] * 4, "job", "runs") is None  # 4 before


def test_failure_rate_of_job_and_tasks() -> None:
    results = ["SUCCESS"] * 30 + ["FAILED", "SUCCESS"] * 5  # oldest first
    history = History(
        runs([10] * 40, results),
        task_runs=tuple(task_run(i + 1, "load", 5, r) for i, r in enumerate(results)),
    )
    found = failure_rate_anomalies(history)
    assert [(a.kind, a.subject) for a in found] == [("failure_rate", "job"),
                                                    ("failure_rate", "load")]
    assert failure_rate_anomalies(History()) == []
