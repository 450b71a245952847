"""Tests for podium.insights.report: the job and run reports put together, on empty,
tiny, all-failed and ordinary synthetic histories."""

from __future__ import annotations

import json

from podium.insights import History, JobShape, TaskShape, job_report, run_report
from tests.unit.insights_factory import GAP, at, attempt, run, runs, task_run

SHAPE = JobShape((TaskShape("ingest"), TaskShape("train", ("ingest",))))


def test_no_history() -> None:
    report = job_report(SHAPE, History(), at(0), slots=4)
    assert report["runs_considered"] == 0
    assert report["expected_duration"]["basis"] == (
        "no successful runs yet; 3 are needed for an estimate")
    assert [t["subject"] for t in report["tasks"]] == ["ingest", "train"]
    assert report["etas"] == report["anomalies"] == report["flaky_tasks"] == []
    assert report["expected_critical_path"] is None and report["suggestions"] == []
    json.dumps(report)


def test_one_run() -> None:
    history = History(runs([30]), attempts=(attempt(1, "ingest", 10),
                                            attempt(1, "train", 20, offset=10)))
    report = job_report(SHAPE, history, at(2 * GAP), slots=4)
    assert report["expected_duration"]["basis"] == (
        "only 1 successful run; 3 are needed for an estimate")
    assert report["expected_duration"]["median_seconds"] is None
    assert report["suggestions"] == []


def test_all_failed() -> None:
    history = History(runs([5, 5, 5], ["FAILED"] * 3),
                      attempts=tuple(attempt(i, "ingest", 5, "FAILED", message="boom")
                                     for i in (1, 2, 3)))
    report = job_report(SHAPE, history, at(0), slots=4)
    assert report["expected_duration"]["n"] == 0
    assert report["flaky_tasks"] == [] and report["suggestions"] == []


def ordinary() -> History:
    """Runs 1-5: ingest 10 s then train 20 s (30 s); run 6 still running for 10 s."""
    attempts = []
    task_runs = []
    for i in range(1, 6):
        attempts += [attempt(i, "ingest", 10), attempt(i, "train", 20, offset=10)]
        task_runs += [task_run(i, "ingest", 10), task_run(i, "train", 20, offset=10)]
    task_runs.append(task_run(6, "ingest", None))
    return History((run(6, None), *runs([30] * 5)), tuple(task_runs), tuple(attempts))


def test_ordinary_history() -> None:
    now = at(6 * GAP + 10)
    report = job_report(SHAPE, ordinary(), now, slots=4)
    assert report["expected_duration"]["median_seconds"] == 30
    [eta] = report["etas"]
    assert eta["run_id"] == 6 and eta["expected_end_at"] == at(6 * GAP + 30).isoformat()
    path = report["expected_critical_path"]
    assert [s["task_key"] for s in path["steps"]] == ["ingest", "train"]
    assert path["path_seconds"] == 30
    # timeouts 2 x 10 s and 2 x 20 s, health 1.5 x 30 s: all raised to a minute
    assert [(s["id"], s["suggested"]) for s in report["suggestions"]] == [
        ("timeout_seconds:ingest", 60), ("timeout_seconds:train", 60), ("health:job", 60)]
    json.dumps(report)


def test_run_report() -> None:
    history = ordinary()
    report = run_report(SHAPE, history, 5, at(7 * GAP))
    assert report["eta"] is None
    assert report["expected_duration"]["n"] == 4  # the runs before run 5
    assert [(t["task_key"], t["seconds"]) for t in report["tasks"]] == [("ingest", 10),
                                                                      ("train", 20)]
    assert report["critical_path"]["basis"] == (
        "longest chain of task durations of run 5: ingest → train, 30.0 s")
    running = run_report(SHAPE, history, 6, at(6 * GAP + 10))
    assert running["eta"]["expected_end_at"] == at(6 * GAP + 30).isoformat()
    assert running["critical_path"]["path_seconds"] == 10  # ingest so far


def test_run_report_of_a_slow_run_shows_the_anomaly() -> None:
    history = History(runs([10, 11, 9, 10, 10, 100]))
    report = run_report(JobShape(()), history, 6, at(0))
    assert [a["kind"] for a in report["anomalies"]] == ["run_duration"]
    assert report["critical_path"] is None


def test_duration_trends_are_oldest_first_and_leave_out_running_runs() -> None:
    report = job_report(SHAPE, ordinary(), at(6 * GAP + 10), slots=4)
    trends = report["trends"]
    assert trends[""] == [[i, 30.0, "SUCCESS"] for i in range(1, 6)]  # run 6 still runs
    assert trends["ingest"] == [[i, 10.0, "SUCCESS"] for i in range(1, 6)]
    assert trends["train"] == [[i, 20.0, "SUCCESS"] for i in range(1, 6)]
    assert job_report(SHAPE, History(), at(0), slots=4)["trends"] == {"": []}
