"""How promptly schedules fire: ``python -m bench.schedules [--samples N] [--jobs N]
[--parallel P] [--json]``.

One process runs what ``podium server`` runs (the scheduler and the engine's
dispatcher, in one event loop) on a fresh SQLite ``PODIUM_HOME``:

1. **latency**: one job scheduled every second (``*/1 * * * * ?``, a ``shell_task``
   ``true``) for N seconds; for each run, the delay from its fire time to the run's
   record (the scheduler) and to its first task's start (the attempt's ``started_at``).
2. **load**: ``--jobs`` jobs (default 1,000) scheduled once a minute, all at the same
   second, with the scheduler alone: the fire delay of each (fire time to run recorded).
3. the same with ``--engine-jobs`` jobs (default 200) and the engine driving the runs:
   also the delay to each run's first task start (which the engine's throughput and
   its task pool, ``--parallel`` wide, bound).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from podium.engine import Dispatcher, utcnow
from podium.services import Podium, local_principal, open_podium
from podium.services.jobs import create_job
from podium.settings import load_settings
from podium.store import AttemptRow, RunRow
from podium.triggers import Scheduler


def job_settings(name: str, cron: str) -> dict[str, Any]:
    return {"name": name, "schedule": {"quartz_cron_expression": cron},
            "tasks": [{"task_key": "t", "shell_task": {"command": ["true"]}}]}


def delays(podium: Podium, fire_time: datetime | None = None
           ) -> tuple[list[float], list[float], int]:
    """(fire -> run recorded, fire -> first task started) in ms, for the scheduled runs
    (of ``fire_time`` only, when given); and how many of them have no task started."""
    recorded, started, waiting = [], [], 0
    with podium.sessions() as session:
        first_start = dict(session.execute(
            select(AttemptRow.run_id, func.min(AttemptRow.started_at))
            .group_by(AttemptRow.run_id)
        ).all())
        for run in session.scalars(select(RunRow).where(RunRow.trigger == "PERIODIC")):
            fire = datetime.fromisoformat(json.loads(run.trigger_info_json or "{}")["fire_time"])
            if fire_time is not None and fire != fire_time:
                continue
            recorded.append((run.created_at - fire).total_seconds() * 1000)
            if run.run_id in first_start:
                started.append((first_start[run.run_id] - fire).total_seconds() * 1000)
            else:
                waiting += 1
    return recorded, started, waiting


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)

    return {"n": len(values), "median_ms": round(statistics.median(values), 1),
            "p90_ms": pick(0.9), "p99_ms": pick(0.99), "max_ms": round(ordered[-1], 1)}


class Server:
    """What ``podium server`` runs besides the API, on a fresh home."""

    def __init__(self, parallel: int, engine: bool = True) -> None:
        home = tempfile.mkdtemp(prefix="podium-bench-schedules-")
        self.settings = load_settings({"PODIUM_HOME": home,
                                       "PODIUM_MAX_PARALLEL_TASKS": str(parallel)})
        self.podium = open_podium(self.settings)
        self.dispatcher = Dispatcher(self.podium.sessions, self.settings) if engine else None
        wake = self.dispatcher.wake if self.dispatcher is not None else (lambda: None)
        self.scheduler = Scheduler(self.podium.sessions, on_start=lambda _run_id: wake())

    async def serve_until(self, done: Callable[[], bool], timeout: float) -> None:
        loops = [self.scheduler.run()]
        if self.dispatcher is not None:
            loops.append(self.dispatcher.run())
        tasks = [asyncio.create_task(loop) for loop in loops]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not await asyncio.to_thread(done):
            await asyncio.sleep(0.25)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        self.podium.close()


async def latency(samples: int, parallel: int) -> dict[str, Any]:
    """One job every second until ``samples`` runs have started a task."""
    server = Server(parallel)
    try:
        create_job(server.podium, job_settings("every_second", "*/1 * * * * ?"),
                   local_principal())
        await server.serve_until(lambda: len(delays(server.podium)[1]) >= samples,
                                 samples + 30)
        recorded, started, _ = delays(server.podium)
    finally:
        await server.close()
    return {"to_run_recorded": summary(recorded), "to_first_task_start": summary(started)}


async def load(jobs: int, parallel: int, engine: bool) -> dict[str, Any]:
    """``jobs`` per-minute schedules at the same second; the first minute's fires."""
    server = Server(parallel, engine)
    try:
        fire_at = (utcnow() + timedelta(seconds=10 + jobs * 0.005)).replace(microsecond=0)
        made = time.monotonic()
        for i in range(jobs):
            create_job(server.podium, job_settings(f"minutely_{i}", f"{fire_at.second} * * * * ?"),
                       local_principal())
        stored_s = time.monotonic() - made
        first = fire_at
        if utcnow() >= fire_at:  # storing them took longer than planned: the next minute
            first = fire_at + timedelta(minutes=1)

        def finished() -> bool:
            recorded, _, waiting = delays(server.podium, first)
            return len(recorded) >= jobs and (waiting == 0 or not engine)

        await server.serve_until(finished, 60 + 60 * engine)
        recorded, started, waiting = delays(server.podium, first)
    finally:
        await server.close()
    out: dict[str, Any] = {
        "jobs": jobs, "engine": engine, "stored_s": round(stored_s, 2),
        "to_run_recorded": summary(recorded),
        "recorded_within_1s": sum(1 for d in recorded if d < 1000),
    }
    if engine:
        out |= {"to_first_task_start": summary(started), "not_started": waiting}
    return out


async def bench(samples: int, jobs: int, engine_jobs: int, parallel: int) -> dict[str, Any]:
    return {"parallel": parallel, "latency": await latency(samples, parallel),
            "scheduler_alone": await load(jobs, parallel, engine=False),
            "with_engine": await load(engine_jobs, parallel, engine=True)}


def show(out: dict[str, Any]) -> None:
    def row(label: str, figures: dict[str, float]) -> None:
        if not figures:
            print(f"  {label:<28} -")
            return
        print(f"  {label:<28} n={figures['n']:<5} median {figures['median_ms']:>8.1f} ms"
              f"   p90 {figures['p90_ms']:>8.1f} ms   p99 {figures['p99_ms']:>8.1f} ms"
              f"   max {figures['max_ms']:>8.1f} ms")

    print(f"every-second schedule (target: fire -> first task start median < 100 ms), "
          f"max_parallel_tasks {out['parallel']}")
    row("fire -> run recorded", out["latency"]["to_run_recorded"])
    row("fire -> first task start", out["latency"]["to_first_task_start"])
    for key, what in (("scheduler_alone", "the scheduler alone (no engine)"),
                      ("with_engine", "the scheduler and the engine")):
        load = out[key]
        print(f"{load['jobs']} per-minute schedules firing the same second, {what}:")
        row("fire -> run recorded", load["to_run_recorded"])
        if "to_first_task_start" in load:
            row("fire -> first task start", load["to_first_task_start"])
        print(f"  recorded within 1 s of their time: {load['recorded_within_1s']} of "
              f"{load['jobs']}" + (f"; no task started at the end: {load['not_started']}"
                                   if "not_started" in load else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.schedules", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=30, help="every-second runs measured")
    parser.add_argument("--jobs", type=int, default=1000,
                        help="per-minute jobs fired by the scheduler alone")
    parser.add_argument("--engine-jobs", type=int, default=200,
                        help="per-minute jobs fired and driven by the engine too")
    parser.add_argument("--parallel", type=int, default=8, help="max_parallel_tasks")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    out = asyncio.run(bench(args.samples, args.jobs, args.engine_jobs, args.parallel))
    if args.json:
        print(json.dumps(out))
    else:
        show(out)
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
