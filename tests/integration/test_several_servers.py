"""Two real ``podium server`` processes on one PostgreSQL database (issue #7): they share
the runs, each run driven by exactly one of them; a schedule fires once per time and a
batch of arriving files starts one run, not one per server; queued runs leave the queue
one at a time, in order; when the server driving a run is killed (SIGKILL) or stalls
past its lease (SIGSTOP), the other takes the run over, retries the attempt that was in
flight and re-runs nothing that succeeded. The last tests check the claim and the lease
in one process, on SQLite and PostgreSQL.

The servers share one PODIUM_HOME, as servers on one host (or on hosts sharing a file
system) should: attempt logs and work folders are then where every server looks, and a
takeover finds the pids the dead server's attempts left and kills them.

Each task appends "run_id task_key attempt_number server_pid" to a file ($PPID of the
task's shell is the server that started it), so the tests count what really ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from podium.core import TERMINAL, LifeCycleState
from podium.engine import Engine, utcnow
from podium.engine.liveness import LeaseLost
from podium.services import Podium, local_principal, save_job
from podium.services.runs import run_now as start_run
from podium.store import runs as q
from podium.store.engine import make_engine, make_sessions
from tests.conftest import POSTGRES_URL, missing
from tests.integration import server as srv
from tests.integration.helpers import job, pid_alive, wait_for
from tests.integration.server import create_job, fetch, run_now

API = "/api/2.2/jobs"
Line = tuple[int, str, int, int]  # run_id, task_key, attempt_number, server pid


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test alone, dropped at the end."""
    try:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"podium_servers_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server means "not available"
        missing("postgres", f"cannot create a database at {POSTGRES_URL}: {exc}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the servers' database, to read what they recorded."""
    engine = make_engine(database_url)
    yield make_sessions(engine)
    engine.dispose()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@contextlib.contextmanager
def two_servers(home: Path, workspace: Path, url: str, **env: str
                ) -> Iterator[tuple[srv.Server, ...]]:
    """Two servers on one home and one database (with ``env`` besides); stopped (and let
    go on, if stopped by SIGSTOP) at the end."""
    servers: list[srv.Server] = []
    try:
        for _ in range(2):
            servers.append(srv.start(home, workspace, PODIUM_DATABASE_URL=url,
                                     PODIUM_MAX_PARALLEL_TASKS="8", **env))
        yield tuple(servers)
    finally:
        for server in servers:
            with contextlib.suppress(ProcessLookupError):
                server.process.send_signal(signal.SIGCONT)
            srv.stop(server)


def record(log: Path) -> str:
    return f'echo "$PODIUM_RUN_ID $PODIUM_TASK_KEY $PODIUM_ATTEMPT_NUMBER $PPID" >> {log}'


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def lines(log: Path) -> list[Line]:
    out: list[Line] = []
    for text in (log.read_text().splitlines() if log.exists() else []):
        run_id, key, number, pid = text.split()
        out.append((int(run_id), key, int(number), int(pid)))
    return out




def wait_until_ended(client: httpx.Client, run_id: int, timeout: float = 90
                     ) -> dict[str, Any]:
    wait_for(lambda: LifeCycleState(fetch(client, run_id)["state"]["life_cycle_state"])
             in TERMINAL, timeout=timeout, what=f"run {run_id} to end")
    return fetch(client, run_id)


@pytest.mark.postgres
@pytest.mark.slow
def test_runs_submitted_to_two_servers_run_each_task_once_by_one_server(
    home: Path, workspace: Path, database_url: str
) -> None:
    count = 20
    log = workspace / "ran.txt"
    with two_servers(home, workspace, database_url) as servers:
        clients = [s.client() for s in servers]
        job_id = create_job(clients[0], "shared", [
            {"task_key": "a", "shell_task": sh(record(log))},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": sh(record(log))},
            {"task_key": "c", "depends_on": [{"task_key": "a"}], "shell_task": sh(record(log))},
        ], max_concurrent_runs=count)
        run_ids = [run_now(clients[i % 2], job_id) for i in range(count)]
        finished = [wait_until_ended(clients[i % 2], r) for i, r in enumerate(run_ids)]
        pids = {s.process.pid for s in servers}
        for client in clients:
            client.close()
    assert [r["state"]["result_state"] for r in finished] == ["SUCCESS"] * count
    ran = lines(log)
    # Every task of every run ran exactly once, as its first attempt...
    assert sorted((r, k, n) for r, k, n, _ in ran) == sorted(
        (r, k, 0) for r in run_ids for k in "abc")
    # ... and all the tasks of a run were started by one and the same server.
    drivers = {r: {pid for run_id, _, _, pid in ran if run_id == r} for r in run_ids}
    assert all(len(d) == 1 and d <= pids for d in drivers.values()), drivers
    shares = {pid: sum(1 for d in drivers.values() if d == {pid}) for pid in pids}
    print(f"runs driven by each server: {shares}")


@pytest.mark.postgres
@pytest.mark.slow
def test_a_per_second_schedule_fires_once_per_second_across_two_servers(
    home: Path, workspace: Path, database_url: str, store: sessionmaker[Session]
) -> None:
    cron = "*/1 * * * * ?"
    with two_servers(home, workspace, database_url) as (first, second), \
            first.client() as client:
        job_id = create_job(client, "every_second", [
            {"task_key": "t", "shell_task": sh("true")}],
            schedule={"quartz_cron_expression": cron, "timezone_id": "UTC"},
            max_concurrent_runs=100)

        def fire_times() -> list[str]:
            with store() as session:
                runs = q.list_runs(session, job_id=job_id, limit=1000)
                return [json.loads(r.trigger_info_json or "{}").get("fire_time", "")
                        for r in runs]

        wait_for(lambda: len(fire_times()) >= 6, timeout=40, what="six scheduled runs")
        with second.client() as other:
            paused = other.post(f"{API}/update", json={"job_id": job_id, "new_settings": {
                "schedule": {"quartz_cron_expression": cron, "pause_status": "PAUSED"}}})
            assert paused.status_code == 200, paused.text
        time.sleep(2)  # a fire under way when it was paused still commits
        times = fire_times()
    assert "" not in times
    assert len(times) == len(set(times)), sorted(times)  # no time fired twice


@pytest.mark.postgres
@pytest.mark.slow
def test_files_landing_start_one_run_per_batch_across_two_servers(
    home: Path, workspace: Path, database_url: str, store: sessionmaker[Session]
) -> None:
    inbox = workspace / "inbox"
    inbox.mkdir()
    with two_servers(home, workspace, database_url) as servers, servers[0].client() as client:
        job_id = create_job(client, "on_files", [
            {"task_key": "t", "shell_task": sh("true")}],
            trigger={"file_arrival": {"url": f"file://{inbox}",
                                      "wait_after_last_change_seconds": 1}},
            max_concurrent_runs=10)

        def files_by_run() -> list[list[str]]:
            with store() as session:
                runs = q.list_runs(session, job_id=job_id, limit=100)
                return [json.loads(r.trigger_info_json or "{}")["files"] for r in runs]

        written: list[str] = []
        for batch in range(3):
            for name in ("orders", "clicks"):
                path = inbox / f"{name}-{batch}.csv"
                path.write_text("id\n1\n")
                written.append(str(path))
            wait_for(lambda: sorted(f for fs in files_by_run() for f in fs) == sorted(written),
                     timeout=30, what=f"batch {batch} to start a run")
        time.sleep(2)  # a second run for a batch would start within this
        started = files_by_run()
    assert len(started) == 3, started  # one run per batch, every file in exactly one
    assert sorted(f for fs in started for f in fs) == sorted(written)
    for server in servers:
        assert "Traceback" not in server.log.read_text()


@pytest.mark.postgres
@pytest.mark.slow
def test_queued_runs_of_two_servers_start_one_at_a_time_in_order(
    home: Path, workspace: Path, database_url: str
) -> None:
    log = workspace / "order.txt"
    step = f'echo "start $PODIUM_RUN_ID" >> {log}; sleep 0.3; echo "end $PODIUM_RUN_ID" >> {log}'
    with two_servers(home, workspace, database_url) as servers:
        clients = [s.client() for s in servers]
        job_id = create_job(clients[0], "one_at_a_time", [
            {"task_key": "t", "shell_task": sh(step)}],
            max_concurrent_runs=1, queue={"enabled": True})
        run_ids = [run_now(clients[i % 2], job_id) for i in range(6)]
        finished = [wait_until_ended(clients[i % 2], r) for i, r in enumerate(run_ids)]
        for client in clients:
            client.close()
    assert [r["state"]["result_state"] for r in finished] == ["SUCCESS"] * 6
    # Each run left the queue once, after the one before it ended, oldest first.
    assert log.read_text().split("\n")[:-1] == [
        f"{word} {run}" for run in run_ids for word in ("start", "end")]


def long_job(client: httpx.Client, log: Path, release: Path) -> int:
    """a -> b -> c; b waits for ``release`` to exist."""
    wait = f"{record(log)}; while [ ! -e {release} ]; do sleep 0.1; done"
    return create_job(client, "long", [
        {"task_key": "a", "shell_task": sh(record(log))},
        {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": sh(wait)},
        {"task_key": "c", "depends_on": [{"task_key": "b"}], "shell_task": sh(record(log))},
    ])


def attempt_pid(home: Path, run_id: int, task_key: str, number: int) -> int | None:
    """The process group leader of an attempt, from the run's work folder."""
    path = home / "work" / str(run_id) / "pids"
    pids = path.read_text().splitlines() if path.exists() else []
    found = [ln.split()[1] for ln in pids if ln.split()[0] == f"{task_key}.{number}"]
    return int(found[-1]) if found else None


def started(log: Path, key: str, number: int) -> int | None:
    """The pid of the server that started attempt ``number`` of task ``key``."""
    return next((pid for _, k, n, pid in lines(log) if (k, n) == (key, number)), None)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigkill", "sigstop"])
def test_the_other_server_takes_over_a_run_whose_server_died_or_stalled(
    home: Path, workspace: Path, database_url: str, store: sessionmaker[Session], how: str
) -> None:
    log, release = workspace / "ran.txt", workspace / "release"
    with two_servers(home, workspace, database_url) as servers:
        with servers[0].client() as client:
            run_id = run_now(client, long_job(client, log, release))
        wait_for(lambda: started(log, "b", 0) is not None, what="task b to start")
        driver = next(s for s in servers if s.process.pid == started(log, "b", 0))
        other = next(s for s in servers if s is not driver)
        leftover = attempt_pid(home, run_id, "b", 0)
        assert leftover is not None and pid_alive(leftover)
        began = time.monotonic()
        if how == "sigkill":
            driver.process.kill()
            driver.process.wait()  # reaped, as a supervisor would: its pid is gone
        else:  # stalled: its pid lives on, its heartbeats stop
            driver.process.send_signal(signal.SIGSTOP)

        # The other server takes the run over and retries b (a succeeded: not again).
        wait_for(lambda: started(log, "b", 1) is not None, timeout=60,
                 what="the other server to retry b")
        print(f"{how}: b retried {time.monotonic() - began:.1f} s after the signal")
        assert started(log, "b", 1) == other.process.pid
        assert not pid_alive(leftover)  # killed by the server that took over
        if how == "sigstop":
            driver.process.send_signal(signal.SIGCONT)
            # Woken, it finds the run taken and stops driving it, recording nothing.
            wait_for(lambda: "stopped driving run" in driver.log.read_text(), timeout=30,
                     what="the stalled server to let go of the run")
        release.touch()
        with other.client() as client:
            run = wait_until_ended(client, run_id)
        if how == "sigstop":
            assert driver.process.poll() is None  # it lives on and serves
    assert run["state"]["result_state"] == "SUCCESS"
    assert sorted((k, n) for r, k, n, _ in lines(log) if r == run_id) == [
        ("a", 0), ("b", 0), ("b", 1), ("c", 0)]
    assert started(log, "c", 0) == other.process.pid
    with store() as session:
        attempts = [(a.task_key, a.attempt_number, a.life_cycle_state, a.result_state,
                     a.state_message) for a in q.get_attempts(session, run_id)]
    assert [(k, n, life, result) for k, n, life, result, _ in attempts] == [
        ("a", 0, "TERMINATED", "SUCCESS"), ("b", 0, "INTERNAL_ERROR", None),
        ("b", 1, "TERMINATED", "SUCCESS"), ("c", 0, "TERMINATED", "SUCCESS")]
    assert attempts[1][4].startswith("lost:") and "killed" in attempts[1][4]



# ---- the claim and the lease, in one process on each backend ------------------------------


def unclaimed_run(podium: Podium, tmp_path: Path, command: str = "true") -> int:
    job_id = save_job(podium, job([{"task_key": "t", "shell_task": sh(command)}], tmp_path))
    return start_run(podium, job_id, local_principal())


def test_of_two_engines_that_saw_the_same_dead_holder_one_claims_the_run(
    any_podium: Podium, tmp_path: Path
) -> None:
    run_id = unclaimed_run(any_podium, tmp_path)
    now = utcnow()
    with any_podium.sessions() as session:
        row = q.get_run(session, run_id)
        seen = (row.engine_id, row.heartbeat_at)
    with any_podium.sessions.begin() as session:
        assert q.claim_run(session, run_id, "host-a:1", *seen, now)
    with any_podium.sessions.begin() as session:  # the same read, too late
        assert not q.claim_run(session, run_id, "host-b:2", *seen, now)
    with any_podium.sessions.begin() as session:
        assert q.hold_run(session, run_id, "host-a:1", now)
        assert not q.hold_run(session, run_id, "host-b:2", now)
        assert q.beat(session, [run_id], "host-a:1", now) == []
        assert q.beat(session, [run_id], "host-b:2", now) == [run_id]
        assert q.get_run(session, run_id).engine_id == "host-a:1"


def test_an_engine_that_lost_its_run_stops_and_records_nothing_more(
    any_podium: Podium, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    run_id = unclaimed_run(any_podium, tmp_path, f"touch {started}; sleep 60")
    engine = Engine(any_podium.sessions, any_podium.settings, poll_seconds=0.1)

    async def scenario() -> None:
        driving = asyncio.ensure_future(engine.execute(run_id))
        await asyncio.to_thread(wait_for, started.exists, 30, "the task to start")
        with any_podium.sessions.begin() as session:  # another server took it over
            q.update_run(session, run_id, engine_id="elsewhere:1", heartbeat_at=utcnow())
        with pytest.raises(LeaseLost):
            await driving
        await engine.close()

    asyncio.run(scenario())
    with any_podium.sessions() as session:
        run = q.get_run(session, run_id)
        attempts = q.get_attempts(session, run_id)
    assert (run.life_cycle_state, run.engine_id) == ("RUNNING", "elsewhere:1")
    # Its attempt was stopped, but that is for the new holder to find and record.
    assert [a.life_cycle_state for a in attempts] == ["RUNNING"]
    pid = attempt_pid(any_podium.settings.home, run_id, "t", 0)
    assert pid is not None and not pid_alive(pid)
