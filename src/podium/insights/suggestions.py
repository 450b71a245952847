"""Changes a person can apply in one step, each with its reason: a task's
``timeout_seconds`` and ``max_retries``, a job ``health`` duration rule, and the
engine's ``max_parallel_tasks``. Each rule is written out in its function's docstring."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podium.insights.dispatch import critical_path_rank, dispatch_priorities, simulate
from podium.insights.durations import Estimate
from podium.insights.flaky import FlakyTask
from podium.insights.records import JobShape
from podium.insights.stats import seconds_text

TIMEOUT_SLACK = 10  # a timeout more than 10x the suggested one would not catch a hang
MIN_FLAKY_RUNS = 2
MIN_LIMIT_SECONDS = 60  # below a minute, start-up jitter of a short task is not a hang
PARALLEL_GAIN = 0.9  # suggest more slots when they would cut the run by 10% or more


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A change of one setting. ``change`` is the part of the job's settings to change
    (a task entry holds only ``task_key`` and the field), or for the engine setting, the
    setting's name and value."""

    id: str  # stable: "timeout_seconds:match", what `podium insights apply` takes
    kind: str
    target: str  # a task key, "job" or "engine"
    current: int | None
    suggested: int
    reason: str
    change: Mapping[str, Any] = field(default_factory=dict)


def suggest_timeout(task_key: str, current: int, expected: Estimate) -> Suggestion | None:
    """``timeout_seconds`` = ceil(max(2 x p95, 1.25 x the longest, 60 s)) of the task's
    successful attempts: room for a slow day, yet a hang ends. Suggested when the task
    has none, when its timeout is below the longest success, or over 10x the
    suggestion."""
    if not expected.enough:
        return None
    assert expected.p95_seconds is not None and expected.max_seconds is not None
    value = math.ceil(max(2 * expected.p95_seconds, 1.25 * expected.max_seconds,
                          MIN_LIMIT_SECONDS))
    if current and expected.max_seconds <= current <= TIMEOUT_SLACK * value:
        return None
    if not current:
        now = "it has no timeout, so a hung attempt would hold its slot forever"
    elif current < expected.max_seconds:
        now = f"its timeout of {current} s is below its longest success"
    else:
        now = f"its timeout of {current} s is over {TIMEOUT_SLACK}x that and would not catch a hang"
    return Suggestion(
        f"timeout_seconds:{task_key}", "timeout_seconds", task_key, current or None, value,
        f"2 x the 95th percentile ({seconds_text(expected.p95_seconds)}) or 1.25 x the "
        f"longest ({seconds_text(expected.max_seconds)}) of its last {expected.n} successful "
        f"attempts, at least {MIN_LIMIT_SECONDS} s; {now}",
        {"tasks": [{"task_key": task_key, "timeout_seconds": value}]},
    )


def suggest_retries(flaky: FlakyTask, current: int) -> Suggestion | None:
    """``max_retries`` = one more than the most retries a success ever needed, for a task
    flaky in at least 2 runs, when it allows fewer."""
    value = flaky.most_retries_needed + 1
    if flaky.flaky_runs < MIN_FLAKY_RUNS or current >= value:
        return None
    return Suggestion(
        f"max_retries:{flaky.task_key}", "max_retries", flaky.task_key, current, value,
        f"it {flaky.basis}, needing up to {flaky.most_retries_needed} retries; "
        f"max_retries is {current}",
        {"tasks": [{"task_key": flaky.task_key, "max_retries": value}]},
    )


def suggest_health(job: Estimate, current: int | None) -> Suggestion | None:
    """A RUN_DURATION_SECONDS health rule at ceil(max(1.5 x p95, 60 s)) of the job's
    successful runs, when the job has none: a warning when a run is slower than almost
    ever before."""
    if current is not None or not job.enough:
        return None
    assert job.p95_seconds is not None
    value = math.ceil(max(1.5 * job.p95_seconds, MIN_LIMIT_SECONDS))
    return Suggestion(
        "health:job", "health", "job", None, value,
        f"1.5 x the 95th percentile ({seconds_text(job.p95_seconds)}) of the last {job.n} "
        f"successful runs, at least {MIN_LIMIT_SECONDS} s; the job has no duration rule, so "
        "a slow run goes unnoticed",
        {"health": {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN",
                               "value": value}]}},
    )


def suggest_parallelism(shape: JobShape, expected: Mapping[str, float], slots: int
                        ) -> Suggestion | None:
    """``max_parallel_tasks`` = the fewest slots that run the graph as fast as unlimited
    slots would (simulated with the expected durations, critical path first), when that
    is at least 10% faster than with today's ``slots``.

    The fewest is found by bisection between today's slots and the most tasks the
    unlimited run has going at once, which is always enough.
    """
    deps = shape.deps
    if not deps or any(k not in expected for k in deps):
        return None
    rank = critical_path_rank(dispatch_priorities(deps, dict(expected)))
    today = simulate(deps, expected, slots, rank).makespan
    unlimited = simulate(deps, expected, len(deps), rank)
    best = unlimited.makespan
    if today == 0 or best > PARALLEL_GAIN * today:
        return None
    low, high = slots + 1, max(slots + 1, unlimited.peak)
    while low < high:
        middle = (low + high) // 2
        if simulate(deps, expected, middle, rank).makespan <= best:
            high = middle
        else:
            low = middle + 1
    return Suggestion(
        "max_parallel_tasks:engine", "max_parallel_tasks", "engine", slots, low,
        f"with the tasks' expected durations the graph takes {seconds_text(today)} on "
        f"{slots} task slots and {seconds_text(best)} on {low} (simulated, critical "
        "path first)",
        {"max_parallel_tasks": low},
    )


def suggestions(shape: JobShape, job: Estimate, tasks: Mapping[str, Estimate],
                flaky: Sequence[FlakyTask], slots: int) -> list[Suggestion]:
    """Every suggestion for the job, tasks in the job's order."""
    out: list[Suggestion] = []
    for task in shape.tasks:
        if task.task_key in tasks:
            found = suggest_timeout(task.task_key, task.timeout_seconds, tasks[task.task_key])
            if found is not None:
                out.append(found)
    current = {t.task_key: t.max_retries for t in shape.tasks}
    for f in flaky:
        if f.task_key in current and (found := suggest_retries(f, current[f.task_key])):
            out.append(found)
    if (found := suggest_health(job, shape.duration_rule_seconds)) is not None:
        out.append(found)
    medians = {k: e.median_seconds for k, e in tasks.items() if e.median_seconds is not None}
    if (found := suggest_parallelism(shape, medians, slots)) is not None:
        out.append(found)
    return out
