"""The task graph of a job: order, cycles, upstream and downstream sets."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping


def topological_order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """Task keys in an order where every task comes after its upstream tasks.

    Raises:
        ValueError: the graph has a cycle; the message prints it as ``a -> b -> a``.
    """
    sorter = graphlib.TopologicalSorter({k: list(v) for k, v in deps.items()})
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]  # in run order: each task runs before the next
        raise ValueError("cycle " + " -> ".join(cycle)) from None


def downstream_of(deps: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every task that depends, directly or transitively, on one of ``roots``."""
    children: dict[str, list[str]] = {k: [] for k in deps}
    for key, ups in deps.items():
        for up in ups:
            children.setdefault(up, []).append(key)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def upstream_of(deps: Mapping[str, Iterable[str]], key: str) -> set[str]:
    """Every task that ``key`` depends on, directly or transitively."""
    seen: set[str] = set()
    stack = list(deps.get(key, ()))
    while stack:
        up = stack.pop()
        if up not in seen:
            seen.add(up)
            stack.extend(deps.get(up, ()))
    return seen


def leaves(deps: Mapping[str, Iterable[str]]) -> set[str]:
    """Tasks no other task depends on."""
    has_child = {up for ups in deps.values() for up in ups}
    return set(deps) - has_child


class Graph:
    """A job's task graph, precomputed once per run for quick lookups."""

    __slots__ = ("children", "order", "position", "upstream")

    def __init__(self, deps: Mapping[str, Iterable[str]]) -> None:
        self.upstream: dict[str, list[str]] = {k: list(v) for k, v in deps.items()}
        self.order: list[str] = topological_order(self.upstream)
        self.position: dict[str, int] = {k: i for i, k in enumerate(self.order)}
        self.children: dict[str, list[str]] = {k: [] for k in self.upstream}
        for key, ups in self.upstream.items():
            for up in ups:
                self.children[up].append(key)
