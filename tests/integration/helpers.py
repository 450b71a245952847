"""Helpers for integration tests: build jobs from dicts, run them, wait for states."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podium.services import Podium, execute_run, get_run, submit_run
from podium.spec import LoadedJob, parse_job

PODIUM = [sys.executable, "-m", "podium.cli"]


def job(tasks: list[dict[str, Any]], source_dir: Path, **fields: Any) -> LoadedJob:
    spec, warnings = parse_job({"name": fields.pop("name", "test_job"), "tasks": tasks, **fields})
    return LoadedJob(spec, warnings, "test", source_dir)


def run_job(podium: Podium, loaded: LoadedJob, **params: str) -> dict[str, Any]:
    """Submit and drive a run to its end; returns it in the runs/get shape."""
    run_id = submit_run(podium, loaded, params)
    execute_run(podium, run_id)
    return get_run(podium, run_id)


def tasks_by_key(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["task_key"]: t for t in run["tasks"]}


def results(run: dict[str, Any]) -> dict[str, str | None]:
    return {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds (state, not time, is what tests wait on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def podium_cli(
    *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.Popen[str]:
    """Start the real ``podium`` command in a subprocess."""
    return subprocess.Popen(
        [*PODIUM, *args],
        env={**os.environ, **(env or {})},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def kill(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Make sure ``proc`` is gone and its pipes closed; returns what it printed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    return out, err
