"""Holding runs back: ``max_concurrent_runs`` with ``queue.enabled`` queues runs that start
strictly in order as places free (through a real server, a real ``podium run`` and the
engine itself), a disabled queue skips as before, a queued run cancels without running,
and tasks waiting for one of the ``max_parallel_tasks`` slots say so."""

from __future__ import annotations

import asyncio
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from podium.core import LifeCycleState, ResultState
from podium.engine import Engine, RunEvent, utcnow
from podium.engine.queueing import take_from_queue
from podium.services import Podium, cancel_run, get_run, submit_run
from podium.store import runs as q
from tests.integration import server as srv
from tests.integration.helpers import job, kill, podium_cli, tasks_by_key, wait_for
from tests.integration.server import create_job, fetch, run_now

API = "/api/2.2/jobs"
QUEUE = {"max_concurrent_runs": 1, "queue": {"enabled": True}}
FULL = "waiting: the job already runs 1 of 1 allowed at once (max_concurrent_runs)"


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def held(folder: Path) -> dict[str, Any]:
    """A task that notes its run's start, waits for ``release.<run_id>`` in ``folder``,
    then notes its end."""
    return sh(f'cd {folder}; echo "start $PODIUM_RUN_ID" >> order; '
              'while [ ! -f "release.$PODIUM_RUN_ID" ]; do sleep 0.05; done; '
              'echo "end $PODIUM_RUN_ID" >> order')




def life(client: httpx.Client, run_id: int) -> str:
    state: str = fetch(client, run_id)["state"]["life_cycle_state"]
    return state


def wait_life(client: httpx.Client, run_id: int, *states: str) -> dict[str, Any]:
    wait_for(lambda: life(client, run_id) in states, what=f"run {run_id} to be {states}")
    return fetch(client, run_id)


def assert_queued(run: dict[str, Any], reason: str = FULL) -> None:
    assert run["state"]["life_cycle_state"] == "QUEUED", run
    assert run["state"]["state_message"] == reason
    assert run["state"]["queue_reason"] == reason
    assert run["status"]["state"] == "QUEUED"
    assert run["status"]["queue_details"] == {"code": "MAX_CONCURRENT_RUNS_REACHED",
                                              "message": reason}
    assert all(t["attempts"] == [] for t in run["tasks"])


def order(folder: Path) -> list[str]:
    path = folder / "order"
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


# ---- through a real server ---------------------------------------------------------------


def test_queued_runs_start_one_at_a_time_in_order(home: Path, workspace: Path) -> None:
    with srv.running(home, workspace) as server, server.client() as client:
        job_id = create_job(client, "queued",
                            [{"task_key": "hold", "shell_task": held(workspace)}], **QUEUE)
        first, second, third = (run_now(client, job_id) for _ in range(3))
        wait_life(client, first, "RUNNING")
        assert_queued(fetch(client, second))
        assert_queued(fetch(client, third))
        listed = client.get(f"{API}/runs/list", params={"job_id": job_id}).json()["runs"]
        assert [(r["run_id"], r["state"]["life_cycle_state"]) for r in listed] == [
            (third, "QUEUED"), (second, "QUEUED"), (first, "RUNNING")]
        assert listed[1]["status"]["queue_details"]["message"] == FULL

        (workspace / f"release.{first}").touch()
        wait_life(client, second, "RUNNING")
        assert fetch(client, first)["state"]["result_state"] == "SUCCESS"
        assert life(client, third) == "QUEUED"  # one place freed: one run left the queue

        (workspace / f"release.{second}").touch()
        wait_life(client, third, "RUNNING")
        (workspace / f"release.{third}").touch()
        finished = [wait_life(client, r, "TERMINATED") for r in (first, second, third)]
    assert [r["state"]["result_state"] for r in finished] == ["SUCCESS"] * 3
    assert order(workspace) == [f"{word} {run}" for run in (first, second, third)
                                for word in ("start", "end")]


def test_the_queue_outlives_a_killed_server(
    home: Path, workspace: Path, podium: Podium
) -> None:
    """A server killed with runs queued leaves them queued; the next one starts them in
    order once the running run (resumed: its attempt was lost) ends."""
    first = srv.start(home, workspace)
    try:
        with first.client() as client:
            job_id = create_job(client, "durable_queue",
                                [{"task_key": "hold", "shell_task": held(workspace)}], **QUEUE)
            running, second, third = (run_now(client, job_id) for _ in range(3))
            wait_life(client, running, "RUNNING")
            wait_for(lambda: order(workspace) == [f"start {running}"])
    finally:
        srv.stop(first, signal.SIGKILL)
    assert [get_run(podium, r)["state"]["life_cycle_state"] for r in (second, third)] == [
        "QUEUED", "QUEUED"]
    for run_id in (running, second, third):  # released before the next server resumes
        (workspace / f"release.{run_id}").touch()
    with srv.running(home, workspace) as server, server.client() as client:
        finished = [wait_life(client, r, "TERMINATED") for r in (running, second, third)]
    assert [r["state"]["result_state"] for r in finished] == ["SUCCESS"] * 3
    starts = [line for line in order(workspace) if line.startswith("start")]
    # The killed attempt's leftover may or may not have noted its end; the resumed
    # attempt starts again, then the queued runs in order.
    assert starts == [f"start {running}", f"start {running}", f"start {second}",
                      f"start {third}"]


def test_a_disabled_queue_skips_as_before(home: Path, workspace: Path) -> None:
    with srv.running(home, workspace) as server, server.client() as client:
        job_id = create_job(client, "no_queue",
                            [{"task_key": "hold", "shell_task": held(workspace)}],
                            max_concurrent_runs=1, queue={"enabled": False})
        running, skipped = run_now(client, job_id), run_now(client, job_id)
        run = wait_life(client, skipped, "SKIPPED")
        assert run["state"]["result_state"] == "MAXIMUM_CONCURRENT_RUNS_REACHED"
        assert "queue_details" not in run["status"]
        (workspace / f"release.{running}").touch()
        assert wait_life(client, running, "TERMINATED")["state"]["result_state"] == "SUCCESS"


def test_canceling_a_queued_run_ends_it_without_running_anything(
    home: Path, workspace: Path
) -> None:
    with srv.running(home, workspace) as server, server.client() as client:
        job_id = create_job(client, "cancel_queued",
                            [{"task_key": "hold", "shell_task": held(workspace)}], **QUEUE)
        first, canceled, last = (run_now(client, job_id) for _ in range(3))
        wait_life(client, first, "RUNNING")
        assert_queued(fetch(client, canceled))
        answer = client.post(f"{API}/runs/cancel", json={"run_id": canceled})
        assert answer.status_code == 200, answer.text
        run = fetch(client, canceled)
        assert run["state"]["life_cycle_state"] == "TERMINATED"
        assert run["state"]["result_state"] == "CANCELED"
        assert run["status"]["termination_details"]["code"] == "USER_CANCELED"
        assert [t["state"]["result_state"] for t in run["tasks"]] == ["CANCELED"]
        assert run["tasks"][0]["attempts"] == []
        (workspace / f"release.{first}").touch()
        wait_life(client, last, "RUNNING")  # the next in line, not the canceled one
        (workspace / f"release.{last}").touch()
        assert wait_life(client, last, "TERMINATED")["state"]["result_state"] == "SUCCESS"
    assert order(workspace) == [f"{word} {run}" for run in (first, last)
                                for word in ("start", "end")]


def test_tasks_waiting_for_a_task_slot_say_so(home: Path, workspace: Path) -> None:
    wait = sh(f"while [ ! -f {workspace}/release ]; do sleep 0.05; done")
    slot = "waiting for a free task slot: 1 of 1 in use (max_parallel_tasks)"
    with srv.running(home, workspace, PODIUM_MAX_PARALLEL_TASKS="1") as server, \
            server.client() as client:
        job_id = create_job(client, "wide", [
            {"task_key": key, "shell_task": wait} for key in ("a", "b", "c")
        ])
        run_id = run_now(client, job_id)

        def one_running_two_waiting() -> bool:
            tasks = fetch(client, run_id)["tasks"]
            lives = sorted(t["state"]["life_cycle_state"] for t in tasks)
            return lives == ["PENDING", "PENDING", "RUNNING"]

        wait_for(one_running_two_waiting, what="one task to run and two to wait")
        tasks = fetch(client, run_id)["tasks"]
        for task in tasks:
            expected = slot if task["state"]["life_cycle_state"] == "PENDING" else ""
            assert task["state"]["state_message"] == expected, task
        (workspace / "release").touch()
        run = wait_life(client, run_id, "TERMINATED")
    assert run["state"]["result_state"] == "SUCCESS"
    assert all(t["state"]["state_message"] == "" for t in run["tasks"]), run["tasks"]


# ---- the CLI -----------------------------------------------------------------------------


def test_podium_run_waits_in_the_queue_and_then_runs(
    home: Path, workspace: Path, podium: Podium
) -> None:
    spec = workspace / "queued.yaml"
    spec.write_text(
        "name: cli_queued\nmax_concurrent_runs: 1\nqueue: {enabled: true}\ntasks:\n"
        "  - task_key: hold\n    shell_task:\n      command: [bash, -c, "
        f"'cd {workspace}; echo \"start $PODIUM_RUN_ID\" >> order; "
        'while [ ! -f release.$PODIUM_RUN_ID ]; do sleep 0.05; done\']\n'
    )
    first = podium_cli("run", str(spec))
    second = None
    try:
        wait_for(lambda: len(order(workspace)) == 1, what="the first run to start")
        second = podium_cli("run", str(spec))

        def runs() -> list[tuple[int, str]]:
            with podium.sessions() as session:
                return [(r.run_id, r.life_cycle_state) for r in q.list_runs(session)]

        wait_for(lambda: len(runs()) == 2 and runs()[0][1] == "QUEUED",
                 what="the second run to be queued")
        (later, _), (earlier, _) = runs()
        assert get_run(podium, later)["state"]["state_message"] == FULL
        (workspace / f"release.{earlier}").touch()
        assert first.wait(timeout=60) == 0
        wait_for(lambda: len(order(workspace)) == 2, what="the queued run to start")
        (workspace / f"release.{later}").touch()
        assert second.wait(timeout=60) == 0
        _, err = second.communicate()
    finally:
        kill(first)
        if second is not None:
            kill(second)
    assert f"queued: {FULL}" in " ".join(err.split())  # as Rich wrapped it
    assert order(workspace) == [f"start {earlier}", f"start {later}"]


def test_ctrl_c_while_podium_run_waits_cancels_the_queued_run(
    home: Path, workspace: Path, podium: Podium
) -> None:
    spec = workspace / "queued.yaml"
    spec.write_text(
        "name: cli_cancel\nmax_concurrent_runs: 1\nqueue: {enabled: true}\ntasks:\n"
        "  - task_key: hold\n    shell_task:\n      command: [bash, -c, "
        f"'cd {workspace}; echo \"start $PODIUM_RUN_ID\" >> order; "
        'while [ ! -f release.$PODIUM_RUN_ID ]; do sleep 0.05; done\']\n'
    )
    first = podium_cli("run", str(spec))
    second = None
    try:
        wait_for(lambda: len(order(workspace)) == 1, what="the first run to start")
        second = podium_cli("run", str(spec))

        def runs() -> list[tuple[int, str]]:
            with podium.sessions() as session:
                return [(r.run_id, r.life_cycle_state) for r in q.list_runs(session)]

        wait_for(lambda: len(runs()) == 2 and runs()[0][1] == "QUEUED",
                 what="the second run to be queued")
        (later, _), (earlier, _) = runs()

        def heartbeat() -> object:
            with podium.sessions() as session:
                return q.get_run(session, later).heartbeat_at

        recorded = heartbeat()  # refreshed once it waits, with Ctrl-C handled
        wait_for(lambda: heartbeat() != recorded, what="the second podium run to wait")
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=60) == 1
        run = get_run(podium, later)
        assert (run["state"]["life_cycle_state"], run["state"]["result_state"]) == (
            "TERMINATED", "CANCELED")
        assert run["tasks"][0]["attempts"] == []
        (workspace / f"release.{earlier}").touch()
        assert first.wait(timeout=60) == 0
    finally:
        kill(first)
        if second is not None:
            kill(second)
    assert order(workspace) == [f"start {earlier}"]


# ---- the engine, without a server --------------------------------------------------------


def test_the_engine_runs_a_queued_run_when_the_job_has_room(
    podium: Podium, tmp_path: Path
) -> None:
    loaded = job([{"task_key": "hold", "shell_task": held(tmp_path)}], tmp_path, **QUEUE)
    events: list[RunEvent] = []

    async def scenario() -> tuple[int, int, list[ResultState]]:
        engine = Engine(podium.sessions, podium.settings, on_event=events.append)
        try:
            first = submit_run(podium, loaded)
            one = asyncio.ensure_future(engine.execute(first))
            await asyncio.to_thread(wait_for, lambda: order(tmp_path) == [f"start {first}"])
            second = submit_run(podium, loaded)
            assert_queued(get_run(podium, second))
            two = asyncio.ensure_future(engine.execute(second))
            await asyncio.to_thread(wait_for, lambda: any(
                e.run_id == second and e.life_cycle_state is LifeCycleState.QUEUED
                for e in events), what="the queued run to say it waits")
            assert get_run(podium, second)["state"]["life_cycle_state"] == "QUEUED"
            (tmp_path / f"release.{first}").touch()
            await asyncio.to_thread(wait_for, lambda: len(order(tmp_path)) == 3)
            (tmp_path / f"release.{second}").touch()
            return first, second, list(await asyncio.gather(one, two))
        finally:
            await engine.close()

    first, second, results = asyncio.run(scenario())
    assert results == [ResultState.SUCCESS, ResultState.SUCCESS]
    queued = [e for e in events
              if e.task_key is None and e.life_cycle_state is LifeCycleState.QUEUED]
    assert [e.message for e in queued] == [FULL]
    assert order(tmp_path) == [f"{word} {run}" for run in (first, second)
                               for word in ("start", "end")]


def test_a_queued_run_canceled_before_its_turn_never_starts(
    any_podium: Podium, tmp_path: Path
) -> None:
    podium = any_podium
    loaded = job([{"task_key": "hold", "shell_task": held(tmp_path)}], tmp_path, **QUEUE)
    first = submit_run(podium, loaded)
    with podium.sessions.begin() as session:  # as if a server had just been asked to run it
        q.update_run(session, first, engine_id=None)
    second = submit_run(podium, loaded)
    assert_queued(get_run(podium, second))
    assert "canceled while queued" in cancel_run(podium, second)
    run = get_run(podium, second)
    assert (run["state"]["life_cycle_state"], run["state"]["result_state"]) == (
        "TERMINATED", "CANCELED")
    assert tasks_by_key(run)["hold"]["state"]["result_state"] == "CANCELED"
    assert "already finished" in cancel_run(podium, second)


def test_one_freed_place_releases_exactly_one_queued_run(
    any_podium: Podium, tmp_path: Path
) -> None:
    """Several processes (here threads) taking from the queue at once when one run ends
    release one run between them, the oldest."""
    podium = any_podium
    loaded = job([{"task_key": "noop", "shell_task": sh("true")}], tmp_path, **QUEUE)
    run_ids = []
    for _ in range(4):
        run_id = submit_run(podium, loaded)
        with podium.sessions.begin() as session:  # as started through the API
            q.update_run(session, run_id, engine_id=None)
        run_ids.append(run_id)
    first, *queued = run_ids
    assert [get_run(podium, r)["state"]["life_cycle_state"] for r in run_ids] == [
        "PENDING", "QUEUED", "QUEUED", "QUEUED"]
    job_id = get_run(podium, first)["job_id"]
    assert take_from_queue(podium.sessions, job_id, utcnow()) == []
    with podium.sessions.begin() as session:
        q.update_run(session, first, life_cycle_state=LifeCycleState.TERMINATED,
                     result_state=ResultState.SUCCESS, ended_at=utcnow())
    barrier = threading.Barrier(6)

    def take() -> list[int]:
        barrier.wait()
        return take_from_queue(podium.sessions, job_id, utcnow())

    with ThreadPoolExecutor(6) as pool:
        released = [r for found in pool.map(lambda _: take(), range(6)) for r in found]
    assert released == [queued[0]]
    assert [get_run(podium, r)["state"]["life_cycle_state"] for r in queued] == [
        "PENDING", "QUEUED", "QUEUED"]
