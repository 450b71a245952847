"""The critical path of a run: the chain of tasks whose durations add up to the longest
path through the job's graph, which is what held the run up, and for each task how
much shrinking it would actually shorten the run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podium.core import topological_order
from podium.insights.stats import seconds_text

# Each task on the path costs a pass over the graph: past this many task visits the
# shrink figures are left out rather than holding up the answer.
MAX_SHRINK_WORK = 2_000_000


@dataclass(frozen=True, slots=True)
class PathStep:
    """A task on the path. Shrinking it shortens the path by at most
    ``useful_shrink_seconds``: beyond that another chain is the longest (None: not
    worked out, the graph being too big for it)."""

    task_key: str
    seconds: float
    useful_shrink_seconds: float | None


@dataclass(frozen=True, slots=True)
class CriticalPath:
    """The chain, the path's length, and how far each task off it could grow before it
    would lengthen the run (``slack_seconds``)."""

    steps: tuple[PathStep, ...]
    path_seconds: float
    slack_seconds: Mapping[str, float]
    basis: str


def finish_times(deps: Mapping[str, Sequence[str]], seconds: Mapping[str, float]
                 ) -> tuple[dict[str, float], dict[str, str | None]]:
    """When each task would end if each started as soon as its upstream tasks ended, and
    the upstream task it waited for (the one ending last; ties: the earlier in order)."""
    ends: dict[str, float] = {}
    waited: dict[str, str | None] = {}
    for key in topological_order(deps):
        before = max(deps[key], key=lambda u: ends[u], default=None)
        waited[key] = before
        ends[key] = (ends[before] if before is not None else 0.0) + seconds.get(key, 0.0)
    return ends, waited


def longest_path_seconds(deps: Mapping[str, Sequence[str]],
                         seconds: Mapping[str, float]) -> float:
    return max(finish_times(deps, seconds)[0].values(), default=0.0)


def remaining_seconds(deps: Mapping[str, Sequence[str]],
                      seconds: Mapping[str, float]) -> dict[str, float]:
    """For each task, the longest chain from its start to the end of the graph."""
    children: dict[str, list[str]] = {k: [] for k in deps}
    for key, ups in deps.items():
        for up in ups:
            children[up].append(key)
    tails: dict[str, float] = {}
    for key in reversed(topological_order(deps)):
        tails[key] = seconds.get(key, 0.0) + max((tails[c] for c in children[key]),
                                                 default=0.0)
    return tails


def critical_path(deps: Mapping[str, Sequence[str]], seconds: Mapping[str, float],
                  what: str = "task durations") -> CriticalPath:
    """The critical path of a graph whose tasks took ``seconds`` (a task missing, e.g.
    skipped, takes 0).

    Args:
        what: what the durations are, for the basis ("task durations of run 7").
    """
    ends, waited = finish_times(deps, seconds)
    if not ends:
        return CriticalPath((), 0.0, {}, "the job has no tasks")
    order = topological_order(deps)
    length = max(ends.values())
    last: str | None = next(k for k in order if ends[k] == length)
    chain: list[str] = []
    while last is not None:
        chain.append(last)
        last = waited[last]
    chain.reverse()
    steps = []
    affordable = len(chain) * len(deps) <= MAX_SHRINK_WORK
    for key in chain:
        # Without this task the longest path is whatever else is longest.
        without = longest_path_seconds(deps, {**seconds, key: 0.0}) if affordable else None
        steps.append(PathStep(key, seconds.get(key, 0.0),
                              None if without is None else length - without))
    tails = remaining_seconds(deps, seconds)
    slack = {k: length - (ends[k] - seconds.get(k, 0.0) + tails[k])
             for k in order if k not in chain}
    names = " → ".join(chain)
    return CriticalPath(tuple(steps), length, slack,
                        f"longest chain of {what}: {names}, {seconds_text(length)}")
