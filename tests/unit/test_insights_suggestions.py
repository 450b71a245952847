"""Tests for podium.insights.suggestions: each rule against values worked out by hand."""

from __future__ import annotations

from podium.insights import JobShape, TaskShape
from podium.insights.durations import estimate
from podium.insights.flaky import FlakyTask
from podium.insights.suggestions import (
    suggest_health,
    suggest_parallelism,
    suggest_retries,
    suggest_timeout,
    suggestions,
)

# p95 = max = 120 (past the last position, .875): timeout max(2 x 120, 1.25 x 120) = 240.
TASK = estimate([100, 100, 100, 120], "load", "successful attempts", half_life=None)
NONE = estimate([], "load", "successful attempts")


def test_timeout_for_a_task_without_one() -> None:
    found = suggest_timeout("load", 0, TASK)
    assert found is not None
    assert (found.id, found.current, found.suggested) == ("timeout_seconds:load", None, 240)
    assert found.change == {"tasks": [{"task_key": "load", "timeout_seconds": 240}]}
    assert found.reason.startswith("2 x the 95th percentile (2 min 0 s) or 1.25 x the longest "
                                   "(2 min 0 s) of its last 4 successful attempts, at least 60 s")
    assert "it has no timeout" in found.reason


def test_a_short_task_gets_at_least_a_minute() -> None:
    short = estimate([1, 1, 2], "t", "successful attempts", half_life=None)
    found = suggest_timeout("t", 0, short)
    assert found is not None and found.suggested == 60


def test_timeout_kept_when_reasonable_and_changed_when_too_tight_or_loose() -> None:
    assert suggest_timeout("load", 200, TASK) is None
    tight = suggest_timeout("load", 110, TASK)
    assert tight is not None and "below its longest success" in tight.reason
    loose = suggest_timeout("load", 3000, TASK)  # over 10 x 240
    assert loose is not None and loose.current == 3000
    assert suggest_timeout("load", 0, NONE) is None  # no history, no suggestion


def flaky(runs: int, flaky_runs: int, most: int) -> FlakyTask:
    return FlakyTask("load", runs, flaky_runs, 0, most, (), f"{flaky_runs} of {runs}")


def test_retries_for_a_flaky_task() -> None:
    found = suggest_retries(flaky(10, 3, 2), 0)
    assert found is not None and (found.current, found.suggested) == (0, 3)
    assert found.change == {"tasks": [{"task_key": "load", "max_retries": 3}]}
    assert suggest_retries(flaky(10, 3, 2), 3) is None  # enough already
    assert suggest_retries(flaky(10, 1, 1), 0) is None  # once is not often


def test_health_rule() -> None:
    job = estimate([100, 100, 100], "job", "successful runs", half_life=None)
    found = suggest_health(job, None)
    assert found is not None and found.suggested == 150
    assert found.change == {"health": {"rules": [
        {"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 150}]}}
    assert suggest_health(job, 300) is None
    short = suggest_health(estimate([1, 1, 1], "job", "successful runs"), None)
    assert short is not None and short.suggested == 60
    assert suggest_health(estimate([], "job", "successful runs"), None) is None


FOUR = JobShape(tuple(TaskShape(k) for k in "abcd"))


def test_parallelism_when_more_slots_would_help() -> None:
    found = suggest_parallelism(FOUR, dict.fromkeys("abcd", 10.0), 1)
    assert found is not None and (found.current, found.suggested) == (1, 4)
    assert found.reason.startswith("with the tasks' expected durations the graph takes "
                                   "40.0 s on 1 task slots and 10.0 s on 4")
    assert suggest_parallelism(FOUR, dict.fromkeys("abcd", 10.0), 4) is None
    assert suggest_parallelism(FOUR, {"a": 10.0}, 1) is None  # not every task known


def test_all_suggestions_together() -> None:
    shape = JobShape((TaskShape("load", max_retries=0), TaskShape("other", timeout_seconds=200)))
    found = suggestions(shape, estimate([], "job", "successful runs"),
                        {"load": TASK, "other": TASK}, [flaky(10, 3, 1)], slots=8)
    assert [s.id for s in found] == ["timeout_seconds:load", "max_retries:load"]
    assert suggestions(shape, NONE, {}, [], slots=8) == []


def test_parallelism_suggests_the_fewest_slots_that_suffice() -> None:
    # a -> b and c -> d (10 s each) beside e and f (1 s): unlimited takes 20 s with 4
    # tasks at once; 3 slots also take 20 s (e then f share one); 2 take 21 s.
    shape = JobShape((TaskShape("a"), TaskShape("b", ("a",)), TaskShape("c"),
                      TaskShape("d", ("c",)), TaskShape("e"), TaskShape("f")))
    expected = {"a": 10.0, "b": 10.0, "c": 10.0, "d": 10.0, "e": 1.0, "f": 1.0}
    found = suggest_parallelism(shape, expected, 1)
    assert found is not None and (found.current, found.suggested) == (1, 3)
    assert "42.0 s on 1 task slots and 20.0 s on 3" in found.reason
