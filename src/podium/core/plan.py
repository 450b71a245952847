"""What happens next in a run: which tasks become ready, which are skipped and why,
and how the run ends. Pure: the caller passes the current states and ``now``."""

from __future__ import annotations

import heapq
from collections import ChainMap
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import cast

from podium.core.dag import Graph, leaves
from podium.core.states import (
    CANCELED,
    FAILED,
    IDLE,
    SUCCEEDED,
    TERMINAL,
    LifeCycleState,
    ResultState,
)
from podium.spec.base import RunIf
from podium.spec.models import JobSpec, Task

L = LifeCycleState
R = ResultState


@dataclass(frozen=True, slots=True)
class TaskRunState:
    """The engine's view of one task in one run.

    Attributes:
        attempt_count: attempts started in this run, lost ones included.
        retries_used: attempts that consumed the task's ``max_retries`` budget.
        condition_outcome: a finished condition task's result, "true" or "false".
    """

    task_key: str
    life_cycle_state: LifeCycleState = L.BLOCKED
    result_state: ResultState | None = None
    attempt_count: int = 0
    retries_used: int = 0
    retry_at: datetime | None = None
    condition_outcome: str | None = None
    message: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.life_cycle_state in TERMINAL


@dataclass(frozen=True, slots=True)
class Decision:
    """Move ``task_key`` to ``to`` (with ``result`` when terminal)."""

    task_key: str
    to: LifeCycleState
    result: ResultState | None = None
    message: str = ""


def advance(
    spec: JobSpec,
    tasks: Mapping[str, TaskRunState],
    now: datetime,
    canceling: bool = False,
    candidates: Iterable[str] | None = None,
    graph: Graph | None = None,
) -> list[Decision]:
    """The state changes that follow from ``tasks`` at ``now``, in topological order.

    A chain of skips (a fails, so b and then c are UPSTREAM_FAILED) resolves in one call.

    Args:
        candidates: the only tasks that may have changed their mind (children of tasks
            that just finished, waiting retries); None looks at every task. Large runs
            pass it so a step costs what changed, not the size of the job.
        graph: the precomputed graph of ``spec``.
    """
    graph = graph or Graph({t.task_key: t.upstream_keys for t in spec.tasks})
    # This call's changes over ``tasks``; a ChainMap writes only to its first map.
    work = ChainMap({}, cast("MutableMapping[str, TaskRunState]", tasks))
    todo = [(graph.position[k], k) for k in (graph.order if candidates is None else candidates)]
    heapq.heapify(todo)
    seen: set[str] = set()
    decisions: list[Decision] = []
    while todo:
        _, key = heapq.heappop(todo)
        if key in seen:
            continue
        seen.add(key)
        decision = _decide(spec.task(key), work[key], work, now, canceling)
        if decision is None:
            continue
        decisions.append(decision)
        work[key] = replace(work[key], life_cycle_state=decision.to, result_state=decision.result)
        if decision.to in TERMINAL:
            for child in graph.children[key]:
                heapq.heappush(todo, (graph.position[child], child))
                seen.discard(child)
    return decisions


def _decide(
    task: Task,
    state: TaskRunState,
    work: Mapping[str, TaskRunState],
    now: datetime,
    canceling: bool,
) -> Decision | None:
    key = task.task_key
    if canceling and state.life_cycle_state in IDLE:
        if state.life_cycle_state is L.BLOCKED:
            return Decision(key, L.SKIPPED, R.UPSTREAM_CANCELED, "the run was canceled")
        to = L.TERMINATED if state.attempt_count else L.SKIPPED
        return Decision(key, to, R.CANCELED, "the run was canceled")
    if state.life_cycle_state is L.WAITING_FOR_RETRY:
        if state.retry_at is None or state.retry_at <= now:
            return Decision(key, L.PENDING)
        return None
    if state.life_cycle_state is not L.BLOCKED:
        return None
    upstream = [work[d.task_key] for d in task.depends_on]
    if not all(u.is_terminal for u in upstream):
        return None
    verdict = dependency_verdict(task, work)
    if verdict is not None:
        return Decision(key, L.SKIPPED, verdict[0], verdict[1])
    if task.disabled:
        return Decision(key, L.SKIPPED, R.DISABLED, "the task is disabled")
    return Decision(key, L.PENDING)


def dependency_verdict(
    task: Task, work: Mapping[str, TaskRunState]
) -> tuple[ResultState, str] | None:
    """None when ``task`` may run given its finished upstream tasks and ``run_if``;
    else the result it is skipped with and why."""
    if not task.depends_on:
        return None
    outcomes: list[str] = []  # one of success / failed / canceled / excluded per dependency
    branch_not_taken: list[str] = []
    for dep in task.depends_on:
        up = work[dep.task_key]
        result = up.result_state
        if result in FAILED or up.life_cycle_state is L.INTERNAL_ERROR:
            outcomes.append("failed")
        elif result in CANCELED:
            outcomes.append("canceled")
        elif result is R.DISABLED or (
            result in SUCCEEDED and (dep.outcome is None or dep.outcome == up.condition_outcome)
        ):
            outcomes.append("success")
        else:
            outcomes.append("excluded")
            if result in SUCCEEDED:
                branch_not_taken.append(f"condition {dep.task_key!r} is {up.condition_outcome}")
    n = len(outcomes)
    count = outcomes.count
    runs = {
        RunIf.ALL_SUCCESS: count("success") == n,
        RunIf.AT_LEAST_ONE_SUCCESS: count("success") > 0,
        RunIf.NONE_FAILED: count("failed") == 0 and count("canceled") == 0 and count("success") > 0,
        RunIf.ALL_DONE: True,
        RunIf.AT_LEAST_ONE_FAILED: count("failed") > 0,
        RunIf.ALL_FAILED: count("failed") == n,
    }[task.run_if]
    if runs:
        return None
    if count("failed") and task.run_if not in (RunIf.AT_LEAST_ONE_FAILED, RunIf.ALL_FAILED):
        return R.UPSTREAM_FAILED, "an upstream task failed"
    if count("canceled"):
        return R.UPSTREAM_CANCELED, "an upstream task was canceled"
    if branch_not_taken:
        return R.EXCLUDED, "; ".join(branch_not_taken)
    return R.EXCLUDED, f"run_if {task.run_if.value} was not met"


def run_result(
    spec: JobSpec,
    tasks: Mapping[str, TaskRunState],
    canceled: bool = False,
    timed_out: bool = False,
) -> ResultState | None:
    """The run's result once every task is terminal, else None.

    Like Databricks, the leaves decide: a failure handled downstream (the leaves still
    succeeded) gives SUCCESS_WITH_FAILURES.
    """
    if not all(t.is_terminal for t in tasks.values()):
        return None
    if timed_out:
        return R.TIMEDOUT
    if canceled:
        return R.CANCELED
    results = [t.result_state for t in tasks.values()]
    failed = any(r in FAILED for r in results) or any(
        t.life_cycle_state is L.INTERNAL_ERROR for t in tasks.values()
    )
    deps = {t.task_key: t.upstream_keys for t in spec.tasks}
    leaf_ok = all(
        tasks[k].result_state in SUCCEEDED | {R.EXCLUDED} for k in leaves(deps)
    )
    if failed:
        return R.SUCCESS_WITH_FAILURES if leaf_ok else R.FAILED
    if any(r in CANCELED for r in results):
        return R.CANCELED
    return R.SUCCESS


def next_wakeup(tasks: Mapping[str, TaskRunState]) -> datetime | None:
    """The earliest time a waiting retry becomes due, if any."""
    times = [
        t.retry_at
        for t in tasks.values()
        if t.life_cycle_state is L.WAITING_FOR_RETRY and t.retry_at is not None
    ]
    return min(times, default=None)
