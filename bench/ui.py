"""``python -m bench.ui``: how fast the UI's pages answer for a big job with a long history.

Records, on a fresh SQLite home, one job of ``--tasks`` condition tasks (chains with fans:
no process starts) and ``--runs`` finished runs of it (as ``bench.api`` records them),
starts a real ``podium server``, runs the job once through it (so the newest run has real
attempts for its graph and Gantt), signs in, then times ``--requests`` sequential GETs of
each page (the server's whole answer, on loopback) and prints the median and p95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

from bench.api import ROOT, record_history

FAN = 10  # each hub task starts a fan of FAN - 1 tasks, and the next hub


def wide_job(tasks: int) -> dict[str, Any]:
    """A job of ``tasks`` condition tasks: hubs in a chain, each with a fan after it."""
    out: list[dict[str, Any]] = []
    for i in range(tasks):
        task: dict[str, Any] = {
            "task_key": f"t{i:03d}",
            "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"},
        }
        if i:
            upstream = i - FAN if i % FAN == 0 else i - i % FAN
            task["depends_on"] = [{"task_key": f"t{upstream:03d}"}]
        out.append(task)
    return {"name": "bench-ui", "max_concurrent_runs": 10, "tasks": out}


def timed(client: httpx.Client, path: str, requests: int) -> dict[str, Any]:
    times: list[float] = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}\n{response.text[:500]}")
        size = len(response.content)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"page": path, "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(p95, 1), "requests": requests, "kb": round(size / 1024, 1)}


def run_once(api: httpx.Client, job_id: int) -> int:
    """Run the job through the server's engine; its run_id once it has ended."""
    run_id = int(api.post("/api/2.2/jobs/run-now", json={"job_id": job_id}).json()["run_id"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = api.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()["state"]
        if state["life_cycle_state"] in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
            if state.get("result_state") != "SUCCESS":
                raise SystemExit(f"run {run_id} of the bench job: {state}")
            return run_id
        time.sleep(0.1)
    raise SystemExit(f"run {run_id} of the bench job did not end within 300 s")


def measure(tasks: int, runs: int, requests: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))  # the test suite's server starter
    from tests.integration.server import start, stop

    with tempfile.TemporaryDirectory(prefix="podium-bench-ui-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        print(f"recording {runs} runs of a job of {tasks} tasks ...", file=sys.stderr,
              flush=True)
        job_id = record_history(home, runs, wide_job(tasks))
        server = start(home, ROOT, admin="admin", PODIUM_WARM_PYTHON="false")
        try:
            with server.client() as api:
                latest = run_once(api, job_id)
            with httpx.Client(base_url=server.url, timeout=60) as client:
                signed = client.post("/sign-in", data={"token": server.token, "next": "/jobs"})
                if signed.status_code != 303:
                    raise SystemExit(f"sign-in: {signed.status_code}")
                pages = ["/jobs", f"/jobs/{job_id}", "/runs", f"/runs/{latest}"]
                for path in pages:  # warm: templates compiled, caches filled
                    client.get(path)
                return [timed(client, path, requests) for path in pages]
        finally:
            stop(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__)
    parser.add_argument("--tasks", type=int, default=200, help="tasks of the job")
    parser.add_argument("--runs", type=int, default=10_000, help="recorded runs of it")
    parser.add_argument("--requests", type=int, default=20, help="GETs of each page")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.tasks, args.runs, args.requests)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"podium UI pages, SQLite, one job of {args.tasks} tasks with {args.runs} "
          f"recorded runs ({args.requests} sequential requests each, on loopback)")
    for r in results:
        print(f"{r['page']:>12}: median {r['median_ms']:>7} ms  p95 {r['p95_ms']:>7} ms  "
              f"({r['kb']} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
