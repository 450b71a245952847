"""A real ``podium server`` process on a free loopback port, for API tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx

from tests.integration.helpers import PODIUM


@dataclass
class Server:
    url: str
    token: str  # an admin's (the first user made is an admin)
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def token_for(self, user: str) -> str:
        """A new token for ``user`` (made a plain user, since the admin exists)."""
        out = subprocess.run([*PODIUM, "token", "create", "--user", user], env=self.env(),
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def env(self) -> dict[str, str]:
        return {**os.environ, "PODIUM_HOME": str(self.home)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(home: Path, cwd: Path, admin: str = "admin", **env: str) -> Server:
    """Start a server on ``home`` (made if new) with the workspace ``cwd``; wait until it
    answers. The caller stops it (``stop``)."""
    home.mkdir(parents=True, exist_ok=True)
    environ = {**os.environ, "PODIUM_HOME": str(home), **env}
    token = subprocess.run([*PODIUM, "token", "create", "--user", admin], env=environ,
                           capture_output=True, text=True, check=True).stdout.strip()
    port = free_port()
    log = home / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*PODIUM, "server", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd, env=environ, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", token, home, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.url}/api/2.2/jobs/list", timeout=1).status_code == 401:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop(server)
    raise AssertionError(f"the server did not answer within 60 s:\n{log.read_text()}")


def stop(server: Server, sig: signal.Signals = signal.SIGTERM) -> int:
    """Stop the server with ``sig``; its exit code."""
    if server.process.poll() is None:
        server.process.send_signal(sig)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


@contextmanager
def running(home: Path, cwd: Path, **env: str) -> Iterator[Server]:
    server = start(home, cwd, **env)
    try:
        yield server
    finally:
        stop(server)


@contextmanager
def running_cleanly(home: Path, cwd: Path, **env: str) -> Iterator[Server]:
    """``running``, then fail if the server's log holds a traceback: no request may have
    failed inside the server, whatever the tests saw of it."""
    with running(home, cwd, **env) as server:
        yield server
    log = server.log.read_text()
    assert "Traceback" not in log, log


# ---- the Jobs API calls the server tests make ---------------------------------------------
API = "/api/2.2/jobs"


def create_job(client: httpx.Client, name: str, tasks: list[dict[str, Any]],
               **fields: Any) -> int:
    answer = client.post(f"{API}/create", json={"name": name, "tasks": tasks, **fields})
    assert answer.status_code == 200, answer.text
    job_id: int = answer.json()["job_id"]
    return job_id


def run_now(client: httpx.Client, job_id: int) -> int:
    answer = client.post(f"{API}/run-now", json={"job_id": job_id})
    assert answer.status_code == 200, answer.text
    run_id: int = answer.json()["run_id"]
    return run_id


def fetch(client: httpx.Client, run_id: int) -> dict[str, Any]:
    answer = client.get(f"{API}/runs/get", params={"run_id": run_id})
    assert answer.status_code == 200, answer.text
    run: dict[str, Any] = answer.json()
    return run
