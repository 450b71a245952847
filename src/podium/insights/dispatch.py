"""Critical-path-first dispatch: when more tasks are ready than slots are free, start
first those with the longest expected path still ahead of them, so that the long chain
is not left waiting behind short side tasks. Also a small discrete-event simulation of
a run under a slot limit, to compare orders and slot counts."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from podium.core import topological_order
from podium.insights.critical_path import remaining_seconds

Priority = tuple[float, int, int]  # sorts ascending: the task to start first comes first


def dispatch_priorities(deps: Mapping[str, Sequence[str]],
                        expected: Mapping[str, float | None]) -> dict[str, Priority]:
    """Each task's rank: the longest expected remaining path (longest first), then graph
    depth, the most tasks on a chain below it (deepest first), then the task order.

    A task with no expected duration counts the median of the known ones; with none
    known every task counts 1, which makes the path its depth.
    """
    known = sorted(v for v in expected.values() if v is not None)
    stand_in = known[len(known) // 2] if known else 1.0
    durations = {k: v if (v := expected.get(k)) is not None else stand_in for k in deps}
    paths = remaining_seconds(deps, durations)
    depths = remaining_seconds(deps, dict.fromkeys(deps, 1.0))
    order = topological_order(deps)
    return {k: (-paths[k], -int(depths[k]), i) for i, k in enumerate(order)}


def order_ready(ready: Iterable[str], priorities: Mapping[str, Priority]) -> list[str]:
    """``ready`` tasks in the order to start them."""
    return sorted(ready, key=priorities.__getitem__)


@dataclass(frozen=True, slots=True)
class Schedule:
    makespan: float
    starts: Mapping[str, float]
    peak: int  # the most tasks running at once


def simulate(deps: Mapping[str, Sequence[str]], seconds: Mapping[str, float], slots: int,
             rank: Callable[[str, float], object]) -> Schedule:
    """Run the graph with ``slots`` task slots: whenever a slot is free the ready task
    with the lowest ``rank(key, became_ready_at)`` starts; tasks take ``seconds``."""
    children: dict[str, list[str]] = {k: [] for k in deps}
    for key, ups in deps.items():
        for up in ups:
            children[up].append(key)
    waiting = {k: len(ups) for k, ups in deps.items()}
    ready: list[tuple[object, str]] = [(rank(k, 0.0), k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    starts: dict[str, float] = {}
    now, peak = 0.0, 0
    while ready or running:
        while ready and len(running) < slots:
            _, key = heapq.heappop(ready)
            starts[key] = now
            heapq.heappush(running, (now + seconds.get(key, 0.0), key))
        peak = max(peak, len(running))
        now, key = heapq.heappop(running)
        for child in children[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (rank(child, now), child))
    return Schedule(now, starts, peak)


def fifo_rank(deps: Mapping[str, Sequence[str]]) -> Callable[[str, float], object]:
    """First ready, first started (ties: the task order)."""
    position = {k: i for i, k in enumerate(topological_order(deps))}
    return lambda key, ready_at: (ready_at, position[key])


def critical_path_rank(priorities: Mapping[str, Priority]) -> Callable[[str, float], object]:
    return lambda key, ready_at: priorities[key]
