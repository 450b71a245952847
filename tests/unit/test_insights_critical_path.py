"""Tests for podium.insights.critical_path on small graphs worked out by hand."""

from __future__ import annotations

import importlib

import pytest

from podium.insights import critical_path
from podium.insights.critical_path import finish_times, remaining_seconds

# The package exports the function critical_path, which hides the module of that name.
module = importlib.import_module("podium.insights.critical_path")

# a ─┐
#    ├─> c ─> d
# b ─┤
#    └─> e
DEPS = {"a": [], "b": [], "c": ["a", "b"], "d": ["c"], "e": ["b"]}
SECONDS = {"a": 10, "b": 4, "c": 5, "d": 2, "e": 20}


def test_finish_and_remaining_times() -> None:
    ends, waited = finish_times(DEPS, SECONDS)
    assert ends == {"a": 10, "b": 4, "c": 15, "d": 17, "e": 24}
    assert waited["c"] == "a" and waited["e"] == "b" and waited["a"] is None
    assert remaining_seconds(DEPS, SECONDS) == {"d": 2, "c": 7, "e": 20, "a": 17, "b": 24}


def test_the_longest_chain_and_how_much_shrinking_helps() -> None:
    path = critical_path(DEPS, SECONDS, "task durations of run 7")
    assert [s.task_key for s in path.steps] == ["b", "e"]
    assert path.path_seconds == 24
    # Without b the longest is e alone (20): shrinking b helps 4 s; without e, a-c-d (17).
    assert [(s.seconds, s.useful_shrink_seconds) for s in path.steps] == [(4, 4), (20, 7)]
    assert path.slack_seconds == {"a": 7, "c": 7, "d": 7}
    assert path.basis == "longest chain of task durations of run 7: b → e, 24.0 s"


def test_a_task_that_did_not_run_takes_no_time() -> None:
    path = critical_path(DEPS, {"a": 10, "c": 5, "d": 2})
    assert [s.task_key for s in path.steps] == ["a", "c", "d"]
    assert path.path_seconds == 17
    assert path.steps[0].useful_shrink_seconds == 10  # nothing else takes any time


def test_ties_go_to_the_earlier_task() -> None:
    path = critical_path({"x": [], "y": []}, {"x": 3, "y": 3})
    assert [s.task_key for s in path.steps] == ["x"]
    assert path.steps[0].useful_shrink_seconds == 0  # y is as long: shrinking x gains nothing


def test_no_tasks() -> None:
    path = critical_path({}, {})
    assert path.steps == () and path.path_seconds == 0
    assert path.basis == "the job has no tasks"


def test_one_task() -> None:
    path = critical_path({"only": []}, {"only": 2.5})
    assert path.path_seconds == pytest.approx(2.5)
    assert path.steps[0].useful_shrink_seconds == pytest.approx(2.5)


def test_shrink_figures_are_left_out_for_huge_graphs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "MAX_SHRINK_WORK", 1)
    path = critical_path(DEPS, SECONDS)
    assert [s.useful_shrink_seconds for s in path.steps] == [None, None]
    assert path.path_seconds == 24
