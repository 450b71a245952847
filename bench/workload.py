"""Run ONE workload in this (fresh) process and print its figures as one JSON line.

``python -m bench.workload NAME [--size N] [--parallel P] [--profile FILE]``

Podium state is persisted as in normal use: a real SQLite database in a temporary
PODIUM_HOME opened with ``open_podium``, the run recorded with ``submit_run`` and driven
with ``execute_run``. The bare baseline runs the same argv with ``subprocess.run`` in the
same shape (sequential for a chain, a P-wide thread pool for a fan-out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import shapes

ROOT = Path(__file__).resolve().parents[1]  # source_dir: `bench.noop` imports from here


@dataclass(frozen=True)
class Workload:
    shape: str  # chain | fanout | independent
    size: int  # tasks in the middle (fan-out width, chain length, independent count)
    argv: list[str]  # what each task runs (for the bare baseline)
    body: dict[str, Any]  # the task-type part of each task's spec


PYTHON_PASS = [sys.executable, "-c", "pass"]
WORKLOADS: dict[str, Workload] = {
    "chain-100": Workload("chain", 100, shapes.NOOP_ARGV, shapes.function_task()),
    "fanout-1000": Workload("fanout", 1000, shapes.NOOP_ARGV, shapes.function_task()),
    "proc-100": Workload("independent", 100, PYTHON_PASS, shapes.shell_task(PYTHON_PASS)),
    "fanout-10000": Workload("fanout", 10_000, ["true"], shapes.shell_task(["true"])),
}


def cpu_seconds() -> float:
    """CPU time of this process alone (threads included; task subprocesses excluded)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bare(w: Workload, size: int, parallel: int, log_dir: str | None = None) -> float:
    """Wall time of the same processes run with subprocess.run in the same shape; with
    ``log_dir``, each one's output goes to a file of its own there (as Podium's do)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    counter = iter(range(size + 2))

    def one(_: object = None) -> None:
        if log_dir is None:
            subprocess.run(w.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=True)
            return
        with open(os.path.join(log_dir, f"{next(counter)}.log"), "ab") as log:
            subprocess.run(w.argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=subprocess.STDOUT, check=True)

    started = time.perf_counter()
    if w.shape == "chain":
        for _ in range(size):
            one()
    else:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            if w.shape == "fanout":
                one()
            list(pool.map(one, range(size)))
            if w.shape == "fanout":
                one()
    return time.perf_counter() - started


def total_tasks(w: Workload, size: int) -> int:
    return size + 2 if w.shape == "fanout" else size


def podium_run(name: str, w: Workload, size: int, parallel: int,
               profile: str | None) -> dict[str, Any]:
    """Submit and execute the workload's job in a fresh PODIUM_HOME; time it."""
    from podium.services import execute_run, open_podium, submit_run
    from podium.settings import load_settings
    from podium.spec import LoadedJob, parse_job

    build: Callable[[str, int, dict[str, Any]], dict[str, Any]] = getattr(shapes, w.shape)
    spec, warnings = parse_job(build(f"bench_{name}", size, w.body), source=name)
    loaded = LoadedJob(spec, warnings, f"bench:{name}", ROOT)
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as home:
        settings = load_settings({
            "PODIUM_HOME": home, "PODIUM_MAX_PARALLEL_TASKS": str(parallel),
            "PODIUM_WARM_PYTHON": os.environ.get("PODIUM_WARM_PYTHON", "true"),
        })
        podium = open_podium(settings)
        rss_ready = peak_rss_mb()
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        run_id = submit_run(podium, loaded)
        t1 = time.perf_counter()
        result = execute_run(podium, run_id)
        t2, cpu1 = time.perf_counter(), cpu_seconds()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        podium.close()
    return {"result": str(result), "submit_s": t1 - t0, "wall_s": t2 - t0,
            "engine_cpu_s": cpu1 - cpu0, "rss_ready_mb": rss_ready}


def measure(name: str, size: int | None = None, parallel: int = 2,
            profile: str | None = None, baseline: bool = True) -> dict[str, Any]:
    w = WORKLOADS[name]
    size = w.size if size is None else size
    tasks = total_tasks(w, size)
    out: dict[str, Any] = {"name": name, "size": size, "tasks": tasks, "parallel": parallel}
    # Bare runs before and after Podium's; the faster counts (a shared machine is noisy,
    # and the faster bare run makes the gap the conservative figure).
    runs = [bare(w, size, parallel)] if baseline else []
    out.update(podium_run(name, w, size, parallel, profile))
    runs += [bare(w, size, parallel)] if baseline else []
    out["bare_runs_s"] = runs
    out["bare_s"] = min(runs) if runs else None
    if baseline:
        with tempfile.TemporaryDirectory(prefix="podium-bench-logs-") as logs:
            out["bare_logged_s"] = bare(w, size, parallel, logs)
    out["peak_rss_mb"] = peak_rss_mb()
    out["cpu_ms_per_task"] = 1000 * out["engine_cpu_s"] / tasks
    if out["bare_s"] is not None:
        out["gap_ms_per_task"] = 1000 * (out["wall_s"] - out["bare_s"]) / tasks
        out["ratio"] = out["wall_s"] / out["bare_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workload")
    parser.add_argument("name", choices=[*WORKLOADS, "cli"])
    parser.add_argument("--size", type=int, help="scale the workload (default: its name)")
    parser.add_argument("--parallel", type=int, default=2, help="max_parallel_tasks")
    parser.add_argument("--repeat", type=int, default=5, help="cli: runs per command")
    parser.add_argument("--profile", help="write a cProfile of submit+execute here")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare baseline")
    args = parser.parse_args(argv)
    if args.name == "cli":
        from bench.cli import measure_cli

        out = measure_cli(args.repeat)
    else:
        out = measure(args.name, args.size, args.parallel, args.profile, not args.no_baseline)
    print(json.dumps(out))
    return 0 if out.get("result", "SUCCESS") == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
