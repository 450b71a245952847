"""Tests for podium.core.dag: topological order, cycles, upstream / downstream sets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.core.dag import Graph, downstream_of, leaves, topological_order, upstream_of

# The seed pipeline (DESIGN.md) plus a side branch: task -> the tasks it depends on.
SEED: dict[str, list[str]] = {
    "clicks_ingest": [],
    "orders_ingest": [],
    "match": ["clicks_ingest", "orders_ingest"],
    "build_features": ["match"],
    "persist_features": ["build_features"],
    "train": ["persist_features"],
    "report": ["match"],
}


@st.composite
def dags(draw: st.DrawFn, max_size: int = 12) -> dict[str, list[str]]:
    """A random DAG as ``key -> upstream keys``; keys are shuffled so that the
    dict order is not already a topological order."""
    n = draw(st.integers(1, max_size))
    names = draw(st.permutations([f"t{i}" for i in range(n)]))
    deps: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        deps[name] = sorted(draw(st.sets(st.sampled_from(names[:i]))) if i else [])
    keys = draw(st.permutations(list(deps)))
    return {k: deps[k] for k in keys}


def edges(deps: dict[str, list[str]]) -> set[tuple[str, str]]:
    """(upstream, downstream) pairs."""
    return {(up, key) for key, ups in deps.items() for up in ups}


# --- topological_order ---------------------------------------------------------------


def test_topological_order_of_seed_pipeline() -> None:
    order = topological_order(SEED)
    assert sorted(order) == sorted(SEED)
    for up, down in edges(SEED):
        assert order.index(up) < order.index(down)


def test_topological_order_single_task_and_empty() -> None:
    assert topological_order({"a": []}) == ["a"]
    assert topological_order({}) == []


def test_topological_order_accepts_any_iterables() -> None:
    assert topological_order({"b": ("a",), "a": iter(())}) == ["a", "b"]


def cycle_in_message(message: str) -> list[str]:
    assert message.startswith("cycle ")
    return message.removeprefix("cycle ").split(" -> ")


@pytest.mark.parametrize(
    ("deps", "members"),
    [
        ({"a": ["a"]}, {"a"}),
        ({"a": ["b"], "b": ["a"]}, {"a", "b"}),
        ({"a": ["c"], "b": ["a"], "c": ["b"]}, {"a", "b", "c"}),
        # the cycle is found among tasks that are not part of it
        ({"root": [], "x": ["root", "z"], "y": ["x"], "z": ["y"], "leaf": ["z"]}, {"x", "y", "z"}),
    ],
)
def test_cycle_message_prints_the_cycle(deps: dict[str, list[str]], members: set[str]) -> None:
    with pytest.raises(ValueError, match=r"^cycle ") as info:
        topological_order(deps)
    path = cycle_in_message(str(info.value))
    # "a -> b -> a": closed, every member once, and each arrow is a real dependency,
    # all in run order ("x -> y" reads "x runs before y"), as the validator prints them.
    assert path[0] == path[-1]
    assert sorted(path[:-1]) == sorted(members)
    assert all(a in deps[b] for a, b in itertools.pairwise(path))


def test_cycle_message_exact_for_two_tasks() -> None:
    with pytest.raises(ValueError, match=r"^cycle a -> b -> a$"):
        topological_order({"a": ["b"], "b": ["a"]})


def test_cycle_error_is_not_chained() -> None:
    with pytest.raises(ValueError) as info:
        topological_order({"a": ["a"]})
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@given(dags())
def test_topological_order_respects_every_edge(deps: dict[str, list[str]]) -> None:
    order = topological_order(deps)
    assert sorted(order) == sorted(deps)
    position = {k: i for i, k in enumerate(order)}
    for up, down in edges(deps):
        assert position[up] < position[down]


@given(dags(), st.data())
def test_adding_a_back_edge_makes_a_cycle(deps: dict[str, list[str]], data: st.DataObject) -> None:
    pairs = sorted(edges(deps))
    if not pairs:
        return
    up, down = data.draw(st.sampled_from(pairs))
    # down is downstream of up; making up depend on down closes a loop
    cyclic = {k: list(v) for k, v in deps.items()}
    cyclic[up].append(down)
    with pytest.raises(ValueError, match=r"^cycle ") as info:
        topological_order(cyclic)
    path = cycle_in_message(str(info.value))
    assert path[0] == path[-1]
    assert all(a in cyclic[b] for a, b in itertools.pairwise(path))


# --- downstream_of / upstream_of / leaves --------------------------------------------


def test_downstream_of_seed() -> None:
    assert downstream_of(SEED, ["match"]) == {
        "build_features", "persist_features", "train", "report"
    }
    assert downstream_of(SEED, ["clicks_ingest"]) == {
        "match", "build_features", "persist_features", "train", "report"
    }
    assert downstream_of(SEED, ["train"]) == set()
    assert downstream_of(SEED, []) == set()


def test_downstream_of_excludes_roots_unless_downstream_of_another_root() -> None:
    assert downstream_of(SEED, ["match", "build_features"]) == {
        "build_features", "persist_features", "train", "report"
    }
    assert "match" not in downstream_of(SEED, ["match", "build_features"])


def test_downstream_of_unknown_root_is_empty() -> None:
    assert downstream_of(SEED, ["nope"]) == set()


def test_upstream_of_seed() -> None:
    assert upstream_of(SEED, "train") == {
        "clicks_ingest", "orders_ingest", "match", "build_features", "persist_features"
    }
    assert upstream_of(SEED, "report") == {"clicks_ingest", "orders_ingest", "match"}
    assert upstream_of(SEED, "clicks_ingest") == set()
    assert upstream_of(SEED, "nope") == set()


def test_diamond_visits_shared_ancestor_once() -> None:
    deps = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert upstream_of(deps, "d") == {"a", "b", "c"}
    assert downstream_of(deps, ["a"]) == {"b", "c", "d"}


def test_leaves() -> None:
    assert leaves(SEED) == {"train", "report"}
    assert leaves({"a": []}) == {"a"}
    assert leaves({"a": [], "b": []}) == {"a", "b"}
    assert leaves({}) == set()


@given(dags())
def test_downstream_and_upstream_are_inverses(deps: dict[str, list[str]]) -> None:
    for a in deps:
        down = downstream_of(deps, [a])
        assert a not in down
        for b in deps:
            assert (b in down) == (a in upstream_of(deps, b))


@given(dags(), st.data())
def test_downstream_of_many_roots_is_union(deps: dict[str, list[str]], data: st.DataObject) -> None:
    roots = data.draw(st.sets(st.sampled_from(sorted(deps))))
    expected = set().union(*(downstream_of(deps, [r]) for r in roots))
    assert downstream_of(deps, roots) == expected


@given(dags())
def test_upstream_is_closed_and_contains_direct_deps(deps: dict[str, list[str]]) -> None:
    for key, ups in deps.items():
        closure = upstream_of(deps, key)
        assert set(ups) <= closure
        for up in closure:
            assert upstream_of(deps, up) <= closure


@given(dags())
def test_leaves_are_tasks_with_no_downstream(deps: dict[str, list[str]]) -> None:
    assert leaves(deps) == {k for k in deps if not downstream_of(deps, [k])}
    assert leaves(deps)  # a finite DAG always has a leaf


# --- Graph ---------------------------------------------------------------------------


def test_graph_of_seed() -> None:
    g = Graph(SEED)
    assert g.upstream == SEED
    assert g.upstream is not SEED
    assert sorted(g.order) == sorted(SEED)
    assert g.position == {k: i for i, k in enumerate(g.order)}
    assert sorted(g.children["match"]) == ["build_features", "report"]
    assert g.children["clicks_ingest"] == ["match"]
    assert g.children["train"] == []


def test_graph_rejects_cycle() -> None:
    with pytest.raises(ValueError, match=r"^cycle a -> b -> a$"):
        Graph({"a": ["b"], "b": ["a"]})


def test_graph_has_slots_only() -> None:
    g = Graph({"a": []})
    with pytest.raises(AttributeError):
        g.extra = 1  # type: ignore[attr-defined]


@given(dags())
def test_graph_children_invert_upstream(deps: dict[str, list[str]]) -> None:
    g = Graph(deps)
    assert set(g.children) == set(deps)
    assert {(up, k) for up, kids in g.children.items() for k in kids} == edges(deps)
    for up, down in edges(deps):
        assert g.position[up] < g.position[down]
