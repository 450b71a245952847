"""``podium server`` as a process: clean stops on SIGTERM/Ctrl-C, resuming after a stop
or a SIGKILL, living beside the CLI on one home, concurrency limits, many runs at once,
repair through the API, a port in use, and what it prints on startup."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from podium.core import TERMINAL, LifeCycleState
from podium.services import Podium, get_run
from podium.store import runs as q
from tests.integration import server as srv
from tests.integration.helpers import (
    PODIUM,
    kill,
    pid_alive,
    podium_cli,
    results,
    tasks_by_key,
    wait_for,
)
from tests.integration.server import create_job, fetch, run_now

API = "/api/2.2/jobs"


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []




def ended(run: dict[str, Any]) -> bool:
    return LifeCycleState(run["state"]["life_cycle_state"]) in TERMINAL


def wait_until_ended(client: httpx.Client, run_id: int) -> dict[str, Any]:
    wait_for(lambda: ended(fetch(client, run_id)), what=f"run {run_id} to end")
    return fetch(client, run_id)


def marked_processes(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker`` (``pgrep -f``)."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def attempt_pid(home: Path, run_id: int, task_key: str, number: int) -> int | None:
    """The process group leader of an attempt, from the run's work folder (None: not
    recorded yet)."""
    path = home / "work" / str(run_id) / "pids"
    pids = path.read_text().splitlines() if path.exists() else []
    found = [ln.split()[1] for ln in pids if ln.split()[0] == f"{task_key}.{number}"]
    return int(found[-1]) if found else None


Transition = tuple[str | None, int | None, str, str | None]


def transitions(podium: Podium, run_id: int) -> list[Transition]:
    """(task key, attempt number, life cycle state, result state) of each recorded change."""
    with podium.sessions() as session:
        return [(t.task_key, t.attempt_number, t.life_cycle_state, t.result_state)
                for t in q.get_transitions(session, run_id)]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The folder the server starts in: relative task paths of API jobs resolve here."""
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def marker() -> Iterator[str]:
    """A word unique to the test, for the command lines of the processes it starts; any
    still running at the end are killed (the test failed)."""
    word = f"podium-test-{uuid.uuid4().hex}"
    yield word
    for pid in marked_processes(word):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ---- stopping and resuming ---------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["sigterm", "ctrl-c", "sigkill"])
def test_a_stopped_server_leaves_the_run_whole_and_a_new_one_finishes_it(
    sig: signal.Signals, home: Path, workspace: Path, podium: Podium, marker: str
) -> None:
    tasks: list[dict[str, Any]] = [
        {"task_key": "sleepy", "shell_task": sh(
            "echo ran >> sleepy.count; if [ -f resume ]; then exit 0; fi; "
            f"python -c 'import time; time.sleep(60)' {marker}"
        )},
        {"task_key": "after", "depends_on": [{"task_key": "sleepy"}],
         "shell_task": sh("echo ran >> after.count")},
    ]
    first = srv.start(home, workspace)
    try:
        with first.client() as client:
            run_id = run_now(client, create_job(client, "sleeps", tasks))
            wait_for(lambda: bool(marked_processes(marker))
                     and attempt_pid(home, run_id, "sleepy", 0) is not None,
                     what="sleepy to be sleeping")
            leader = attempt_pid(home, run_id, "sleepy", 0)
            assert leader is not None
            before = transitions(podium, run_id)
    finally:
        code = srv.stop(first, sig)

    if sig is signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert marked_processes(marker)  # in a session of its own: it outlives the server
    else:
        assert code == 0, first.log.read_text()
        # A clean stop takes its processes with it.
        assert not pid_alive(leader)
        assert marked_processes(marker) == []
    run = get_run(podium, run_id)
    assert run["state"]["life_cycle_state"] == "RUNNING"  # not failed, not lost
    assert "result_state" not in run["state"]
    assert {k: t["state"]["life_cycle_state"] for k, t in tasks_by_key(run).items()} == {
        "sleepy": "RUNNING", "after": "BLOCKED"}
    assert (None, None, "RUNNING", None) in before
    assert ("sleepy", 0, "RUNNING", None) in before
    assert transitions(podium, run_id) == before  # all committed, nothing made up after

    (workspace / "resume").touch()
    with srv.running(home, workspace) as second, second.client() as client:
        run = wait_until_ended(client, run_id)
    assert run["state"]["result_state"] == "SUCCESS", run
    sleepy = tasks_by_key(run)["sleepy"]
    lost, rerun = sleepy["attempts"]
    assert lost["state"]["life_cycle_state"] == "INTERNAL_ERROR"
    assert lost["state"]["state_message"].startswith("lost: ")
    if sig is signal.SIGKILL:
        assert "its leftover processes were killed" in lost["state"]["state_message"]
    # max_retries is 0: the re-run did not count as a retry.
    assert rerun["state"]["result_state"] == "SUCCESS"
    assert lines(workspace / "sleepy.count") == ["ran", "ran"]
    assert lines(workspace / "after.count") == ["ran"]
    assert marked_processes(marker) == []  # a killed server's leftover was killed too
    assert not pid_alive(leader)


# ---- the CLI beside a server -------------------------------------------------------------


def test_a_cli_run_beside_a_server_is_run_by_the_cli_only(
    home: Path, workspace: Path, podium: Podium, tmp_path: Path
) -> None:
    jobdir = tmp_path / "cli-job"
    jobdir.mkdir()
    spec = jobdir / "job.yaml"
    spec.write_text(yaml.safe_dump({"name": "from_the_cli", "tasks": [
        {"task_key": "first",
         "shell_task": sh("echo ran >> first.count; while [ ! -f go ]; do sleep 0.05; done")},
        {"task_key": "second", "depends_on": [{"task_key": "first"}],
         "shell_task": sh("echo ran >> second.count")},
    ]}))
    with srv.running(home, workspace) as server, server.client() as client:
        cli = podium_cli("run", str(spec), cwd=jobdir)
        try:
            wait_for(lambda: (jobdir / "first.count").exists(), what="the CLI's first task")
            run_id = max(r["run_id"] for r in client.get(f"{API}/runs/list").json()["runs"])
            with podium.sessions() as session:
                assert q.get_run(session, run_id).engine_id == (
                    f"{socket.gethostname()}:{cli.pid}")
            # A run started through the API after the CLI's means the server has looked
            # at every unfinished run since; it must have left the CLI's alone.
            other = run_now(client, create_job(client, "quick", [
                {"task_key": "only", "shell_task": sh("true")}]))
            assert wait_until_ended(client, other)["state"]["result_state"] == "SUCCESS"
            with podium.sessions() as session:
                assert q.get_run(session, run_id).engine_id == (
                    f"{socket.gethostname()}:{cli.pid}")
            (jobdir / "go").touch()
            assert cli.wait(timeout=60) == 0, cli.communicate()
        finally:
            kill(cli)
        run = fetch(client, run_id)
    assert results(run) == {"first": "SUCCESS", "second": "SUCCESS"}
    assert [len(t["attempts"]) for t in run["tasks"]] == [1, 1]
    assert lines(jobdir / "first.count") == ["ran"]
    assert lines(jobdir / "second.count") == ["ran"]


# ---- the API's runs ----------------------------------------------------------------------


def test_max_concurrent_runs_skips_a_second_run_now(home: Path, workspace: Path) -> None:
    with srv.running(home, workspace) as server, server.client() as client:
        job_id = create_job(client, "one_at_a_time", [
            {"task_key": "wait", "shell_task": sh("while [ ! -f release ]; do sleep 0.05; done")}
        ], max_concurrent_runs=1)
        running, skipped = run_now(client, job_id), run_now(client, job_id)
        run = wait_until_ended(client, skipped)
        assert run["state"]["life_cycle_state"] == "SKIPPED"
        assert run["state"]["result_state"] == "MAXIMUM_CONCURRENT_RUNS_REACHED"
        assert run["status"]["termination_details"]["code"] == "MAX_CONCURRENT_RUNS_EXCEEDED"
        (workspace / "release").touch()
        assert wait_until_ended(client, running)["state"]["result_state"] == "SUCCESS"


def test_many_runs_at_once_all_finish_each_task_once(home: Path, workspace: Path) -> None:
    count = 20

    def record(key: str) -> dict[str, Any]:
        return sh(f'echo "$PODIUM_RUN_ID" >> {key}.runs')

    with srv.running(home, workspace) as server, server.client() as client:
        job_id = create_job(client, "many", [
            {"task_key": "a", "shell_task": record("a")},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": record("b")},
            {"task_key": "c", "depends_on": [{"task_key": "a"}], "shell_task": record("c")},
        ], max_concurrent_runs=count)
        run_ids = [run_now(client, job_id) for _ in range(count)]
        finished = [wait_until_ended(client, run_id) for run_id in run_ids]
    assert [r["state"]["result_state"] for r in finished] == ["SUCCESS"] * count
    for key in "abc":
        assert sorted(int(x) for x in lines(workspace / f"{key}.runs")) == sorted(run_ids)


def test_a_repair_through_the_api_is_taken_up_and_finishes(home: Path, workspace: Path) -> None:
    with srv.running(home, workspace) as server, server.client() as client:
        job_id = create_job(client, "flaky", [
            {"task_key": "flaky", "shell_task": sh("echo ran >> flaky.count; [ -f fixed ]")},
            {"task_key": "after", "depends_on": [{"task_key": "flaky"}],
             "shell_task": sh("echo ran >> after.count")},
        ])
        run_id = run_now(client, job_id)
        run = wait_until_ended(client, run_id)
        assert results(run) == {"flaky": "FAILED", "after": "UPSTREAM_FAILED"}
        (workspace / "fixed").touch()
        answer = client.post(f"{API}/runs/repair",
                             json={"run_id": run_id, "rerun_all_failed_tasks": True})
        assert answer.status_code == 200, answer.text
        assert answer.json()["repair_id"] == 1
        run = wait_until_ended(client, run_id)
    assert run["state"]["result_state"] == "SUCCESS", run
    assert results(run) == {"flaky": "SUCCESS", "after": "SUCCESS"}
    assert run["repair_count"] == 1
    assert lines(workspace / "flaky.count") == ["ran", "ran"]
    assert lines(workspace / "after.count") == ["ran"]


# ---- starting --------------------------------------------------------------------------


def test_a_port_in_use_is_a_clear_error(home: Path, workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([*PODIUM, "server", "--host", "127.0.0.1", "--port", str(port)],
                             cwd=workspace, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"port {port} on 127.0.0.1 is in use; pick another with --port" in out.stderr
    assert "Traceback" not in out.stderr


def test_startup_says_where_it_serves_and_how_to_get_a_token(
    home: Path, workspace: Path
) -> None:
    with srv.running(home, workspace) as server:
        printed = server.log.read_text()
    assert server.url in printed
    assert str(home) in printed
    assert "podium token create" in printed
