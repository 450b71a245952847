"""Tests for podium.core.plan: advance(), dependency_verdict(), run_result(), next_wakeup().

Table tests give the exact Decision (to, result, message) for every run_if against the
results of upstream tasks and the outcomes of condition tasks.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podium.core.dag import Graph
from podium.core.plan import (
    Decision,
    TaskRunState,
    advance,
    dependency_verdict,
    next_wakeup,
    run_result,
)
from podium.core.states import LifeCycleState, ResultState
from podium.spec import JobSpec, RunIf, parse_job

L = LifeCycleState
R = ResultState
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)

# --- factories -----------------------------------------------------------------------

Dep = str | tuple[str, str]  # "a", or ("c", "true") for a condition branch


def task(key: str, *deps: Dep, run_if: RunIf | None = None, condition: bool = False,
         **fields: Any) -> dict[str, Any]:
    """One task dict in the Jobs API 2.2 shape: a shell task, or a condition task."""
    data: dict[str, Any] = {"task_key": key, **fields}
    if condition:
        data["condition_task"] = {"op": "EQUAL_TO", "left": "1", "right": "1"}
    else:
        data["shell_task"] = {"command": ["true"]}
    if deps:
        data["depends_on"] = [
            {"task_key": d} if isinstance(d, str) else {"task_key": d[0], "outcome": d[1]}
            for d in deps
        ]
    if run_if is not None:
        data["run_if"] = run_if.value
    return data


def job(*tasks: dict[str, Any]) -> JobSpec:
    spec, warnings = parse_job({"name": "plan-test", "tasks": list(tasks)})
    assert warnings == []
    return spec


SKIPPED_RESULTS = {R.UPSTREAM_FAILED, R.UPSTREAM_CANCELED, R.EXCLUDED, R.DISABLED}


def done(key: str, result: ResultState, outcome: str | None = None) -> TaskRunState:
    """A finished task: SKIPPED for the results nothing ran for, else TERMINATED."""
    skipped = result in SKIPPED_RESULTS
    return TaskRunState(
        key,
        L.SKIPPED if skipped else L.TERMINATED,
        result,
        attempt_count=0 if skipped else 1,
        condition_outcome=outcome,
    )


def crashed(key: str) -> TaskRunState:
    return TaskRunState(key, L.INTERNAL_ERROR, None, attempt_count=1)


def blocked(key: str) -> TaskRunState:
    return TaskRunState(key)


def states(*items: TaskRunState) -> dict[str, TaskRunState]:
    return {s.task_key: s for s in items}


def by_key(decisions: list[Decision]) -> dict[str, Decision]:
    """Decisions keyed by task, for tests where independent tasks may come in any order."""
    keys = [d.task_key for d in decisions]
    assert len(keys) == len(set(keys)), f"a task was decided twice: {keys}"
    return {d.task_key: d for d in decisions}


# Expected decisions for the task under test, "t".
RUN = Decision("t", L.PENDING)
UF = Decision("t", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed")
UC = Decision("t", L.SKIPPED, R.UPSTREAM_CANCELED, "an upstream task was canceled")


def not_met(run_if: RunIf) -> Decision:
    return Decision("t", L.SKIPPED, R.EXCLUDED, f"run_if {run_if.value} was not met")


def branch(message: str) -> Decision:
    return Decision("t", L.SKIPPED, R.EXCLUDED, message)


NM = "not met"  # placeholder in tables, replaced by not_met(run_if)
RUN_IFS = list(RunIf)


def expect(cell: Decision | str, run_if: RunIf) -> Decision:
    return not_met(run_if) if cell == NM else cell  # type: ignore[return-value]


# --- one upstream task: every run_if x every upstream result ------------------------

# How dependency_verdict classifies each upstream result.
CATEGORY = {
    R.SUCCESS: "success",
    R.SUCCESS_WITH_FAILURES: "success",
    R.DISABLED: "success",
    R.FAILED: "failed",
    R.TIMEDOUT: "failed",
    R.UPSTREAM_FAILED: "failed",
    R.CANCELED: "canceled",
    R.UPSTREAM_CANCELED: "canceled",
    R.EXCLUDED: "excluded",
}

#              ALL_SUCCESS AT_LEAST_ONE_SUCCESS NONE_FAILED ALL_DONE AT_LEAST_ONE_FAILED ALL_FAILED
SINGLE: dict[str, tuple[Decision | str, ...]] = {
    "success":  (RUN, RUN, RUN, RUN, NM, NM),
    "failed":   (UF, UF, UF, RUN, RUN, RUN),
    "canceled": (UC, UC, UC, RUN, UC, UC),
    "excluded": (NM, NM, NM, RUN, NM, NM),
}
assert RUN_IFS == [
    RunIf.ALL_SUCCESS, RunIf.AT_LEAST_ONE_SUCCESS, RunIf.NONE_FAILED,
    RunIf.ALL_DONE, RunIf.AT_LEAST_ONE_FAILED, RunIf.ALL_FAILED,
]


def single_cases() -> list[Any]:
    cases = []
    for result, category in CATEGORY.items():
        for run_if, cell in zip(RUN_IFS, SINGLE[category], strict=True):
            cases.append(pytest.param(run_if, result, expect(cell, run_if),
                                      id=f"{run_if.value}-{result.value}"))
    return cases


@pytest.mark.parametrize(("run_if", "result", "expected"), single_cases())
def test_one_upstream(run_if: RunIf, result: ResultState, expected: Decision) -> None:
    spec = job(task("a"), task("t", "a", run_if=run_if))
    tasks = states(done("a", result), blocked("t"))
    assert advance(spec, tasks, NOW) == [expected]


@pytest.mark.parametrize("run_if", RUN_IFS)
def test_upstream_internal_error_counts_as_failed(run_if: RunIf) -> None:
    spec = job(task("a"), task("t", "a", run_if=run_if))
    tasks = states(crashed("a"), blocked("t"))
    cell = SINGLE["failed"][RUN_IFS.index(run_if)]
    assert advance(spec, tasks, NOW) == [expect(cell, run_if)]


def test_category_table_covers_every_result_a_task_can_end_with() -> None:
    assert set(CATEGORY) == set(ResultState) - {
        R.MAXIMUM_CONCURRENT_RUNS_REACHED  # a run-level result, never a task's
    }


# --- two upstream tasks: every run_if x every ordered pair of results -----------------

#          ALL_SUCCESS AT_LEAST_ONE_SUCCESS NONE_FAILED ALL_DONE AT_LEAST_ONE_FAILED ALL_FAILED
PAIR: dict[frozenset[str], tuple[Decision | str, ...]] = {
    frozenset({"success"}):             (RUN, RUN, RUN, RUN, NM, NM),
    frozenset({"success", "failed"}):   (UF, RUN, UF, RUN, RUN, NM),
    frozenset({"success", "canceled"}): (UC, RUN, UC, RUN, UC, UC),
    frozenset({"success", "excluded"}): (NM, RUN, RUN, RUN, NM, NM),
    frozenset({"failed"}):              (UF, UF, UF, RUN, RUN, RUN),
    frozenset({"failed", "canceled"}):  (UF, UF, UF, RUN, RUN, UC),
    frozenset({"failed", "excluded"}):  (UF, UF, UF, RUN, RUN, NM),
    frozenset({"canceled"}):            (UC, UC, UC, RUN, UC, UC),
    frozenset({"canceled", "excluded"}): (UC, UC, UC, RUN, UC, UC),
    frozenset({"excluded"}):            (NM, NM, NM, RUN, NM, NM),
}


def pair_cases() -> list[Any]:
    cases = []
    for first, second in itertools.product(CATEGORY, repeat=2):
        cells = PAIR[frozenset({CATEGORY[first], CATEGORY[second]})]
        for run_if, cell in zip(RUN_IFS, cells, strict=True):
            cases.append(pytest.param(run_if, first, second, expect(cell, run_if),
                                      id=f"{run_if.value}-{first.value}-{second.value}"))
    return cases


@pytest.mark.parametrize(("run_if", "first", "second", "expected"), pair_cases())
def test_two_upstreams(
    run_if: RunIf, first: ResultState, second: ResultState, expected: Decision
) -> None:
    spec = job(task("a"), task("b"), task("t", "a", "b", run_if=run_if))
    tasks = states(done("a", first), done("b", second), blocked("t"))
    assert advance(spec, tasks, NOW) == [expected]


def test_three_upstreams_all_failed_needs_every_one_failed() -> None:
    spec = job(task("a"), task("b"), task("c"), task("t", "a", "b", "c", run_if=RunIf.ALL_FAILED))
    mixed = states(done("a", R.FAILED), done("b", R.TIMEDOUT), done("c", R.SUCCESS), blocked("t"))
    assert advance(spec, mixed, NOW) == [not_met(RunIf.ALL_FAILED)]
    failed = {**mixed, "c": done("c", R.UPSTREAM_FAILED)}
    assert advance(spec, failed, NOW) == [RUN]


# --- condition tasks and outcome branches --------------------------------------------

#          ALL_SUCCESS AT_LEAST_ONE_SUCCESS NONE_FAILED ALL_DONE AT_LEAST_ONE_FAILED ALL_FAILED
BRANCH_TAKEN = (RUN, RUN, RUN, RUN, NM, NM)


def branch_cases() -> list[Any]:
    cases = []
    for run_if, taken in zip(RUN_IFS, BRANCH_TAKEN, strict=True):
        for wanted, actual in itertools.product(["true", "false"], repeat=2):
            if wanted == actual:
                expected = expect(taken, run_if)
            elif run_if is RunIf.ALL_DONE:
                expected = RUN
            else:
                expected = branch(f"condition 'c' is {actual}")
            cases.append(pytest.param(run_if, wanted, actual, expected,
                                      id=f"{run_if.value}-wants-{wanted}-is-{actual}"))
    return cases


@pytest.mark.parametrize(("run_if", "wanted", "actual", "expected"), branch_cases())
def test_condition_branch(run_if: RunIf, wanted: str, actual: str, expected: Decision) -> None:
    spec = job(task("c", condition=True), task("t", ("c", wanted), run_if=run_if))
    tasks = states(done("c", R.SUCCESS, outcome=actual), blocked("t"))
    assert advance(spec, tasks, NOW) == [expected]


@pytest.mark.parametrize("outcome", ["true", "false"])
def test_dependency_without_outcome_ignores_the_condition_outcome(outcome: str) -> None:
    spec = job(task("c", condition=True), task("t", "c"))
    tasks = states(done("c", R.SUCCESS, outcome=outcome), blocked("t"))
    assert advance(spec, tasks, NOW) == [RUN]


@pytest.mark.parametrize("run_if", RUN_IFS)
@pytest.mark.parametrize("result", [R.FAILED, R.TIMEDOUT, R.CANCELED])
def test_failed_or_canceled_condition_is_not_a_branch(run_if: RunIf, result: ResultState) -> None:
    spec = job(task("c", condition=True), task("t", ("c", "true"), run_if=run_if))
    tasks = states(done("c", result), blocked("t"))
    cell = SINGLE[CATEGORY[result]][RUN_IFS.index(run_if)]
    assert advance(spec, tasks, NOW) == [expect(cell, run_if)]


def test_both_branches_resolve_in_one_call() -> None:
    spec = job(
        task("c", condition=True),
        task("yes", ("c", "true")),
        task("no", ("c", "false")),
        task("after_no", "no"),
        task("join", "yes", "no", run_if=RunIf.NONE_FAILED),
    )
    tasks = states(
        done("c", R.SUCCESS, outcome="true"), *map(blocked, ["yes", "no", "after_no", "join"])
    )
    # join is not decided: it waits for "yes", which is only PENDING
    assert by_key(advance(spec, tasks, NOW)) == {
        "after_no": Decision("after_no", L.SKIPPED, R.EXCLUDED, "run_if ALL_SUCCESS was not met"),
        "no": Decision("no", L.SKIPPED, R.EXCLUDED, "condition 'c' is true"),
        "yes": Decision("yes", L.PENDING),
    }


def test_branch_messages_are_joined() -> None:
    spec = job(
        task("c1", condition=True),
        task("c2", condition=True),
        task("t", ("c1", "true"), ("c2", "false")),
    )
    tasks = states(
        done("c1", R.SUCCESS, outcome="false"),
        done("c2", R.SUCCESS, outcome="true"),
        blocked("t"),
    )
    assert advance(spec, tasks, NOW) == [
        branch("condition 'c1' is false; condition 'c2' is true")
    ]


def test_branch_not_taken_with_another_success() -> None:
    spec_for = {
        run_if: job(task("c", condition=True), task("a"),
                    task("t", ("c", "true"), "a", run_if=run_if))
        for run_if in RUN_IFS
    }
    tasks = states(done("c", R.SUCCESS, outcome="false"), done("a", R.SUCCESS), blocked("t"))
    got = {run_if: advance(spec, tasks, NOW) for run_if, spec in spec_for.items()}
    assert got == {
        RunIf.ALL_SUCCESS: [branch("condition 'c' is false")],
        RunIf.AT_LEAST_ONE_SUCCESS: [RUN],
        RunIf.NONE_FAILED: [RUN],
        RunIf.ALL_DONE: [RUN],
        RunIf.AT_LEAST_ONE_FAILED: [branch("condition 'c' is false")],
        RunIf.ALL_FAILED: [branch("condition 'c' is false")],
    }


def test_upstream_failure_wins_over_branch_not_taken() -> None:
    spec = job(task("c", condition=True), task("a"), task("t", ("c", "true"), "a"))
    tasks = states(done("c", R.SUCCESS, outcome="false"), done("a", R.FAILED), blocked("t"))
    assert advance(spec, tasks, NOW) == [UF]


def test_cancel_wins_over_branch_not_taken() -> None:
    spec = job(task("c", condition=True), task("a"), task("t", ("c", "true"), "a"))
    tasks = states(done("c", R.SUCCESS, outcome="false"), done("a", R.CANCELED), blocked("t"))
    assert advance(spec, tasks, NOW) == [UC]


# --- dependency_verdict directly -----------------------------------------------------


def test_dependency_verdict_root_task_may_always_run() -> None:
    spec = job(task("a", run_if=RunIf.ALL_FAILED))
    assert dependency_verdict(spec.task("a"), {}) is None


def test_dependency_verdict_returns_result_and_reason() -> None:
    spec = job(task("a"), task("b"), task("t", "a", "b"))
    work = states(done("a", R.SUCCESS), done("b", R.TIMEDOUT), blocked("t"))
    verdict = dependency_verdict(spec.task("t"), work)
    assert verdict == (R.UPSTREAM_FAILED, "an upstream task failed")
    work["b"] = done("b", R.SUCCESS)
    assert dependency_verdict(spec.task("t"), work) is None


# --- chains, disabled tasks, waiting ------------------------------------------------


def test_chain_of_skips_resolves_in_one_call() -> None:
    spec = job(task("a"), task("b", "a"), task("c", "b"), task("d", "c"),
               task("e", "d", run_if=RunIf.ALL_DONE), task("f", "e"))
    tasks = states(done("a", R.FAILED), *map(blocked, "bcdef"))
    assert advance(spec, tasks, NOW) == [
        Decision("b", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        Decision("c", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        Decision("d", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        Decision("e", L.PENDING),
    ]


def test_chain_of_exclusions_resolves_in_one_call() -> None:
    spec = job(task("a"), task("b", "a", run_if=RunIf.AT_LEAST_ONE_FAILED), task("c", "b"),
               task("d", "c", run_if=RunIf.NONE_FAILED), task("e", "d", run_if=RunIf.ALL_DONE))
    tasks = states(done("a", R.SUCCESS), *map(blocked, "bcde"))
    assert advance(spec, tasks, NOW) == [
        Decision("b", L.SKIPPED, R.EXCLUDED, "run_if AT_LEAST_ONE_FAILED was not met"),
        Decision("c", L.SKIPPED, R.EXCLUDED, "run_if ALL_SUCCESS was not met"),
        Decision("d", L.SKIPPED, R.EXCLUDED, "run_if NONE_FAILED was not met"),
        Decision("e", L.PENDING),
    ]


def test_decisions_come_in_topological_order() -> None:
    # keys are declared against the run order; decisions still follow the graph
    spec = job(task("z"), task("y", "z"), task("x", "y"), task("w", "z"))
    decisions = advance(spec, states(done("z", R.FAILED), *map(blocked, "yxw")), NOW)
    order = Graph({t.task_key: t.upstream_keys for t in spec.tasks}).order
    keys = [d.task_key for d in decisions]
    assert sorted(keys) == ["w", "x", "y"]
    assert keys == sorted(keys, key=order.index)


def test_roots_become_pending_and_the_rest_waits() -> None:
    spec = job(task("a"), task("b"), task("c", "a", "b"))
    assert by_key(advance(spec, states(*map(blocked, "abc")), NOW)) == {
        "a": Decision("a", L.PENDING),
        "b": Decision("b", L.PENDING),
    }


@pytest.mark.parametrize(
    "upstream",
    [
        TaskRunState("a", L.BLOCKED),
        TaskRunState("a", L.PENDING),
        TaskRunState("a", L.RUNNING, attempt_count=1),
        TaskRunState("a", L.WAITING_FOR_RETRY, attempt_count=1, retry_at=NOW + timedelta(hours=1)),
        TaskRunState("a", L.TERMINATING, attempt_count=1),
    ],
    ids=lambda s: s.life_cycle_state.value,
)
@pytest.mark.parametrize("run_if", RUN_IFS)
def test_task_waits_while_an_upstream_is_not_terminal(
    upstream: TaskRunState, run_if: RunIf
) -> None:
    spec = job(task("a"), task("b"), task("t", "a", "b", run_if=run_if))
    tasks = states(upstream, done("b", R.FAILED), blocked("t"))
    assert [d for d in advance(spec, tasks, NOW) if d.task_key == "t"] == []


@pytest.mark.parametrize(
    "state",
    [
        TaskRunState("a", L.PENDING),
        TaskRunState("a", L.RUNNING, attempt_count=1),
        TaskRunState("a", L.TERMINATING, attempt_count=1),
        done("a", R.SUCCESS),
        done("a", R.FAILED),
        done("a", R.EXCLUDED),
        crashed("a"),
    ],
    ids=lambda s: f"{s.life_cycle_state.value}-{s.result_state}",
)
def test_tasks_past_blocked_are_left_alone(state: TaskRunState) -> None:
    spec = job(task("a"))
    assert advance(spec, states(state), NOW) == []


def test_disabled_root_is_skipped_and_its_child_runs() -> None:
    spec = job(task("a", disabled=True), task("b", "a"))
    assert advance(spec, states(blocked("a"), blocked("b")), NOW) == [
        Decision("a", L.SKIPPED, R.DISABLED, "the task is disabled"),
        Decision("b", L.PENDING),
    ]


def test_chain_of_disabled_tasks_counts_as_success() -> None:
    spec = job(task("a", disabled=True), task("b", "a", disabled=True),
               task("c", "b", run_if=RunIf.NONE_FAILED))
    assert advance(spec, states(*map(blocked, "abc")), NOW) == [
        Decision("a", L.SKIPPED, R.DISABLED, "the task is disabled"),
        Decision("b", L.SKIPPED, R.DISABLED, "the task is disabled"),
        Decision("c", L.PENDING),
    ]


def test_disabled_task_waits_for_its_upstream() -> None:
    spec = job(task("a"), task("b", "a", disabled=True))
    assert advance(spec, states(TaskRunState("a", L.RUNNING), blocked("b")), NOW) == []
    assert advance(spec, states(done("a", R.SUCCESS), blocked("b")), NOW) == [
        Decision("b", L.SKIPPED, R.DISABLED, "the task is disabled")
    ]


def test_disabled_task_below_a_failure_is_upstream_failed() -> None:
    spec = job(task("a"), task("b", "a", disabled=True), task("c", "b"))
    assert advance(spec, states(done("a", R.FAILED), blocked("b"), blocked("c")), NOW) == [
        Decision("b", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        Decision("c", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
    ]


@pytest.mark.parametrize(
    ("retry_at", "expected"),
    [
        (NOW + timedelta(milliseconds=1), []),
        (NOW + timedelta(hours=1), []),
        (NOW, [Decision("a", L.PENDING)]),
        (NOW - timedelta(seconds=5), [Decision("a", L.PENDING)]),
        (None, [Decision("a", L.PENDING)]),
    ],
    ids=["just-before-due", "later", "due-now", "overdue", "no-time"],
)
def test_waiting_for_retry_becomes_pending_when_due(
    retry_at: datetime | None, expected: list[Decision]
) -> None:
    spec = job(task("a", max_retries=3), task("b", "a"))
    waiting = TaskRunState("a", L.WAITING_FOR_RETRY, attempt_count=1, retries_used=1,
                           retry_at=retry_at)
    # PENDING is not terminal, so the child stays blocked either way
    assert advance(spec, states(waiting, blocked("b")), NOW) == expected


# --- canceling -------------------------------------------------------------------------

CANCELED_MSG = "the run was canceled"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (TaskRunState("a", L.BLOCKED),
         Decision("a", L.SKIPPED, R.UPSTREAM_CANCELED, CANCELED_MSG)),
        (TaskRunState("a", L.PENDING),
         Decision("a", L.SKIPPED, R.CANCELED, CANCELED_MSG)),
        (TaskRunState("a", L.PENDING, attempt_count=2, retries_used=1),
         Decision("a", L.TERMINATED, R.CANCELED, CANCELED_MSG)),
        (TaskRunState("a", L.WAITING_FOR_RETRY, attempt_count=1, retries_used=1,
                      retry_at=NOW + timedelta(hours=1)),
         Decision("a", L.TERMINATED, R.CANCELED, CANCELED_MSG)),
        (TaskRunState("a", L.WAITING_FOR_RETRY, attempt_count=1, retries_used=1,
                      retry_at=NOW - timedelta(hours=1)),
         Decision("a", L.TERMINATED, R.CANCELED, CANCELED_MSG)),
        (TaskRunState("a", L.WAITING_FOR_RETRY, retry_at=NOW),
         Decision("a", L.SKIPPED, R.CANCELED, CANCELED_MSG)),
        (TaskRunState("a", L.RUNNING, attempt_count=1), None),
        (TaskRunState("a", L.TERMINATING, attempt_count=1), None),
        (done("a", R.SUCCESS), None),
        (done("a", R.FAILED), None),
        (done("a", R.EXCLUDED), None),
        (crashed("a"), None),
    ],
    ids=[
        "blocked", "pending-never-started", "pending-after-attempts", "waiting-later",
        "waiting-due", "waiting-no-attempts", "running", "terminating", "success", "failed",
        "excluded", "internal-error",
    ],
)
def test_canceling(state: TaskRunState, expected: Decision | None) -> None:
    spec = job(task("a", max_retries=3))
    assert advance(spec, states(state), NOW, canceling=True) == (
        [expected] if expected else []
    )


def test_canceling_skips_blocked_tasks_even_when_they_could_run() -> None:
    spec = job(task("a"), task("b", "a"), task("c", "b", run_if=RunIf.ALL_DONE))
    tasks = states(done("a", R.SUCCESS), blocked("b"), blocked("c"))
    assert advance(spec, tasks, NOW, canceling=True) == [
        Decision("b", L.SKIPPED, R.UPSTREAM_CANCELED, CANCELED_MSG),
        Decision("c", L.SKIPPED, R.UPSTREAM_CANCELED, CANCELED_MSG),
    ]


def test_canceling_leaves_running_tasks_and_skips_what_is_below_them() -> None:
    spec = job(task("a"), task("b", "a"), task("c"))
    tasks = states(TaskRunState("a", L.RUNNING, attempt_count=1), blocked("b"),
                   TaskRunState("c", L.PENDING))
    assert by_key(advance(spec, tasks, NOW, canceling=True)) == {
        "b": Decision("b", L.SKIPPED, R.UPSTREAM_CANCELED, CANCELED_MSG),
        "c": Decision("c", L.SKIPPED, R.CANCELED, CANCELED_MSG),
    }


# --- candidates and graph --------------------------------------------------------------


def test_candidates_limit_what_is_examined() -> None:
    spec = job(task("a"), task("b", "a"), task("root"))
    tasks = states(done("a", R.SUCCESS), blocked("b"), blocked("root"))
    assert advance(spec, tasks, NOW, candidates=["b"]) == [Decision("b", L.PENDING)]
    assert advance(spec, tasks, NOW, candidates=["root"]) == [Decision("root", L.PENDING)]
    assert advance(spec, tasks, NOW, candidates=[]) == []
    # a is already terminal: examining it does not re-examine its children
    assert advance(spec, tasks, NOW, candidates=["a"]) == []


def test_children_of_tasks_finished_within_the_call_are_resolved() -> None:
    spec = job(task("a"), task("b", "a"), task("c", "b"), task("d", "c"),
               task("e", "b", run_if=RunIf.ALL_FAILED), task("other"))
    tasks = states(done("a", R.FAILED), *map(blocked, ["b", "c", "d", "e", "other"]))
    decisions = advance(spec, tasks, NOW, candidates=["b"])
    assert by_key(decisions) == {
        "b": Decision("b", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        "c": Decision("c", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        "d": Decision("d", L.SKIPPED, R.UPSTREAM_FAILED, "an upstream task failed"),
        "e": Decision("e", L.PENDING),
    }
    keys = [d.task_key for d in decisions]
    assert keys.index("b") < keys.index("c") < keys.index("d")
    assert keys.index("b") < keys.index("e")


def test_candidates_in_any_order_and_repeated_give_topological_decisions() -> None:
    spec = job(task("a", disabled=True), task("b", "a", disabled=True), task("c", "b"))
    tasks = states(*map(blocked, "abc"))
    expected = advance(spec, tasks, NOW)
    assert advance(spec, tasks, NOW, candidates=["c", "b", "a", "a"]) == expected
    assert [d.task_key for d in expected] == ["a", "b", "c"]


def test_candidate_waiting_retry_and_disabled_child() -> None:
    spec = job(task("a", max_retries=1), task("x", disabled=True), task("y", "x"))
    tasks = states(
        TaskRunState("a", L.WAITING_FOR_RETRY, attempt_count=1, retries_used=1, retry_at=NOW),
        blocked("x"),
        blocked("y"),
    )
    assert advance(spec, tasks, NOW, candidates=["a"]) == [Decision("a", L.PENDING)]
    assert advance(spec, tasks, NOW, candidates=["x"]) == [
        Decision("x", L.SKIPPED, R.DISABLED, "the task is disabled"),
        Decision("y", L.PENDING),
    ]


def test_precomputed_graph_gives_the_same_decisions() -> None:
    spec = job(task("a"), task("b", "a"), task("c", "b", run_if=RunIf.ALL_DONE))
    graph = Graph({t.task_key: t.upstream_keys for t in spec.tasks})
    tasks = states(done("a", R.TIMEDOUT), blocked("b"), blocked("c"))
    assert advance(spec, tasks, NOW, graph=graph) == advance(spec, tasks, NOW)


def test_advance_does_not_modify_its_input() -> None:
    spec = job(task("a"), task("b", "a"))
    tasks = states(done("a", R.FAILED), blocked("b"))
    before = dict(tasks)
    advance(spec, tasks, NOW)
    assert tasks == before


# --- run_result --------------------------------------------------------------------------

# a -> b, a -> h (run_if ALL_DONE, handles a failure of a)
HANDLED = job(task("a"), task("b", "a"), task("h", "a", run_if=RunIf.ALL_DONE))


@pytest.mark.parametrize(
    ("a", "b", "h", "expected"),
    [
        (done("a", R.SUCCESS), done("b", R.SUCCESS), done("h", R.SUCCESS), R.SUCCESS),
        (done("a", R.SUCCESS), done("b", R.SUCCESS_WITH_FAILURES), done("h", R.SUCCESS),
         R.SUCCESS),
        (done("a", R.SUCCESS), done("b", R.DISABLED), done("h", R.EXCLUDED), R.SUCCESS),
        (done("a", R.DISABLED), done("b", R.SUCCESS), done("h", R.SUCCESS), R.SUCCESS),
        # a failure upstream with every leaf fine is handled
        (done("a", R.FAILED), done("b", R.EXCLUDED), done("h", R.SUCCESS),
         R.SUCCESS_WITH_FAILURES),
        (done("a", R.TIMEDOUT), done("b", R.DISABLED), done("h", R.SUCCESS),
         R.SUCCESS_WITH_FAILURES),
        (crashed("a"), done("b", R.EXCLUDED), done("h", R.SUCCESS), R.SUCCESS_WITH_FAILURES),
        # a failed leaf fails the run
        (done("a", R.FAILED), done("b", R.UPSTREAM_FAILED), done("h", R.SUCCESS), R.FAILED),
        (done("a", R.SUCCESS), done("b", R.FAILED), done("h", R.SUCCESS), R.FAILED),
        (done("a", R.SUCCESS), done("b", R.TIMEDOUT), done("h", R.SUCCESS), R.FAILED),
        (done("a", R.SUCCESS), crashed("b"), done("h", R.SUCCESS), R.FAILED),
        (done("a", R.FAILED), done("b", R.UPSTREAM_FAILED), done("h", R.FAILED), R.FAILED),
        # failure beats cancel
        (done("a", R.SUCCESS), done("b", R.FAILED), done("h", R.CANCELED), R.FAILED),
        (done("a", R.FAILED), done("b", R.EXCLUDED), done("h", R.CANCELED), R.FAILED),
        # a cancel without a failure
        (done("a", R.CANCELED), done("b", R.UPSTREAM_CANCELED), done("h", R.SUCCESS),
         R.CANCELED),
        (done("a", R.SUCCESS), done("b", R.CANCELED), done("h", R.SUCCESS), R.CANCELED),
    ],
)
def test_run_result(
    a: TaskRunState, b: TaskRunState, h: TaskRunState, expected: ResultState
) -> None:
    assert run_result(HANDLED, states(a, b, h)) is expected


@pytest.mark.parametrize(
    "unfinished",
    [
        TaskRunState("h", L.BLOCKED),
        TaskRunState("h", L.PENDING),
        TaskRunState("h", L.RUNNING, attempt_count=1),
        TaskRunState("h", L.WAITING_FOR_RETRY, attempt_count=1, retry_at=NOW),
        TaskRunState("h", L.TERMINATING, attempt_count=1),
    ],
    ids=lambda s: s.life_cycle_state.value,
)
@pytest.mark.parametrize(("canceled", "timed_out"), [(False, False), (True, False), (False, True)])
def test_run_result_is_none_until_every_task_is_terminal(
    unfinished: TaskRunState, canceled: bool, timed_out: bool
) -> None:
    tasks = states(done("a", R.FAILED), done("b", R.UPSTREAM_FAILED), unfinished)
    assert run_result(HANDLED, tasks, canceled=canceled, timed_out=timed_out) is None


def test_run_result_flags() -> None:
    ok = states(done("a", R.SUCCESS), done("b", R.SUCCESS), done("h", R.SUCCESS))
    failed = states(done("a", R.FAILED), done("b", R.UPSTREAM_FAILED), done("h", R.SUCCESS))
    for tasks in (ok, failed):
        assert run_result(HANDLED, tasks, canceled=True) is R.CANCELED
        assert run_result(HANDLED, tasks, timed_out=True) is R.TIMEDOUT
        assert run_result(HANDLED, tasks, canceled=True, timed_out=True) is R.TIMEDOUT


def test_run_result_single_task() -> None:
    spec = job(task("a"))
    assert run_result(spec, states(done("a", R.SUCCESS))) is R.SUCCESS
    assert run_result(spec, states(done("a", R.FAILED))) is R.FAILED
    assert run_result(spec, states(done("a", R.DISABLED))) is R.SUCCESS
    assert run_result(spec, states(done("a", R.CANCELED))) is R.CANCELED
    assert run_result(spec, states(blocked("a"))) is None


def test_run_result_leaves_decide_not_the_last_task() -> None:
    # two leaves: one handled the failure, the other was skipped because of it
    spec = job(task("a"), task("fix", "a", run_if=RunIf.AT_LEAST_ONE_FAILED), task("use", "a"))
    tasks = states(done("a", R.FAILED), done("fix", R.SUCCESS), done("use", R.UPSTREAM_FAILED))
    assert run_result(spec, tasks) is R.FAILED
    tasks["use"] = done("use", R.EXCLUDED)
    assert run_result(spec, tasks) is R.SUCCESS_WITH_FAILURES


# --- next_wakeup --------------------------------------------------------------------------


def test_next_wakeup() -> None:
    soon, later = NOW + timedelta(seconds=5), NOW + timedelta(minutes=5)
    assert next_wakeup({}) is None
    assert next_wakeup(states(blocked("a"), done("b", R.SUCCESS))) is None
    assert next_wakeup(states(
        TaskRunState("a", L.WAITING_FOR_RETRY, retry_at=later),
        TaskRunState("b", L.WAITING_FOR_RETRY, retry_at=soon),
        TaskRunState("c", L.WAITING_FOR_RETRY, retry_at=None),
    )) == soon
    # retry_at on a task that is no longer waiting is ignored
    assert next_wakeup(states(
        TaskRunState("a", L.PENDING, retry_at=NOW - timedelta(hours=1)),
        TaskRunState("b", L.WAITING_FOR_RETRY, retry_at=later),
    )) == later
    assert next_wakeup(states(TaskRunState("a", L.WAITING_FOR_RETRY))) is None


# --- TaskRunState --------------------------------------------------------------------------


@pytest.mark.parametrize("life_cycle_state", list(LifeCycleState))
def test_task_run_state_is_terminal(life_cycle_state: LifeCycleState) -> None:
    expected = life_cycle_state in {L.TERMINATED, L.SKIPPED, L.INTERNAL_ERROR}
    assert TaskRunState("a", life_cycle_state).is_terminal is expected


def test_task_run_state_defaults() -> None:
    s = TaskRunState("a")
    assert (s.life_cycle_state, s.result_state, s.attempt_count, s.retries_used) == (
        L.BLOCKED, None, 0, 0
    )
    assert (s.retry_at, s.condition_outcome, s.message) == (None, None, "")
