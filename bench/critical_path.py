"""Critical-path-first dispatch against FIFO: ``python -m bench.critical_path [--trials N]
[--tasks N] [--seed S] [--json] [--engine]``.

``--engine`` also runs two graphs for real (``sleep`` shell tasks on the engine, 2 slots,
a fresh SQLite home) with the engine's ``dispatch_order`` set to ``spec`` (the job's task
order, the engine's order before critical-path-first) and to ``critical_path``, after a
few warm-up runs that give the job its history, and prints both makespans.

A discrete-event simulation in pure Python (``podium.insights.dispatch.simulate``) of
random job graphs whose task durations are skewed, run under a slot limit with three
orders of the ready tasks:

- **fifo**: first ready, first started (ties by task order);
- **graph order**: the engine's order today, the task's place in a topological order;
- **cp-first**: the longest expected remaining path first (``dispatch_priorities``).

cp-first ranks with *expected* durations: each task's actual duration is its expected one
times a log-normal noise (sigma 0.3), as a median from history would be off. Each figure
is a mean over the trials: the makespan in (simulated) seconds, and the makespan
divided by the lower bound max(longest chain, total work / slots) of the same graph:
1.00 is optimal.

Graph shapes (``--tasks`` tasks each):

- **layered**: tasks in layers of random width, each depending on 1-3 tasks of the layers
  above; durations Pareto-distributed (alpha 1.5: a few tasks take most of the time);
- **long-chain**: one chain of long tasks beside many short independent tasks, which FIFO
  starts first (the shape where the order matters most);
- **fan-in**: many independent tasks, 10% of them 20x longer, joined by one last task.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from collections.abc import Callable
from typing import Any

from podium.core import topological_order
from podium.insights.critical_path import longest_path_seconds
from podium.insights.dispatch import (
    critical_path_rank,
    dispatch_priorities,
    fifo_rank,
    simulate,
)

Graph = tuple[dict[str, list[str]], dict[str, float]]  # deps, expected seconds


def layered(rng: random.Random, n: int) -> Graph:
    deps: dict[str, list[str]] = {}
    done: list[str] = []
    while len(deps) < n:
        layer = [f"t{len(deps) + i}" for i in range(min(rng.randint(2, 8), n - len(deps)))]
        for key in layer:
            deps[key] = rng.sample(done[-16:], min(len(done[-16:]), rng.randint(1, 3)))
        done += layer
    return deps, {k: rng.paretovariate(1.5) for k in deps}


def long_chain(rng: random.Random, n: int) -> Graph:
    chain = max(2, n // 5)
    deps: dict[str, list[str]] = {f"s{i}": [] for i in range(n - chain)}  # short, first
    deps.update({f"c{i}": [f"c{i - 1}"] if i else [] for i in range(chain)})
    seconds = {k: rng.uniform(1, 3) if k.startswith("s") else rng.uniform(4, 8) for k in deps}
    return deps, seconds


def fan_in(rng: random.Random, n: int) -> Graph:
    deps: dict[str, list[str]] = {f"t{i}": [] for i in range(n - 1)}
    deps["join"] = list(deps)
    seconds = {k: (20.0 if rng.random() < 0.1 else 1.0) * rng.uniform(0.8, 1.2) for k in deps}
    seconds["join"] = 1.0
    return deps, seconds


SHAPES: dict[str, Callable[[random.Random, int], Graph]] = {
    "layered": layered, "long-chain": long_chain, "fan-in": fan_in,
}


def graph_order_rank(deps: dict[str, list[str]]) -> Callable[[str, float], object]:
    """The engine's order today: a task's place in a topological order."""
    position = {k: i for i, k in enumerate(topological_order(deps))}
    return lambda key, _ready_at: position[key]


def compare(shape: str, tasks: int, slots: int, trials: int, seed: int) -> dict[str, Any]:
    """Mean makespans (over the lower bound) of the three orders, and how often
    cp-first beat, tied or lost to FIFO."""
    rng = random.Random(seed)
    ratios: dict[str, list[float]] = {"fifo": [], "graph order": [], "cp-first": []}
    seconds: dict[str, list[float]] = {"fifo": [], "cp-first": []}
    wins = ties = losses = 0
    for _ in range(trials):
        deps, expected = SHAPES[shape](rng, tasks)
        actual = {k: v * math.exp(rng.gauss(0, 0.3)) for k, v in expected.items()}
        bound = max(longest_path_seconds(deps, actual), sum(actual.values()) / slots)
        spans = {
            "fifo": simulate(deps, actual, slots, fifo_rank(deps)).makespan,
            "graph order": simulate(deps, actual, slots, graph_order_rank(deps)).makespan,
            "cp-first": simulate(deps, actual, slots, critical_path_rank(
                dispatch_priorities(deps, dict(expected)))).makespan,
        }
        for name, span in spans.items():
            ratios[name].append(span / bound)
            seconds.get(name, []).append(span)
        gain = spans["fifo"] - spans["cp-first"]
        wins, ties, losses = (wins + (gain > 1e-9), ties + (abs(gain) <= 1e-9),
                              losses + (gain < -1e-9))
    means = {name: statistics.fmean(values) for name, values in ratios.items()}
    return {"shape": shape, "tasks": tasks, "slots": slots, "trials": trials,
            "fifo s": round(statistics.fmean(seconds["fifo"]), 1),
            "cp-first s": round(statistics.fmean(seconds["cp-first"]), 1),
            **{f"{name} / bound": round(v, 3) for name, v in means.items()},
            "cp-first vs fifo": f"{(1 - means['cp-first'] / means['fifo']):+.1%}",
            "wins/ties/losses": f"{wins}/{ties}/{losses}"}


# Real runs: (shape, expected seconds by task, dependencies), small enough to take seconds.
ENGINE_GRAPHS: dict[str, Graph] = {
    # Short tasks first in the spec, then a chain of long ones: spec order starts the
    # short ones first and the chain last.
    "long-chain": ({**{f"short{i}": [] for i in range(8)},
                    "chain0": [], "chain1": ["chain0"], "chain2": ["chain1"]},
                   {**{f"short{i}": 0.3 for i in range(8)},
                    "chain0": 0.8, "chain1": 0.8, "chain2": 0.8}),
    # Equal depth: only history tells that the last task of the spec is the long one.
    "fan-in": ({**{f"t{i}": [] for i in range(11)}, "join": [f"t{i}" for i in range(11)]},
               {**{f"t{i}": 0.2 for i in range(10)}, "t10": 2.0, "join": 0.1}),
}


def engine_compare(shape: str, warmups: int = 3, slots: int = 2) -> dict[str, Any]:
    """Makespans of one graph on the real engine in each dispatch order (the measured
    run after ``warmups`` runs of the same job, for its history)."""
    import tempfile
    from pathlib import Path

    from podium.services import execute_run, get_run, open_podium, submit_run
    from podium.settings import load_settings
    from podium.spec import LoadedJob, parse_job

    deps, seconds = ENGINE_GRAPHS[shape]
    tasks = [{"task_key": k, "shell_task": {"command": ["sleep", str(seconds[k])]},
              "depends_on": [{"task_key": u} for u in ups]} for k, ups in deps.items()]
    spec, warnings = parse_job({"name": f"bench_{shape}", "tasks": tasks}, source=shape)
    out: dict[str, Any] = {"shape": shape, "tasks": len(deps), "slots": slots,
                           "lower bound s": round(max(longest_path_seconds(deps, seconds),
                                                      sum(seconds.values()) / slots), 2)}
    for order in ("spec", "critical_path"):
        with tempfile.TemporaryDirectory(prefix="podium-bench-") as home:
            podium = open_podium(load_settings({
                "PODIUM_HOME": home, "PODIUM_MAX_PARALLEL_TASKS": str(slots),
                "PODIUM_DISPATCH_ORDER": order}))
            loaded = LoadedJob(spec, warnings, f"bench:{shape}", Path(home))
            for _ in range(warmups + 1):
                run_id = submit_run(podium, loaded)
                execute_run(podium, run_id)
            run = get_run(podium, run_id)
            podium.close()
        out[f"{order} s"] = round((run["end_time"] - run["start_time"]) / 1000, 2)
    out["gain"] = f"{1 - out['critical_path s'] / out['spec s']:+.0%}"
    return out


def print_rows(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.critical_path",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slots", type=int, action="append", help="default: 2, 4, 8")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--engine", action="store_true",
                        help="also time two graphs on the real engine in each order")
    args = parser.parse_args(argv)
    rows = [compare(shape, args.tasks, slots, args.trials, args.seed)
            for shape in SHAPES for slots in (args.slots or [2, 4, 8])]
    real = [engine_compare(shape) for shape in ENGINE_GRAPHS] if args.engine else []
    if args.json:
        print(json.dumps({"simulated": rows, "engine": real}, indent=2))
        return 0
    print_rows(rows)
    print("means over the trials: makespan in simulated seconds, and makespan / lower bound "
          "(max of the longest chain and work / slots), 1.00 being optimal")
    if real:
        print()
        print_rows(real)
        print("the real engine, 2 slots: wall seconds from the run's start to its end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
