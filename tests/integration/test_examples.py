"""The small examples in examples/ run as their comments say."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.integration.helpers import PODIUM, kill, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def podium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODIUM, *args], capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_fan_out_calls_the_api_once_per_city(home: Path) -> None:
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "http" / "api.py"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def up() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(up, what="the demo API")
        result = podium(
            "run",
            str(EXAMPLES / "http_fan_out.yaml"),
            "--param",
            f"api_url=http://127.0.0.1:{port}",
            "-o",
            "json",
        )
    finally:
        kill(api)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    cities = {t["task_key"]: t for t in run["tasks"]}["list_cities"]["task_values"]["cities"]
    listed = json.loads(podium("runs", "list", "-o", "json").stdout)["runs"]
    children = [r for r in listed if r.get("parent_run_id") == run["run_id"]]
    assert len(children) == len(cities) == 5
    assert all(c["state"]["result_state"] == "SUCCESS" for c in children)


def test_run_job_chain_runs_the_stored_jobs(home: Path) -> None:
    for name in ("extract", "report"):
        created = podium("jobs", "create", str(EXAMPLES / "chain" / f"{name}.yaml"))
        assert created.returncode == 0, created.stderr
    result = podium("run", str(EXAMPLES / "run_job_chain.yaml"), "--param", "day=2026-03-04")
    assert result.returncode == 0, result.stderr
    listed = json.loads(podium("runs", "list", "-o", "json").stdout)["runs"]
    names = sorted(r["run_name"] for r in listed if r.get("parent_run_id"))
    assert names == ["chain_extract", "chain_report"]
    child = min(r["run_id"] for r in listed if r["run_name"] == "chain_report")
    logs = podium("runs", "logs", str(child), "report", "--no-timestamps")
    assert logs.stdout == "reporting on 2026-03-04\n"
    jobs = json.loads(podium("jobs", "list", "-o", "json").stdout)["jobs"]
    assert [j["settings"]["name"] for j in jobs] == [
        "chain_extract",
        "chain_report",
        "run_job_chain",
    ]
