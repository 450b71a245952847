"""``python -m bench.api``: load on a real ``podium server`` from concurrent clients.

Starts a server on a fresh SQLite home with ``--history`` recorded runs, then for each
call (``runs/get``, ``jobs/list``, ``run-now``) keeps ``--clients`` concurrent clients
busy for ``--seconds`` and prints throughput and p50/p99 latency. The clients run in this
process (asyncio + httpx2), the server in its own, on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
PODIUM = [sys.executable, "-m", "podium.cli"]
# A run that starts no process: run-now measures the API and the store, not python start-up.
JOB = {
    "name": "bench-api", "max_concurrent_runs": 1000,
    "tasks": [{"task_key": "check", "condition_task": {"op": "EQUAL_TO", "left": "1",
                                                       "right": "1"}}],
}


def record_history(home: Path, runs: int, job: dict[str, Any] | None = None) -> int:
    """``runs`` finished runs of ``job`` (default: the bench job), as a busy server's
    database holds them: every task run SUCCESS. Returns the job's id."""
    from sqlalchemy import update

    from podium.services import open_podium
    from podium.services.jobs import validate_settings
    from podium.settings import load_settings
    from podium.store import TaskRunRow
    from podium.store import jobs as job_queries
    from podium.store import runs as q

    # The environment's settings (PODIUM_DATABASE_URL, ...) as the server started on
    # this home will read them, so that both see the same database.
    podium = open_podium(load_settings({**os.environ, "PODIUM_HOME": str(home)}))
    spec, spec_json = validate_settings(job or JOB)
    keys = [t.task_key for t in spec.tasks]
    now = datetime.now(UTC)
    with podium.sessions.begin() as session:
        row = job_queries.create_job(session, spec.name, spec_json, "admin", now, str(ROOT))
        job_queries.set_permission(session, row.job_id, "user", "admin", "IS_OWNER")
        for _ in range(runs):
            run_id = q.insert_run(session, job_id=row.job_id, run_name=spec.name,
                                  spec_json=spec_json, source_dir=str(ROOT), parameters={},
                                  task_keys=keys, now=now, job_version=1)
            q.update_run(session, run_id, life_cycle_state="TERMINATED",
                         result_state="SUCCESS", ended_at=now, started_at=now)
        session.execute(update(TaskRunRow).where(TaskRunRow.run_id.is_not(None)).values(
            life_cycle_state="TERMINATED", result_state="SUCCESS", attempt_count=1,
            started_at=now, ended_at=now))
        job_id = row.job_id
    podium.close()
    return job_id


async def load(url: str, token: str, call: str, clients: int, seconds: float,
               run_ids: list[int]) -> dict[str, Any]:
    """Keep ``clients`` requests of ``call`` in flight for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def one_client(i: int) -> None:
            nonlocal errors
            n = i
            while time.perf_counter() < deadline:
                n += clients
                start = time.perf_counter()
                if call == "runs/get":
                    r = await client.get("/api/2.2/jobs/runs/get",
                                         params={"run_id": run_ids[n % len(run_ids)]})
                elif call == "jobs/list":
                    r = await client.get("/api/2.2/jobs/list", params={"limit": 25})
                else:
                    r = await client.post("/api/2.2/jobs/run-now", json={"job_id": 1})
                latencies.append(time.perf_counter() - start)
                errors += r.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "call": call, "clients": clients, "requests": len(latencies), "errors": errors,
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
                        1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--history", type=int, default=10_000, help="recorded runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))  # the test suite's server starter
    from tests.integration.server import start, stop

    with tempfile.TemporaryDirectory(prefix="podium-bench-api-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        print(f"recording {args.history} runs ...", file=sys.stderr, flush=True)
        record_history(home, args.history)
        server = start(home, ROOT, admin="admin", PODIUM_WARM_PYTHON="false")
        try:
            run_ids = list(range(1, args.history + 1)) or [1]
            results = []
            for call in ("runs/get", "jobs/list", "run-now"):
                print(f"{call}: {args.clients} clients for {args.seconds:g} s ...",
                      file=sys.stderr, flush=True)
                results.append(asyncio.run(load(server.url, server.token, call, args.clients,
                                                args.seconds, run_ids)))
        finally:
            stop(server)
    if args.json:
        print(json.dumps(results))
    else:
        print(f"podium API load, {os.cpu_count()} cores, SQLite, {args.history} recorded runs "
              "(clients and server on the same machine)")
        for r in results:
            print(f"{r['call']:>10}: {r['per_s']:>7} req/s  p50 {r['p50_ms']:>6} ms  "
                  f"p99 {r['p99_ms']:>6} ms  ({r['requests']} requests, {r['clients']} "
                  f"clients, {r['errors']} errors)")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
