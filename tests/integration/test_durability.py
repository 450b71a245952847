"""Cancel from another process, SIGKILL of the engine and resume, and repair, each with
the real ``podium`` command in subprocesses."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import yaml

from podium.services import Podium, execute_run, get_run, repair_run, submit_run
from podium.spec import load_job
from tests.integration.helpers import (
    PODIUM,
    kill,
    pid_alive,
    podium_cli,
    results,
    tasks_by_key,
    wait_for,
)


def write_spec(path: Path, tasks: list[dict[str, object]]) -> Path:
    spec = path / "job.yaml"
    spec.write_text(yaml.safe_dump({"name": "durable", "tasks": tasks}))
    return spec


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def latest_run(podium: Podium) -> int | None:
    from podium.services import list_runs

    runs = list_runs(podium, limit=1)["runs"]
    return runs[0]["run_id"] if runs else None


def task_state(podium: Podium, run_id: int, key: str) -> str:
    return tasks_by_key(get_run(podium, run_id))[key]["state"]["life_cycle_state"]


def test_cancel_from_another_process_terminates_the_running_task(
    podium: Podium, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path,
        [
            {"task_key": "sleepy", "shell_task": sh("echo $$ > pid; sleep 120")},
            {"task_key": "sibling", "shell_task": sh("true")},
            {"task_key": "after", "depends_on": [{"task_key": "sleepy"}], "shell_task": sh("true")},
        ],
    )
    proc = podium_cli("run", str(spec))
    try:
        wait_for(lambda: latest_run(podium) is not None, what="the run to be recorded")
        run_id = latest_run(podium)
        assert run_id is not None
        wait_for(
            lambda: (
                (tmp_path / "pid").exists() and task_state(podium, run_id, "sleepy") == "RUNNING"
            ),
            what="sleepy to run",
        )
        sleeper = int((tmp_path / "pid").read_text())

        cancel = subprocess.run(
            [*PODIUM, "runs", "cancel", str(run_id)], capture_output=True, text=True, timeout=60
        )
        assert cancel.returncode == 0, cancel.stderr
        assert "cancel requested" in cancel.stdout

        assert proc.wait(timeout=60) == 1
    finally:
        kill(proc)
    run = get_run(podium, run_id)
    assert run["state"]["result_state"] == "CANCELED"
    assert run["status"]["termination_details"]["code"] == "USER_CANCELED"
    assert results(run) == {
        "sleepy": "CANCELED",
        "sibling": "SUCCESS",
        "after": "UPSTREAM_CANCELED",
    }
    assert not pid_alive(sleeper)


def test_sigkill_mid_run_then_resume_reruns_nothing_that_succeeded(
    podium: Podium, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path,
        [
            {"task_key": "first", "shell_task": sh("echo ran >> first.count")},
            {
                "task_key": "second",
                "depends_on": [{"task_key": "first"}],
                "shell_task": sh(
                    "echo ran >> second.count; if [ -f resumed ]; then exit 0; fi; "
                    "echo $$ > pid; sleep 120"
                ),
            },
            {
                "task_key": "third",
                "depends_on": [{"task_key": "second"}],
                "shell_task": sh("echo ran >> third.count"),
            },
        ],
    )
    proc = podium_cli("run", str(spec))
    try:
        wait_for(lambda: (tmp_path / "pid").exists(), what="second to start")
        run_id = latest_run(podium)
        assert run_id is not None
        leftover = int((tmp_path / "pid").read_text())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        kill(proc)
    # The engine died; its task process was left running in its own process group.
    assert pid_alive(leftover)
    assert get_run(podium, run_id)["state"]["life_cycle_state"] == "RUNNING"

    (tmp_path / "resumed").touch()
    resume = subprocess.run(
        [*PODIUM, "runs", "resume", str(run_id), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resume.returncode == 0, resume.stderr

    run = get_run(podium, run_id)
    assert run["state"]["result_state"] == "SUCCESS"
    assert (tmp_path / "first.count").read_text().split() == ["ran"]  # not run again
    assert (tmp_path / "second.count").read_text().split() == ["ran", "ran"]
    second = tasks_by_key(run)["second"]["attempts"]
    assert second[0]["state"]["life_cycle_state"] == "INTERNAL_ERROR"
    assert second[0]["state"]["state_message"].startswith("lost:")
    assert [a["attempt_number"] for a in second] == [0, 1]
    assert second[1]["state"]["result_state"] == "SUCCESS"
    assert not pid_alive(leftover)  # the resume killed what the dead engine left behind


def test_cancel_of_a_run_whose_engine_died_finishes_it_here(podium: Podium, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, [{"task_key": "hang", "shell_task": sh("echo $$ > pid; sleep 120")}]
    )
    proc = podium_cli("run", str(spec))
    try:
        wait_for(lambda: (tmp_path / "pid").exists(), what="hang to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        kill(proc)
    run_id = latest_run(podium)
    assert run_id is not None
    cancel = subprocess.run(
        [*PODIUM, "runs", "cancel", str(run_id)], capture_output=True, text=True, timeout=60
    )
    assert cancel.returncode == 0, cancel.stderr
    run = get_run(podium, run_id)
    assert run["state"]["result_state"] == "CANCELED"
    assert not pid_alive(int((tmp_path / "pid").read_text()))


def test_repair_reruns_failed_tasks_and_downstream_only(podium: Podium, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        [
            {
                "task_key": "ok",
                "shell_task": sh(
                    "echo ran >> ok.count; "
                    "python -c 'from podium import task_values as v; v.set(\"n\", 3)'"
                ),
            },
            {
                "task_key": "fragile",
                "depends_on": [{"task_key": "ok"}],
                "shell_task": sh("echo ran >> fragile.count; [ -f fixed ]"),
            },
            {
                "task_key": "after",
                "depends_on": [{"task_key": "fragile"}],
                "shell_task": sh("echo {{tasks.ok.values.n}} >> after.out"),
            },
        ],
    )
    loaded = load_job(spec)
    run_id = submit_run(podium, loaded)
    assert execute_run(podium, run_id).value == "FAILED"
    assert results(get_run(podium, run_id)) == {
        "ok": "SUCCESS",
        "fragile": "FAILED",
        "after": "UPSTREAM_FAILED",
    }

    (tmp_path / "fixed").touch()
    assert repair_run(podium, run_id) == ["fragile", "after"]
    assert execute_run(podium, run_id).value == "SUCCESS"

    run = get_run(podium, run_id)
    assert run["repair_count"] == 1
    assert results(run) == {"ok": "SUCCESS", "fragile": "SUCCESS", "after": "SUCCESS"}
    assert (tmp_path / "ok.count").read_text().split() == ["ran"]
    assert (tmp_path / "after.out").read_text().split() == ["3"]  # values of kept tasks survive
    fragile = tasks_by_key(run)["fragile"]["attempts"]
    assert [(a["attempt_number"], a["repair_count"]) for a in fragile] == [(0, 0), (1, 1)]

    # Naming a task re-runs it and its downstream even after success.
    cli = subprocess.run(
        [*PODIUM, "runs", "repair", str(run_id), "--task", "fragile"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "fragile.count").read_text().split() == ["ran"] * 3
    assert get_run(podium, run_id)["repair_count"] == 2


def test_ctrl_c_cancels_the_run_cleanly(podium: Podium, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, [{"task_key": "hang", "shell_task": sh("echo $$ > pid; sleep 120")}]
    )
    proc = podium_cli("run", str(spec))
    try:
        wait_for(lambda: (tmp_path / "pid").exists(), what="hang to start")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 1
    finally:
        kill(proc)
    run_id = latest_run(podium)
    assert run_id is not None
    run = get_run(podium, run_id)
    assert run["state"]["result_state"] == "CANCELED"
    assert results(run) == {"hang": "CANCELED"}
    assert not pid_alive(int((tmp_path / "pid").read_text()))


def test_max_concurrent_runs_skips_a_second_run(podium: Podium, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, [{"task_key": "hang", "shell_task": sh("echo $$ > pid; sleep 120")}]
    )
    first = podium_cli("run", str(spec))
    try:
        wait_for(lambda: (tmp_path / "pid").exists(), what="the first run to start")
        first_id = latest_run(podium)
        second = subprocess.run(
            [*PODIUM, "run", str(spec)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert "max_concurrent_runs: 1" in second.stdout
        skipped_id = latest_run(podium)
        assert skipped_id is not None
        skipped = get_run(podium, skipped_id)
        assert skipped["state"]["life_cycle_state"] == "SKIPPED"
        assert skipped["state"]["result_state"] == "MAXIMUM_CONCURRENT_RUNS_REACHED"
        assert skipped["status"]["termination_details"]["code"] == "MAX_CONCURRENT_RUNS_EXCEEDED"
        cancel = subprocess.run(
            [*PODIUM, "runs", "cancel", str(first_id)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cancel.returncode == 0, cancel.stderr
        assert first.wait(timeout=60) == 1
    finally:
        kill(first)
    # With the first run over, the job may run again.
    (tmp_path / "job.yaml").write_text(
        yaml.safe_dump(
            {"name": "durable", "tasks": [{"task_key": "quick", "shell_task": sh("true")}]}
        )
    )
    assert (
        subprocess.run([*PODIUM, "run", str(spec)], capture_output=True, timeout=60).returncode == 0
    )
