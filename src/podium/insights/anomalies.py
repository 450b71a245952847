"""Anomalies: a run or task far outside its usual duration, a failure rate that jumped,
a numeric task value outside its usual range; each with the evidence.

A value is compared with the runs *before* it (so an anomaly cannot hide itself) by a
robust z-score, (value - median) / max(1.4826 x MAD, 10% of the median): beyond 3.5 it
is an anomaly (Iglewicz and Hoaglin's cut-off). A failure rate jumped when the recent
failures would happen less than once in a hundred times at the earlier rate.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from podium.insights.durations import WINDOW
from podium.insights.records import FAILURES, SUCCESS, History, PastAttempt, PastRun
from podium.insights.stats import binomial_tail, robust_scale, seconds_text

Z_LIMIT = 3.5
MIN_BASELINE = 5  # runs before one to compare it with
RECENT_RUNS = 5  # how many of the newest runs a job's report checks
RATE_RECENT, RATE_BASELINE = 10, 30  # the windows a failure rate is compared over
P_LIMIT = 0.01


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something out of the ordinary, with what it was compared with.

    ``kind`` is run_duration, task_duration, task_value or failure_rate; ``score`` is the
    robust z-score, or for a failure rate the probability of so many failures.
    """

    kind: str
    subject: str
    run_id: int | None
    value: float
    expected: float
    score: float
    n: int
    evidence: str


def outlier(value: float, baseline: Sequence[float]) -> tuple[float, float, float] | None:
    """(median, scale, z) of ``value`` against ``baseline`` when |z| > 3.5, else None.
    A baseline that never varied around 0 makes any other value an outlier."""
    if len(baseline) < MIN_BASELINE:
        return None
    middle = statistics.median(baseline)
    scale = robust_scale(baseline)
    if scale == 0:
        return (middle, 0.0, float("inf")) if value != middle else None
    z = (value - middle) / scale
    return (middle, scale, z) if abs(z) > Z_LIMIT else None


def run_duration_anomalies(history: History, now: datetime,
                           recent: int = RECENT_RUNS) -> list[Anomaly]:
    """The newest runs that took far longer or shorter than the successful runs before
    them; a run still going counts its time so far (only too long can be told then)."""
    found = []
    for i, run in enumerate(history.runs[:recent]):
        seconds = _seconds_so_far(run, now)
        if seconds is None:
            continue
        baseline = [r.seconds for r in history.runs[i + 1:]
                    if r.result_state == SUCCESS and r.seconds is not None][:WINDOW]
        hit = outlier(seconds, baseline)
        if hit is None or (run.ended_at is None and hit[2] < 0):
            continue
        middle, scale, z = hit
        doing = "took" if run.ended_at else "has been running for"
        found.append(Anomaly("run_duration", "job", run.run_id, seconds, middle, z,
                             len(baseline),
                             f"run {run.run_id} {doing} {seconds_text(seconds)}; "
                             f"{_against(middle, scale, z, len(baseline), 'successful runs')}"))
    return found


def _seconds_so_far(run: PastRun, now: datetime) -> float | None:
    if run.ended_at is None:
        return (now - run.started_at).total_seconds() if run.started_at else None
    return run.seconds if run.result_state == SUCCESS else None


def _against(middle: float, scale: float, z: float, n: int, what: str,
             unit: bool = True) -> str:
    show = seconds_text if unit else (lambda v: f"{v:g}")
    if scale == 0:
        return f"the last {n} {what} before were all {show(middle)}"
    return (f"the median of the {n} {what} before is {show(middle)} (robust spread "
            f"{show(scale)}): robust z = {z:.1f}, beyond ±{Z_LIMIT}")


def task_duration_anomalies(history: History, run_ids: Sequence[int]) -> list[Anomaly]:
    """Successful attempts in ``run_ids`` far from the task's attempts in earlier runs."""
    wanted = set(run_ids)
    by_task: dict[str, list[PastAttempt]] = {}
    for a in history.attempts:
        if a.result_state == SUCCESS and a.seconds is not None:
            by_task.setdefault(a.task_key, []).append(a)
    found = []
    for key, attempts in sorted(by_task.items()):
        attempts.sort(key=lambda a: (a.run_id, a.repair_count, a.attempt_number), reverse=True)
        for i, attempt in enumerate(attempts):
            if attempt.run_id not in wanted:
                continue
            earlier = (b for b in attempts[i + 1:] if b.run_id < attempt.run_id)
            baseline = [b.seconds for b in islice(earlier, WINDOW) if b.seconds is not None]
            seconds = attempt.seconds or 0.0
            hit = outlier(seconds, baseline)
            if hit is None:
                continue
            middle, scale, z = hit
            found.append(Anomaly(
                "task_duration", key, attempt.run_id, seconds, middle, z, len(baseline),
                f"task {key} took {seconds_text(seconds)} in run {attempt.run_id}; "
                f"{_against(middle, scale, z, len(baseline), 'successful attempts')}",
            ))
    return found


def value_anomalies(history: History, run_ids: Sequence[int]) -> list[Anomaly]:
    """Numeric task values set in ``run_ids`` outside the range of the same task's same
    value in earlier runs."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for v in history.values:
        series.setdefault((v.task_key, v.key), []).append((v.run_id, v.value))
    found = []
    for (task_key, key), points in sorted(series.items()):
        points.sort(reverse=True)  # newest first
        for i, (run_id, value) in enumerate(points):
            if run_id not in run_ids:
                continue
            baseline = [p for _, p in points[i + 1:]][:WINDOW]
            hit = outlier(value, baseline)
            if hit is not None:
                middle, scale, z = hit
                found.append(Anomaly(
                    "task_value", f"{task_key}.{key}", run_id, value, middle, z,
                    len(baseline),
                    f"{task_key} set {key} = {value:g} in run {run_id}; "
                    f"{_against(middle, scale, z, len(baseline), 'values', unit=False)}",
                ))
    return found


def rate_jump(outcomes: Sequence[bool], subject: str, what: str) -> Anomaly | None:
    """A jump in the failure rate of ``outcomes`` (True: failed; newest first).

    The last 10 are compared with the 30 before: at the earlier rate, smoothed as
    (failures + 1) / (n + 2) so that "never failed" is not "cannot fail", the chance of
    at least as many recent failures must be under 1%.
    """
    recent, before = outcomes[:RATE_RECENT], outcomes[RATE_RECENT:RATE_RECENT + RATE_BASELINE]
    if len(recent) < RATE_RECENT or len(before) < MIN_BASELINE:
        return None
    failed, failed_before = sum(recent), sum(before)
    rate = (failed_before + 1) / (len(before) + 2)
    p = binomial_tail(failed, len(recent), rate)
    if failed / len(recent) <= rate or p >= P_LIMIT:
        return None
    return Anomaly(
        "failure_rate", subject, None, failed / len(recent), rate, p, len(before),
        f"{failed} of the last {len(recent)} {what} failed, against {failed_before} of the "
        f"{len(before)} before (rate {rate:.0%}, smoothed): P(≥{failed} failures) = {p:.2g} "
        f"< {P_LIMIT:g}",
    )


def failure_rate_anomalies(history: History) -> list[Anomaly]:
    """Jumps in the failure rate of the job's runs and of each task's runs."""
    found = []
    outcomes = [r.result_state in FAILURES for r in history.runs if r.result_state]
    job = rate_jump(outcomes, "job", "runs")
    if job is not None:
        found.append(job)
    per_task: dict[str, list[tuple[int, bool]]] = {}
    for t in history.task_runs:
        if t.result_state == SUCCESS or t.result_state in FAILURES:
            per_task.setdefault(t.task_key, []).append((t.run_id, t.result_state != SUCCESS))
    for key, points in sorted(per_task.items()):
        points.sort(reverse=True)
        task = rate_jump([failed for _, failed in points], key, f"runs of task {key}")
        if task is not None:
            found.append(task)
    return found
