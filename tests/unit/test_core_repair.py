"""Tests for podium.core.repair: which tasks a repair re-runs."""

from __future__ import annotations

from typing import Any

import pytest

from podium.core.plan import TaskRunState
from podium.core.repair import plan_repair
from podium.core.states import LifeCycleState, ResultState
from podium.spec import JobSpec, parse_job

L = LifeCycleState
R = ResultState


def job(deps: dict[str, list[str]]) -> JobSpec:
    """A job of shell tasks from ``key -> upstream keys``."""
    tasks: list[dict[str, Any]] = [
        {"task_key": key, "shell_task": {"command": ["true"]},
         "depends_on": [{"task_key": up} for up in ups]}
        for key, ups in deps.items()
    ]
    return parse_job({"name": "repair-test", "tasks": tasks})[0]


# The seed pipeline, plus a report off match and an independent audit task.
SEED = job({
    "clicks_ingest": [],
    "orders_ingest": [],
    "match": ["clicks_ingest", "orders_ingest"],
    "build_features": ["match"],
    "persist_features": ["build_features"],
    "train": ["persist_features"],
    "report": ["match"],
    "audit": [],
})
BELOW_MATCH = {"build_features", "persist_features", "train", "report"}


def ended(key: str, result: ResultState | None) -> TaskRunState:
    if result is None:
        return TaskRunState(key, L.INTERNAL_ERROR, None, attempt_count=1)
    skipped = result in {R.UPSTREAM_FAILED, R.UPSTREAM_CANCELED, R.EXCLUDED, R.DISABLED}
    return TaskRunState(key, L.SKIPPED if skipped else L.TERMINATED, result)


def finished_run(**results: ResultState | None) -> dict[str, TaskRunState]:
    """Every task SUCCESS except the ones named."""
    return {
        t.task_key: ended(t.task_key, results.get(t.task_key, R.SUCCESS)) for t in SEED.tasks
    }


def test_nothing_to_repair_after_success() -> None:
    assert plan_repair(SEED, finished_run()) == set()


def test_default_is_failed_tasks_and_everything_downstream() -> None:
    tasks = finished_run(
        match=R.FAILED, build_features=R.UPSTREAM_FAILED, persist_features=R.UPSTREAM_FAILED,
        train=R.UPSTREAM_FAILED, report=R.UPSTREAM_FAILED,
    )
    assert plan_repair(SEED, tasks) == {"match"} | BELOW_MATCH


@pytest.mark.parametrize(
    "result",
    [R.FAILED, R.TIMEDOUT, R.CANCELED, R.UPSTREAM_FAILED, R.UPSTREAM_CANCELED, None],
    ids=lambda r: r.value if r else "INTERNAL_ERROR",
)
def test_default_roots(result: ResultState | None) -> None:
    assert plan_repair(SEED, finished_run(match=result)) == {"match"} | BELOW_MATCH
    assert plan_repair(SEED, finished_run(train=result)) == {"train"}
    assert plan_repair(SEED, finished_run(audit=result)) == {"audit"}


@pytest.mark.parametrize(
    "result", [R.SUCCESS, R.SUCCESS_WITH_FAILURES, R.EXCLUDED, R.DISABLED],
)
def test_default_leaves_finished_tasks_alone(result: ResultState) -> None:
    assert plan_repair(SEED, finished_run(match=result, report=result)) == set()


def test_default_includes_success_downstream_of_a_failure() -> None:
    # report ran (run_if ALL_DONE, say) and succeeded, but it is below a failed task
    tasks = finished_run(match=R.FAILED, build_features=R.UPSTREAM_FAILED,
                         persist_features=R.UPSTREAM_FAILED, train=R.UPSTREAM_FAILED)
    assert "report" in plan_repair(SEED, tasks)


def test_default_with_several_failures() -> None:
    tasks = finished_run(orders_ingest=R.TIMEDOUT, match=R.UPSTREAM_FAILED,
                         build_features=R.UPSTREAM_FAILED, persist_features=R.UPSTREAM_FAILED,
                         train=R.UPSTREAM_FAILED, report=R.UPSTREAM_FAILED, audit=R.CANCELED)
    assert plan_repair(SEED, tasks) == {"orders_ingest", "match", "audit"} | BELOW_MATCH


def test_named_tasks_and_their_downstream() -> None:
    tasks = finished_run(match=R.FAILED)
    assert plan_repair(SEED, tasks, ["persist_features"]) == {"persist_features", "train"}
    assert plan_repair(SEED, tasks, ["orders_ingest"]) == {"orders_ingest", "match"} | BELOW_MATCH
    assert plan_repair(SEED, tasks, ["train", "audit"]) == {"train", "audit"}
    # a named task is re-run even though it succeeded; failed ones not named are not
    assert plan_repair(SEED, finished_run(audit=R.FAILED), ["report"]) == {"report"}


def test_named_list_may_be_any_iterable_and_empty() -> None:
    tasks = finished_run(match=R.FAILED)
    assert plan_repair(SEED, tasks, iter(["train"])) == {"train"}
    assert plan_repair(SEED, tasks, ("train", "train")) == {"train"}
    assert plan_repair(SEED, tasks, []) == set()


def test_unknown_task_suggests_the_nearest() -> None:
    with pytest.raises(ValueError, match=r"^no task 'mtch' in this run; did you mean 'match'\?$"):
        plan_repair(SEED, finished_run(), ["mtch", "train"])


def test_unknown_task_without_a_near_name_lists_the_tasks() -> None:
    with pytest.raises(ValueError) as info:
        plan_repair(SEED, finished_run(), ["zzzz"])
    assert str(info.value) == (
        "no task 'zzzz' in this run; tasks: clicks_ingest, orders_ingest, match, "
        "build_features, persist_features, train, report, audit"
    )


def test_first_unknown_name_in_sorted_order_is_reported() -> None:
    with pytest.raises(ValueError, match=r"^no task 'aaa_trian' in this run"):
        plan_repair(SEED, finished_run(), ["zzz_match", "aaa_trian"])
