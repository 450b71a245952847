"""The scheduler against a real SQLite store, driven by an injected clock: due fires
start one run each, a restart replays nothing, downtime gives one catch-up, pausing
stops fires, continuous jobs restart and back off. One test uses a real server and the
real clock."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from podium.engine import utcnow
from podium.errors import InvalidArgument
from podium.services import Podium, execute_run, local_principal
from podium.services.jobs import create_job, set_pause_status
from podium.store import RunRow, jobs
from podium.store import runs as q
from podium.store import triggers as tq
from podium.triggers import Scheduler
from tests.integration.helpers import PODIUM, wait_for
from tests.integration.server import running

EVERY_MINUTE = "0 * * * * ?"


class Clock:
    """Time that moves only when told to; starts just after the real now, so that jobs
    stored with the real clock are in its past."""

    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def settings(name: str, command: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    return {"name": name, "tasks": [{"task_key": "t", "shell_task": {
        "command": command or ["true"]}}], **fields}


def make_job(podium: Podium, name: str, **fields: Any) -> int:
    return create_job(podium, settings(name, **fields), local_principal())


def runs_of(podium: Podium, job_id: int) -> list[RunRow]:
    with podium.sessions() as session:
        return list(reversed(q.list_runs(session, job_id=job_id, limit=1000)))


def scheduler(podium: Podium, clock: Clock, started: list[int] | None = None) -> Scheduler:
    record = started.append if started is not None else None
    return Scheduler(podium.sessions, clock=clock, on_start=record)


def changed_at(podium: Podium, job_id: int, when: datetime) -> None:
    """Move the job's last change to ``when`` (the services stamp it with the real clock)."""
    with podium.sessions.begin() as session:
        jobs.get_job(session, job_id).updated_at = when


def next_minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0) + timedelta(minutes=1)


def test_due_fires_start_exactly_one_run_each(podium: Podium) -> None:
    clock = Clock()
    a = make_job(podium, "a", schedule={"quartz_cron_expression": EVERY_MINUTE})
    b = make_job(podium, "b", schedule={"quartz_cron_expression": EVERY_MINUTE,
                                        "timezone_id": "Asia/Kolkata"})  # +05:30
    plain = make_job(podium, "plain")
    started: list[int] = []
    sched = scheduler(podium, clock, started)
    first = next_minute(clock.now)
    assert sched.tick() == first
    assert runs_of(podium, a) == [] and runs_of(podium, b) == []

    clock.set(first + timedelta(milliseconds=20))
    assert sched.tick() == first + timedelta(minutes=1)
    assert sched.tick() == first + timedelta(minutes=1)  # the same time fires once
    for job_id in (a, b):
        (run,) = runs_of(podium, job_id)
        assert run.trigger == "PERIODIC"
        assert json.loads(run.trigger_info_json or "{}") == {"fire_time": first.isoformat()}
    assert runs_of(podium, plain) == []
    assert len(started) == 2
    with podium.sessions() as session:
        state = tq.get_state(session, a)
        assert state is not None
        assert state.last_fire_at == first
        assert state.last_run_id == runs_of(podium, a)[0].run_id

    clock.set(first + timedelta(minutes=1))
    sched.tick()
    assert [len(runs_of(podium, j)) for j in (a, b)] == [2, 2]


def test_a_restart_does_not_replay_a_fire(podium: Podium) -> None:
    clock = Clock()
    job_id = make_job(podium, "a", schedule={"quartz_cron_expression": EVERY_MINUTE})
    first = next_minute(clock.now)
    clock.set(first + timedelta(seconds=2))
    scheduler(podium, clock).tick()
    assert len(runs_of(podium, job_id)) == 1
    clock.advance(seconds=3)
    assert scheduler(podium, clock).tick() == first + timedelta(minutes=1)  # a new process
    assert len(runs_of(podium, job_id)) == 1


def test_downtime_gives_one_catch_up_run(podium: Podium) -> None:
    clock = Clock()
    job_id = make_job(podium, "a", schedule={"quartz_cron_expression": EVERY_MINUTE})
    first = next_minute(clock.now)
    clock.set(first)
    scheduler(podium, clock).tick()
    # The server is down for ten and a half minutes: ten fire times pass.
    clock.set(first + timedelta(minutes=10, seconds=30))
    sched = scheduler(podium, clock)
    assert sched.tick() == first + timedelta(minutes=11)
    assert sched.tick() == first + timedelta(minutes=11)
    runs = runs_of(podium, job_id)
    assert len(runs) == 2
    assert json.loads(runs[1].trigger_info_json or "{}") == {
        "fire_time": (first + timedelta(minutes=1)).isoformat(), "catch_up": True}
    clock.set(first + timedelta(minutes=11))
    sched.tick()
    assert len(runs_of(podium, job_id)) == 3


def test_a_job_stored_while_down_waits_for_its_time(podium: Podium) -> None:
    clock = Clock()
    job_id = make_job(podium, "a", schedule={"quartz_cron_expression": "0 0 0 1 1 ?"})
    assert scheduler(podium, clock).tick() is not None
    assert runs_of(podium, job_id) == []


def test_pause_stops_fires_and_unpause_does_not_make_them_up(podium: Podium) -> None:
    clock = Clock()
    job_id = make_job(podium, "a", schedule={"quartz_cron_expression": EVERY_MINUTE})
    sched = scheduler(podium, clock)
    first = next_minute(clock.now)
    clock.set(first)
    sched.tick()
    assert set_pause_status(podium, job_id, "PAUSED", local_principal()) == ["schedule"]
    for minutes in range(1, 6):
        clock.set(first + timedelta(minutes=minutes))
        assert sched.tick() is None
    assert len(runs_of(podium, job_id)) == 1

    set_pause_status(podium, job_id, "UNPAUSED", local_principal())
    clock.advance(seconds=10)
    changed_at(podium, job_id, clock.now)  # the unpause, on the test's clock
    clock.advance(seconds=1)
    sched.tick()
    assert len(runs_of(podium, job_id)) == 1  # the fires missed while paused: none
    clock.set(next_minute(clock.now))
    sched.tick()
    assert len(runs_of(podium, job_id)) == 2


def test_pause_of_a_job_without_triggers_is_refused(podium: Podium) -> None:
    job_id = make_job(podium, "plain")
    with pytest.raises(InvalidArgument, match="no schedule, trigger or continuous"):
        set_pause_status(podium, job_id, "PAUSED", local_principal())


def test_periodic_trigger_fires_every_interval(podium: Podium) -> None:
    clock = Clock()
    job_id = make_job(podium, "p", trigger={"periodic": {"interval": 2, "unit": "HOURS"}})
    with podium.sessions() as session:
        created = jobs.get_job(session, job_id).updated_at
    sched = scheduler(podium, clock)
    assert sched.tick() == created + timedelta(hours=2)
    clock.set(created + timedelta(hours=2, milliseconds=5))
    sched.tick()
    assert [r.trigger for r in runs_of(podium, job_id)] == ["PERIODIC"]
    clock.set(created + timedelta(hours=4))
    sched.tick()
    sched.tick()
    assert len(runs_of(podium, job_id)) == 2
    clock.set(created + timedelta(hours=20))  # down for many intervals: one catch-up
    sched.tick()
    sched.tick()
    assert len(runs_of(podium, job_id)) == 3


def test_continuous_restarts_after_each_run_and_backs_off_after_failures(
    podium: Podium, tmp_path: Path
) -> None:
    ok = tmp_path / "ok"
    clock = Clock()
    job_id = make_job(podium, "c", command=["test", "-f", str(ok)],
                      continuous={"pause_status": "UNPAUSED"})
    sched = scheduler(podium, clock)

    def run_once() -> RunRow:
        """Start the next run now, drive it to its end, and catch the clock up."""
        before = len(runs_of(podium, job_id))
        sched.tick()
        runs = runs_of(podium, job_id)
        assert len(runs) == before + 1
        assert runs[-1].trigger == "CONTINUOUS"
        sched.tick()  # while it is active, nothing more starts
        assert len(runs_of(podium, job_id)) == before + 1
        execute_run(podium, runs[-1].run_id)
        clock.set(max(clock.now, utcnow()))
        return runs_of(podium, job_id)[-1]

    first = run_once()
    assert first.result_state == "FAILED"
    assert first.ended_at is not None
    # One failure: 10 s back-off from its end.
    clock.set(first.ended_at + timedelta(seconds=9))
    assert sched.tick() == first.ended_at + timedelta(seconds=10)
    assert len(runs_of(podium, job_id)) == 1
    clock.set(first.ended_at + timedelta(seconds=10))
    second = run_once()
    assert second.result_state == "FAILED"
    assert second.ended_at is not None
    # Two in a row: 20 s.
    clock.set(second.ended_at + timedelta(seconds=19))
    sched.tick()
    assert len(runs_of(podium, job_id)) == 2
    clock.set(second.ended_at + timedelta(seconds=20))
    ok.touch()
    third = run_once()
    assert third.result_state == "SUCCESS"
    # A success resets the back-off: the next run starts at once.
    fourth = run_once()
    assert fourth.result_state == "SUCCESS"
    with podium.sessions() as session:
        state = tq.get_state(session, job_id)
        assert state is not None and state.consecutive_failures == 0

    set_pause_status(podium, job_id, "PAUSED", local_principal())
    clock.advance(minutes=5)
    assert sched.tick() is None
    assert len(runs_of(podium, job_id)) == 4


@pytest.mark.slow
def test_a_real_server_fires_every_second_until_paused(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with running(home, workspace) as server, server.client() as client:
        spec = settings("every_second", schedule={
            "quartz_cron_expression": "*/1 * * * * ?", "timezone_id": "UTC"})
        job_id = client.post("/api/2.2/jobs/create", json=spec).json()["job_id"]

        def runs() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = client.get(
                "/api/2.2/jobs/runs/list", params={"job_id": job_id, "limit": 100}
            ).json().get("runs", [])
            return found

        wait_for(lambda: len(runs()) >= 3, timeout=20, what="three scheduled runs")
        assert {r["trigger"] for r in runs()} == {"PERIODIC"}
        wait_for(lambda: any(r["state"].get("result_state") == "SUCCESS" for r in runs()),
                 timeout=30, what="a scheduled run to succeed")

        paused = client.post("/api/2.2/jobs/update", json={
            "job_id": job_id, "new_settings": {"schedule": {
                "quartz_cron_expression": "*/1 * * * * ?", "pause_status": "PAUSED"}}})
        assert paused.status_code == 200, paused.text
        time.sleep(3)  # the scheduler looks at the jobs every second
        settled = len(runs())
        time.sleep(3)
        assert len(runs()) == settled

        out = subprocess.run(
            [*PODIUM, "jobs", "--host", server.url, "--token", server.token, "unpause",
             str(job_id)], env=server.env(), capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"job {job_id}: schedule UNPAUSED"
        wait_for(lambda: len(runs()) > settled, timeout=20, what="runs after unpausing")


def test_cli_pause_and_unpause_a_local_job(podium: Podium) -> None:
    job_id = make_job(podium, "nightly", trigger={"periodic": {"interval": 1, "unit": "DAYS"}})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PODIUM, "jobs", *args], capture_output=True, text=True)

    def status() -> str:
        with podium.sessions() as session:
            return str(json.loads(jobs.get_job(session, job_id).spec_json)["trigger"]
                       .get("pause_status", "UNPAUSED"))

    out = cli("pause", "nightly")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"job {job_id}: trigger PAUSED"
    assert status() == "PAUSED"
    assert cli("unpause", str(job_id)).returncode == 0
    assert status() == "UNPAUSED"
    plain = make_job(podium, "plain")
    refused = cli("pause", str(plain))
    assert refused.returncode == 2
    assert "has no schedule, trigger or continuous" in refused.stderr


@pytest.mark.slow
def test_a_real_server_runs_a_continuous_job_back_to_back(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with running(home, workspace) as server, server.client() as client:
        job_id = client.post("/api/2.2/jobs/create", json=settings(
            "forever", continuous={"pause_status": "UNPAUSED"})).json()["job_id"]

        def runs() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = client.get(
                "/api/2.2/jobs/runs/list", params={"job_id": job_id, "limit": 100}
            ).json().get("runs", [])
            return sorted(found, key=lambda r: r["run_id"])

        wait_for(lambda: len(runs()) >= 3, timeout=30, what="three continuous runs")
        found = runs()
        assert {r["trigger"] for r in found} == {"CONTINUOUS"}
        for earlier, later in itertools.pairwise(found):
            assert earlier["end_time"] <= later["start_time"]  # one at a time
        client.post("/api/2.2/jobs/update", json={
            "job_id": job_id, "new_settings": {"continuous": {"pause_status": "PAUSED"}}})
        time.sleep(3)
        settled = len(runs())
        time.sleep(3)
        assert len(runs()) == settled


def test_two_schedulers_on_one_store_fire_a_time_once(podium: Podium) -> None:
    clock = Clock()
    job_id = make_job(podium, "a", schedule={"quartz_cron_expression": EVERY_MINUTE})
    one, two = scheduler(podium, clock), scheduler(podium, clock)
    clock.set(next_minute(clock.now))
    # Both decide before either fires (two servers in the same instant).
    due_one, _ = one._plan(clock.now)
    due_two, _ = two._plan(clock.now)
    assert len(one._fire_batch(due_one)) == 1
    assert two._fire_batch(due_two) == []
    assert len(runs_of(podium, job_id)) == 1
    # The same for a later fire, once a state row exists.
    clock.advance(minutes=1)
    due_one, _ = one._plan(clock.now)
    due_two, _ = two._plan(clock.now)
    assert two._fire_batch(due_two + due_two) != []  # a batch that fails goes one by one
    assert one._fire_batch(due_one) == []
    assert len(runs_of(podium, job_id)) == 2
