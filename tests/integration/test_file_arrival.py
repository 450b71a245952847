"""File-arrival triggers with real files in a temporary directory and a real database:
the watcher is driven tick by tick on a fake clock (fast, deterministic), and once
through a real ``podium server`` with the real clock and watchfiles."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from podium.services import Podium, execute_run, get_output, get_run, save_job
from podium.store.tables import RunRow, SeenFileRow
from podium.triggers import FileArrivals
from tests.integration.helpers import job, wait_for
from tests.integration.server import running

ECHO_FILES = {"task_key": "show", "shell_task": {"command": [
    "bash", "-c",
    "echo 'type={{job.trigger.type}} location={{job.trigger.file_arrival.location}}'; "
    "echo 'files={{job.trigger.file_arrival.files}}'",
]}}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def podium(any_podium: Podium) -> Podium:
    """Each test on SQLite and on PostgreSQL."""
    return any_podium


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


def make_job(podium: Podium, tmp_path: Path, url: str, *, name: str = "on_files",
             paused: bool = False, **trigger: Any) -> int:
    fields: dict[str, Any] = {"max_concurrent_runs": 10}
    fields.update(trigger.pop("job_fields", {}))
    loaded = job([ECHO_FILES], tmp_path, name=name, trigger={
        "pause_status": "PAUSED" if paused else "UNPAUSED",
        "file_arrival": {"url": url, **trigger},
    }, **fields)
    return save_job(podium, loaded)


def watcher(podium: Podium, clock: Clock, **kwargs: Any) -> FileArrivals:
    return FileArrivals(podium.sessions, clock=clock, **kwargs)


def triggered(podium: Podium, job_id: int) -> list[RunRow]:
    """The job's runs started by file arrivals, oldest first."""
    with podium.sessions() as session:
        return list(session.scalars(
            select(RunRow).where(RunRow.job_id == job_id, RunRow.trigger == "FILE_ARRIVAL")
            .order_by(RunRow.run_id)
        ))


def files_of(run: RunRow) -> list[str]:
    files: list[str] = json.loads(run.trigger_info_json or "{}")["files"]
    return files


def seen(podium: Podium, job_id: int) -> dict[str, int | None]:
    with podium.sessions() as session:
        return {row.path: row.run_id for row in session.scalars(
            select(SeenFileRow).where(SeenFileRow.job_id == job_id))}


def test_new_files_start_one_run_whose_tasks_see_their_paths(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox))
    arrivals = watcher(podium, clock)
    assert arrivals.tick() is None and triggered(podium, job_id) == []
    (inbox / "a.csv").write_text("1\n")
    (inbox / "sub").mkdir()
    (inbox / "sub" / "b.csv").write_text("2\n")
    (inbox / ".partial.tmp").write_text("hidden files are skipped")
    arrivals.tick()
    arrivals.tick()  # the same files again: nothing more
    [run] = triggered(podium, job_id)
    expected = [str(inbox / "a.csv"), str(inbox / "sub" / "b.csv")]
    assert files_of(run) == expected
    assert seen(podium, job_id) == dict.fromkeys(expected, run.run_id)

    execute_run(podium, run.run_id)
    shown = get_run(podium, run.run_id)
    assert shown["state"]["result_state"] == "SUCCESS", shown
    assert shown["trigger"] == "FILE_ARRIVAL"
    assert shown["trigger_info"]["files"] == expected
    logs = get_output(podium, run.run_id, "show")["logs"]
    assert f"type=FILE_ARRIVAL location={inbox}" in logs
    assert f"files={json.dumps(expected)}" in logs


def test_files_there_when_the_trigger_is_set_up_do_not_trigger_nor_do_rewrites(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    (inbox / "old.csv").write_text("was here first\n")
    job_id = make_job(podium, tmp_path, f"file://{inbox}")
    arrivals = watcher(podium, clock, slack=timedelta(0))
    arrivals.tick()
    assert triggered(podium, job_id) == []
    assert seen(podium, job_id) == {str(inbox / "old.csv"): None}

    (inbox / "old.csv").write_text("rewritten, still not new\n")
    (inbox / "new.csv").write_text("new\n")
    arrivals.tick()
    [run] = triggered(podium, job_id)
    assert files_of(run) == [str(inbox / "new.csv")]


def test_a_relative_url_is_the_jobs_folder(
    podium: Podium, tmp_path: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, "incoming")
    arrivals = watcher(podium, clock)
    assert arrivals.tick() is None  # no such directory yet: a warning, nothing more
    (tmp_path / "incoming").mkdir()  # a directory made after the job is watched too
    (tmp_path / "incoming" / "x.json").write_text("{}")
    arrivals.tick()
    [run] = triggered(podium, job_id)
    assert files_of(run) == [str(tmp_path / "incoming" / "x.json")]


def test_files_written_slowly_trigger_once_quiet_for_wait_after_last_change(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox), wait_after_last_change_seconds=60)
    arrivals = watcher(podium, clock)
    start = clock.now
    with open(inbox / "big.csv", "w") as out:
        out.write("part 1\n")
        out.flush()
        assert arrivals.tick() == start + timedelta(seconds=60)
        clock.advance(30)
        out.write("part 2\n")
        out.flush()
        assert arrivals.tick() == start + timedelta(seconds=90)  # it changed: wait anew
    clock.advance(20)
    (inbox / "second.csv").write_text("another file of the batch\n")
    assert arrivals.tick() == start + timedelta(seconds=110)
    clock.advance(59)
    arrivals.tick()
    assert triggered(podium, job_id) == []
    clock.advance(1)
    assert arrivals.tick() is None
    [run] = triggered(podium, job_id)
    assert files_of(run) == [str(inbox / "big.csv"), str(inbox / "second.csv")]


def test_a_second_batch_waits_for_min_time_between_triggers(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox), min_time_between_triggers_seconds=300)
    arrivals = watcher(podium, clock)
    first_at = clock.now
    (inbox / "1.csv").write_text("1")
    arrivals.tick()
    clock.advance(10)
    (inbox / "2.csv").write_text("2")
    assert arrivals.tick() == first_at + timedelta(seconds=300)
    clock.advance(289)
    arrivals.tick()
    assert len(triggered(podium, job_id)) == 1
    clock.advance(1)
    arrivals.tick()
    first, second = triggered(podium, job_id)
    assert (files_of(first), files_of(second)) == ([str(inbox / "1.csv")], [str(inbox / "2.csv")])
    assert second.created_at == first_at + timedelta(seconds=300)


def test_after_a_restart_nothing_triggers_twice_and_what_arrived_meanwhile_triggers_once(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox), wait_after_last_change_seconds=5)
    before = watcher(podium, clock)
    (inbox / "a.csv").write_text("a")
    before.tick()
    clock.advance(5)
    before.tick()
    assert [files_of(r) for r in triggered(podium, job_id)] == [[str(inbox / "a.csv")]]
    # The server stops; a file lands; a new watcher starts on the same database.
    (inbox / "b.csv").write_text("b")
    clock.advance(600)
    after = watcher(podium, clock)
    after.tick()  # seen now; it must be quiet for 5 s first
    clock.advance(5)
    after.tick()
    after.tick()
    again = watcher(podium, clock)
    again.tick()
    assert [files_of(r) for r in triggered(podium, job_id)] == [
        [str(inbox / "a.csv")], [str(inbox / "b.csv")]
    ]


def test_a_file_removed_and_written_again_is_new_again(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox))
    arrivals = watcher(podium, clock)
    (inbox / "daily.csv").write_text("monday")
    arrivals.tick()
    (inbox / "daily.csv").unlink()
    arrivals.tick()
    assert seen(podium, job_id) == {}
    (inbox / "daily.csv").write_text("tuesday")
    arrivals.tick()
    assert len(triggered(podium, job_id)) == 2


def test_a_paused_trigger_does_nothing_and_files_wait_for_unpause(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox), paused=True)
    arrivals = watcher(podium, clock)
    (inbox / "a.csv").write_text("a")
    assert arrivals.tick() is None
    assert arrivals.directories == set()
    assert triggered(podium, job_id) == [] and seen(podium, job_id) == {}
    make_job(podium, tmp_path, str(inbox))  # the same job (by name), unpaused
    arrivals.tick()
    assert [files_of(r) for r in triggered(podium, job_id)] == [[str(inbox / "a.csv")]]


def test_a_busy_job_holds_the_batch_instead_of_skipping_it(
    podium: Podium, tmp_path: Path, inbox: Path, clock: Clock
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox), job_fields={"max_concurrent_runs": 1})
    arrivals = watcher(podium, clock)
    (inbox / "a.csv").write_text("a")
    arrivals.tick()
    [first] = triggered(podium, job_id)  # not yet run: it holds the job's one slot
    (inbox / "b.csv").write_text("b")
    arrivals.tick()
    assert len(triggered(podium, job_id)) == 1
    assert str(inbox / "b.csv") not in seen(podium, job_id)
    execute_run(podium, first.run_id)
    arrivals.tick()
    first, second = triggered(podium, job_id)
    assert files_of(second) == [str(inbox / "b.csv")]
    assert second.life_cycle_state == "PENDING"


def test_the_watcher_loop_reacts_to_a_change_event_without_waiting_for_a_rescan(
    podium: Podium, tmp_path: Path, inbox: Path
) -> None:
    job_id = make_job(podium, tmp_path, str(inbox))
    woken: list[int] = []

    async def scenario() -> None:
        # Rescans and job polls an hour apart: only watchfiles' event can start the run.
        arrivals = FileArrivals(podium.sessions, wake=lambda: woken.append(1),
                                rescan_seconds=3600, poll_seconds=3600)
        loop = asyncio.create_task(arrivals.run())
        try:
            while arrivals.looks == 0:
                await asyncio.sleep(0.02)
            # Until an event makes the loop look again, the OS watch is not set up yet:
            # a hidden file wakes it without being a new file.
            while arrivals.looks == 1:
                (inbox / ".probe").write_text("x")
                await asyncio.sleep(0.05)
            (inbox / "event.csv").write_text("1")
            while not triggered(podium, job_id):
                await asyncio.sleep(0.02)
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        assert arrivals._watchers == {}  # the watchers stopped with the loop

    asyncio.run(asyncio.wait_for(scenario(), 60))
    [run] = triggered(podium, job_id)
    assert files_of(run) == [str(inbox / "event.csv")] and woken == [1]


# ---- a real server ------------------------------------------------------------------------
JOBS = "/api/2.2/jobs"


@pytest.fixture
def server_dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    workspace, inbox = tmp_path / "workspace", tmp_path / "drop"
    workspace.mkdir()
    inbox.mkdir()
    yield workspace, inbox


def test_a_server_starts_a_run_when_a_file_lands(
    tmp_path: Path, server_dirs: tuple[Path, Path]
) -> None:
    workspace, inbox = server_dirs
    with running(tmp_path / "home", workspace) as server, server.client() as c:
        created = c.post(f"{JOBS}/create", json={
            "name": "watch_drop", "tasks": [ECHO_FILES],
            "trigger": {"file_arrival": {"url": f"file://{inbox}"}},
        })
        assert created.status_code == 200, created.text
        job_id = created.json()["job_id"]
        (inbox / "orders.csv").write_text("id\n1\n")

        def runs() -> list[dict[str, Any]]:
            body = c.get(f"{JOBS}/runs/list", params={"job_id": job_id}).json()
            found: list[dict[str, Any]] = body.get("runs", [])
            return found

        wait_for(lambda: len(runs()) == 1, what="a run started by the file")
        run_id = runs()[0]["run_id"]
        wait_for(lambda: c.get(f"{JOBS}/runs/get", params={"run_id": run_id}).json()
                 ["state"]["life_cycle_state"] == "TERMINATED", what="the run to end")
        run = c.get(f"{JOBS}/runs/get", params={"run_id": run_id}).json()
        assert run["trigger"] == "FILE_ARRIVAL"
        assert run["state"]["result_state"] == "SUCCESS", run
        assert run["trigger_info"]["files"] == [str(inbox / "orders.csv")]
        task_run_id = run["tasks"][0]["run_id"]
        logs = c.get(f"{JOBS}/runs/get-output", params={"run_id": task_run_id}).json()["logs"]
        assert f'files=["{inbox / "orders.csv"}"]' in logs
        assert len(runs()) == 1
    log = server.log.read_text()
    assert "Traceback" not in log, log
