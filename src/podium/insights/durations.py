"""Expected durations of a job and its tasks from their recent successful runs, and
from them the end of running runs and the start of queued ones."""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from podium.insights.critical_path import critical_path
from podium.insights.records import SUCCESS, History, PastRun, PastTaskRun
from podium.insights.stats import mad, recency_weights, seconds_text, weighted_quantile

WINDOW = 30  # only recent runs: a job's code and data change
MIN_SAMPLES = 3  # fewer say too little to predict anything
HALF_LIFE = 10.0  # a run 10 runs back counts half as much as the newest


@dataclass(frozen=True, slots=True)
class Estimate:
    """The expected duration of ``subject`` ("job" or a task key); the numbers are None
    when the history is too short, and ``basis`` says what they rest on, or why not."""

    subject: str
    n: int
    basis: str
    median_seconds: float | None = None
    p90_seconds: float | None = None
    p95_seconds: float | None = None
    max_seconds: float | None = None
    mad_seconds: float | None = None

    @property
    def enough(self) -> bool:
        return self.median_seconds is not None


def estimate(samples: Sequence[float], subject: str, what: str, *, window: int = WINDOW,
             min_samples: int = MIN_SAMPLES, half_life: float | None = HALF_LIFE) -> Estimate:
    """The estimate from ``samples`` (durations in seconds, newest first).

    Args:
        what: what a sample is, for the basis ("successful runs").
        half_life: in samples; None weighs every sample the same.
    """
    recent = list(samples[:window])
    n = len(recent)
    if n < min_samples:
        one = what.removesuffix("s") if n == 1 else what  # "only 1 successful run"
        said = f"only {n} {one}" if n else f"no {what} yet"
        return Estimate(subject, n, f"{said}; {min_samples} are needed for an estimate")
    weights = recency_weights(n, half_life)
    weighting = (f", weighted to recent ones (half-life {half_life:g} runs)"
                 if half_life is not None else "")
    return Estimate(
        subject, n, f"median of the last {n} {what}{weighting}",
        median_seconds=weighted_quantile(recent, weights, 0.5),
        p90_seconds=weighted_quantile(recent, weights, 0.9),
        p95_seconds=weighted_quantile(recent, weights, 0.95),
        max_seconds=max(recent), mad_seconds=mad(recent),
    )


def run_samples(history: History) -> list[float]:
    """Durations of the job's successful runs, newest first."""
    return [r.seconds for r in history.runs
            if r.result_state == SUCCESS and r.seconds is not None]


def task_samples(history: History, before_run: int | None = None) -> dict[str, list[float]]:
    """Durations of each task's successful attempts, newest first (only runs before
    ``before_run`` when given)."""
    attempts = sorted(history.attempts, key=lambda a: (a.run_id, a.repair_count,
                                                        a.attempt_number), reverse=True)
    out: dict[str, list[float]] = {}
    for a in attempts:
        if before_run is not None and a.run_id >= before_run:
            continue
        if a.result_state == SUCCESS and a.seconds is not None:
            out.setdefault(a.task_key, []).append(a.seconds)
    return out


def job_estimate(history: History, half_life: float | None = HALF_LIFE) -> Estimate:
    return estimate(run_samples(history), "job", "successful runs", half_life=half_life)


def task_estimates(history: History, task_keys: Sequence[str] = (),
                   half_life: float | None = HALF_LIFE) -> dict[str, Estimate]:
    """An estimate for each task seen in the history, and for each of ``task_keys``."""
    samples = task_samples(history)
    keys = list(dict.fromkeys([*task_keys, *sorted(samples)]))
    return {k: estimate(samples.get(k, []), k, "successful attempts", half_life=half_life)
            for k in keys}


@dataclass(frozen=True, slots=True)
class Eta:
    """When a run is expected to start and to end (None: cannot tell), and why."""

    run_id: int
    basis: str
    expected_start_at: datetime | None = None
    expected_end_at: datetime | None = None


def eta_of_running(run: PastRun, expected: Estimate, now: datetime) -> Eta:
    """The expected end of a running run: its start plus the median, or plus the 95th
    percentile once it has run longer than the median."""
    started = run.started_at or now
    if not expected.enough:
        return Eta(run.run_id, expected.basis, started)
    assert expected.median_seconds is not None and expected.p95_seconds is not None
    elapsed = (now - started).total_seconds()
    if elapsed <= expected.median_seconds:
        return Eta(run.run_id, f"start + {seconds_text(expected.median_seconds)}, the "
                   f"{expected.basis}", started,
                   started + timedelta(seconds=expected.median_seconds))
    if elapsed <= expected.p95_seconds:
        return Eta(run.run_id, f"past the median: start + {seconds_text(expected.p95_seconds)}"
                   f", the 95th percentile of the last {expected.n} successful runs",
                   started, started + timedelta(seconds=expected.p95_seconds))
    return Eta(run.run_id, f"running {seconds_text(elapsed)}, longer than 95% of the last "
               f"{expected.n} successful runs: no end can be predicted", started)


def eta_from_tasks(run: PastRun, deps: Mapping[str, Sequence[str]],
                   expected: Mapping[str, Estimate], tasks: Sequence[PastTaskRun],
                   now: datetime) -> Eta | None:
    """The expected end of a running run from its tasks: now plus the longest chain of
    what is left, a finished task leaving nothing, a running one what its median leaves,
    one not started its median. None when a task left has no estimate."""
    state = {t.task_key: t for t in tasks if t.run_id == run.run_id}
    left: dict[str, float] = {}
    for key in deps:
        task = state.get(key)
        if task is not None and (task.ended_at is not None or task.result_state is not None):
            left[key] = 0.0
            continue
        median = expected[key].median_seconds if key in expected else None
        if median is None:
            return None
        started = task.started_at if task is not None else None
        left[key] = max(0.0, median - (now - started).total_seconds()) if started else median
    path = critical_path(deps, left)
    chain = " → ".join(s.task_key for s in path.steps if s.seconds > 0) or "nothing"
    return Eta(run.run_id, f"now + {seconds_text(path.path_seconds)}, the longest chain left "
               f"({chain}) at the tasks' median durations", run.started_at,
               now + timedelta(seconds=path.path_seconds))


def etas_of_queued(queued: Sequence[PastRun], running_ends: Sequence[datetime | None],
                   max_concurrent: int, expected: Estimate, now: datetime) -> list[Eta]:
    """Expected starts of ``queued`` runs (oldest first): each takes the place that
    frees first, the places held by running runs free at their expected ends, and each
    run holds its place for the median duration."""
    if not expected.enough or any(end is None for end in running_ends):
        why = expected.basis if not expected.enough else "a running run's end is unknown"
        return [Eta(r.run_id, why) for r in queued]
    assert expected.median_seconds is not None
    median = timedelta(seconds=expected.median_seconds)
    free = [max(end, now) for end in running_ends if end is not None]
    free += [now] * max(0, max_concurrent - len(free))
    heapq.heapify(free)
    etas = []
    for run in queued:
        start = heapq.heappop(free)
        heapq.heappush(free, start + median)
        etas.append(Eta(run.run_id, f"places free as running runs end; each run takes "
                        f"{seconds_text(expected.median_seconds)}, the {expected.basis}",
                        start, start + median))
    return etas


def typical_seconds(estimates: dict[str, Estimate]) -> float | None:
    """The median of the known task medians: a stand-in for a task with no history."""
    known = [e.median_seconds for e in estimates.values() if e.median_seconds is not None]
    return statistics.median(known) if known else None
