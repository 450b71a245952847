"""The insight alerts of an ended run (``on_anomaly``, ``on_flaky``): what to tell the
people a job names for them, each line with its evidence."""

from __future__ import annotations

from datetime import datetime

from podium.insights.flaky import flaky_tasks
from podium.insights.records import FAILURES, SUCCESS, History, JobShape
from podium.insights.report import run_report

# A task is called flaky in an alert once it passed only on a retry in this many runs.
FLAKY_RUNS = 2


def run_alerts(shape: JobShape, history: History, run_id: int, now: datetime
               ) -> dict[str, list[str]]:
    """The evidence for each insight event of run ``run_id`` (empty lists: no alert).

    ``history`` holds the run and the job's runs before it, newest first.
    """
    report = run_report(shape, history, run_id, now)
    anomalies = [f"{a['subject']}: {a['evidence']}" for a in report["anomalies"]]
    saved_by_retry = _saved_by_retry(history, run_id)
    flaky = [f"{f.task_key}: {f.basis}" + (f"; errors before the retries: {f.errors[0].example}"
                                           if f.errors else "")
             for f in flaky_tasks(history)
             if f.task_key in saved_by_retry and f.flaky_runs >= FLAKY_RUNS]
    return {"on_anomaly": anomalies, "on_flaky": flaky}


def _saved_by_retry(history: History, run_id: int) -> set[str]:
    """The tasks of the run whose last attempt passed after a failed one."""
    tries: dict[str, list[tuple[int, int, str | None]]] = {}
    for a in history.attempts:
        if a.run_id == run_id:
            tries.setdefault(a.task_key, []).append((a.repair_count, a.attempt_number,
                                                      a.result_state))
    saved = set()
    for key, attempts in tries.items():
        attempts.sort()
        states = [s for _, _, s in attempts]
        if states and states[-1] == SUCCESS and any(s in FAILURES for s in states[:-1]):
            saved.add(key)
    return saved
