"""Tests for critical-path-first dispatch (podium.insights.dispatch): the order of
ready tasks, its fallback without history, and the simulation the benchmark uses."""

from __future__ import annotations

import random

import pytest
from bench.critical_path import compare
from hypothesis import given
from hypothesis import strategies as st

from podium.insights import dispatch_priorities, order_ready, simulate
from podium.insights.critical_path import longest_path_seconds
from podium.insights.dispatch import critical_path_rank, fifo_rank

# x (1 s) -> y (10 s); z and w (5 s each) stand alone. Task order: x, z, w, y.
DEPS: dict[str, list[str]] = {"x": [], "y": ["x"], "z": [], "w": []}
SECONDS = {"x": 1.0, "y": 10.0, "z": 5.0, "w": 5.0}


def test_longest_remaining_path_first() -> None:
    priorities = dispatch_priorities(DEPS, SECONDS)
    assert priorities["x"] == (-11, -2, 0)
    assert order_ready(["w", "z", "x"], priorities) == ["x", "z", "w"]  # z, w tie: order


def test_without_history_the_deepest_first() -> None:
    deps = {"a": [], "b": [], "c": ["b"], "d": ["c"]}
    priorities = dispatch_priorities(deps, dict.fromkeys(deps))
    assert order_ready(["a", "b"], priorities) == ["b", "a"]  # b heads a chain of 3


def test_a_task_without_history_counts_the_typical_duration() -> None:
    # a's path: a (unknown: the median of 2 and 30 -> 30) + nothing; b: 2 + c 30 = 32.
    deps = {"a": [], "b": [], "c": ["b"]}
    priorities = dispatch_priorities(deps, {"a": None, "b": 2.0, "c": 30.0})
    assert priorities["a"][0] == -30 and priorities["b"][0] == -32
    assert order_ready(["a", "b"], priorities) == ["b", "a"]


def test_critical_path_first_beats_fifo_on_a_skewed_graph() -> None:
    # FIFO starts x and z; at 1 s w takes x's slot (ready since 0), y waits until 5 s.
    fifo = simulate(DEPS, SECONDS, 2, fifo_rank(DEPS))
    assert fifo.makespan == 15 and fifo.starts["y"] == 5
    # Critical path first: x, z; y at 1 s, w at 5 s; y ends at 11 s.
    best = simulate(DEPS, SECONDS, 2, critical_path_rank(dispatch_priorities(DEPS, SECONDS)))
    assert best.makespan == 11 and best.starts == {"x": 0, "z": 0, "y": 1, "w": 5}
    assert best.peak == 2


def test_one_slot_runs_one_after_another_and_many_slots_the_longest_chain() -> None:
    rank = fifo_rank(DEPS)
    assert simulate(DEPS, SECONDS, 1, rank).makespan == pytest.approx(21)
    wide = simulate(DEPS, SECONDS, 10, rank)
    assert wide.makespan == 11 and wide.peak == 3


def test_empty_graph() -> None:
    assert simulate({}, {}, 2, fifo_rank({})).makespan == 0


@given(st.integers(2, 30), st.integers(1, 6), st.randoms(use_true_random=False))
def test_simulated_makespan_respects_the_lower_bounds(n: int, slots: int,
                                                       rng: random.Random) -> None:
    deps = {f"t{i}": [f"t{j}" for j in range(i) if rng.random() < 0.2] for i in range(n)}
    seconds = {k: rng.uniform(0.1, 10) for k in deps}
    chain = longest_path_seconds(deps, seconds)
    for rank in (fifo_rank(deps), critical_path_rank(dispatch_priorities(deps, seconds))):
        made = simulate(deps, seconds, slots, rank)
        assert made.makespan >= max(chain, sum(seconds.values()) / slots) - 1e-9
        assert made.peak <= slots and len(made.starts) == n
    assert simulate(deps, seconds, n, fifo_rank(deps)).makespan == pytest.approx(chain)


def test_the_benchmark_reports_both_orders() -> None:
    row = compare("long-chain", tasks=10, slots=2, trials=3, seed=1)
    assert {"fifo s", "cp-first s", "fifo / bound", "cp-first / bound"} <= set(row)
    assert row["cp-first s"] <= row["fifo s"]
