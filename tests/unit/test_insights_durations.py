"""Tests for podium.insights.durations: estimates, ETAs of running runs and expected
starts of queued ones, against values worked out by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from podium.insights import History
from podium.insights.durations import (
    estimate,
    eta_from_tasks,
    eta_of_running,
    etas_of_queued,
    job_estimate,
    task_estimates,
    task_samples,
)
from tests.unit.insights_factory import GAP, at, attempt, run, runs, task_history, task_run


def test_no_history_says_so() -> None:
    found = estimate([], "job", "successful runs")
    assert not found.enough
    assert found.n == 0 and found.median_seconds is None
    assert found.basis == "no successful runs yet; 3 are needed for an estimate"


def test_one_run_is_not_enough() -> None:
    found = estimate([12.0], "job", "successful runs")
    assert not found.enough
    assert found.basis == "only 1 successful run; 3 are needed for an estimate"


def test_unweighted_estimate() -> None:
    found = estimate([30, 10, 20, 40], "job", "successful runs", half_life=None)
    assert found.enough and found.n == 4
    assert found.median_seconds == pytest.approx(25)
    assert found.p90_seconds == found.p95_seconds == found.max_seconds == 40
    assert found.mad_seconds == 10  # deviations 5, 15, 5, 15
    assert found.basis == "median of the last 4 successful runs"


def test_weighted_estimate_leans_to_recent_runs() -> None:
    # Weights 1, .5, .25 for 10, 20, 30: positions .286, .714, .929; 0.5 is halfway.
    found = estimate([10, 20, 30], "job", "successful runs", half_life=1)
    assert found.median_seconds == pytest.approx(15)
    assert found.basis == ("median of the last 3 successful runs, weighted to recent ones "
                           "(half-life 1 runs)")


def test_only_the_window_counts() -> None:
    found = estimate([1.0] * 30 + [1000.0] * 5, "job", "successful runs")
    assert found.n == 30 and found.max_seconds == 1


def test_job_estimate_uses_successful_finished_runs_only() -> None:
    history = History((run(5, None), *runs([60, 5, 30, 90], ["SUCCESS", "FAILED", "SUCCESS",
                                                            "SUCCESS"])))
    found = job_estimate(history, half_life=None)
    assert found.n == 3 and found.median_seconds == 60


def test_all_failed_gives_no_estimate() -> None:
    history = History(runs([5, 6, 7], ["FAILED"] * 3))
    assert job_estimate(history).basis == "no successful runs yet; 3 are needed for an estimate"


def test_task_samples_newest_first_and_successes_only() -> None:
    history = History(attempts=(
        attempt(1, "a", 10), attempt(2, "a", 99, "FAILED"), attempt(2, "a", 20, number=1),
        attempt(3, "a", 30), attempt(3, "b", 7),
    ))
    assert task_samples(history) == {"a": [30, 20, 10], "b": [7]}
    assert task_samples(history, before_run=3) == {"a": [20, 10]}


def test_task_estimates_cover_tasks_without_history() -> None:
    found = task_estimates(task_history("a", [10, 20, 30]), ["a", "new"], half_life=None)
    assert found["a"].median_seconds == 20
    assert not found["new"].enough


# ---- ETAs -------------------------------------------------------------------------------
EXPECTED = estimate([50, 60, 70, 200], "job", "successful runs", half_life=None)  # median 65


def test_eta_of_a_run_before_its_median() -> None:
    running = run(1, None)
    eta = eta_of_running(running, EXPECTED, at(GAP + 30))
    assert eta.expected_end_at == at(GAP + 65)
    assert eta.basis == "start + 1 min 5 s, the median of the last 4 successful runs"


def test_eta_past_the_median_uses_the_95th_percentile() -> None:
    eta = eta_of_running(run(1, None), EXPECTED, at(GAP + 100))
    assert eta.expected_end_at == at(GAP + 200)
    assert "95th percentile of the last 4 successful runs" in eta.basis


def test_eta_of_a_run_longer_than_almost_all() -> None:
    eta = eta_of_running(run(1, None), EXPECTED, at(GAP + 300))
    assert eta.expected_end_at is None
    assert eta.basis.startswith("running 5 min 0 s, longer than 95%")


def test_eta_without_history() -> None:
    eta = eta_of_running(run(1, None), estimate([], "job", "successful runs"), at(GAP + 5))
    assert eta.expected_end_at is None
    assert eta.basis == "no successful runs yet; 3 are needed for an estimate"


def test_queued_runs_take_places_as_they_free() -> None:
    now = at(0)
    ends = [now + timedelta(seconds=20)]
    one_place = etas_of_queued([run(2, 0, queued=True), run(3, 0, queued=True)], ends, 1,
                               EXPECTED, now)
    assert [e.expected_start_at for e in one_place] == [at(20), at(85)]  # 20, 20 + 65
    two_places = etas_of_queued([run(2, 0, queued=True), run(3, 0, queued=True)], ends, 2,
                                EXPECTED, now)
    assert [e.expected_start_at for e in two_places] == [at(0), at(20)]
    assert two_places[0].expected_end_at == at(65)


def test_queued_runs_behind_an_unknown_end_get_no_start() -> None:
    found = etas_of_queued([run(2, 0, queued=True)], [None], 1, EXPECTED, at(0))
    assert found[0].expected_start_at is None
    assert found[0].basis == "a running run's end is unknown"


def test_eta_from_tasks_counts_what_each_task_has_left() -> None:
    # ingest (done) -> train (median 20 s, running for 5 s); side (median 30 s) not started
    deps = {"ingest": (), "train": ("ingest",), "side": ()}
    expected = {k: estimate([m] * 3, k, "successful attempts")
                for k, m in (("ingest", 10), ("train", 20), ("side", 30))}
    now = at(GAP + 15)
    tasks = [task_run(1, "ingest", 10), task_run(1, "train", None, offset=10)]
    eta = eta_from_tasks(run(1, None), deps, expected, tasks, now)
    assert eta is not None and eta.expected_end_at == at(GAP + 45)  # side: 30 s from now
    assert eta.basis == ("now + 30.0 s, the longest chain left (side) at the tasks' "
                         "median durations")
    tasks.append(task_run(1, "side", None, offset=15))  # side starts at 15 s
    later = eta_from_tasks(run(1, None), deps, expected, tasks, at(GAP + 40))
    # train is past its median (nothing left), side has 30 - 25 = 5 s left
    assert later is not None and later.expected_end_at == at(GAP + 45)
    del expected["side"]
    assert eta_from_tasks(run(1, None), deps, expected, tasks, now) is None  # side unknown
