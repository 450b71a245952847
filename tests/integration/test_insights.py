"""Insights on real recorded history: the store's history query, the services, the
``podium insights`` command after real ``podium run`` runs, and the API of a real server
(with its permissions)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from podium.errors import NotFound
from podium.services import Podium, Principal, local_principal
from podium.services import insights as service
from podium.services.jobs import get_job
from podium.store import history
from tests.integration.helpers import PODIUM, job, run_job, wait_for
from tests.integration.server import Server, running_cleanly

ADMIN = local_principal()


def tasks(rows: int = 5) -> list[dict[str, Any]]:
    """ingest (sets a row count) -> report; both quick."""
    setter = f"from podium import task_values; task_values.set('rows', {rows})"
    return [
        {"task_key": "ingest", "shell_task": {"command": [sys.executable, "-c", setter]}},
        {"task_key": "report", "depends_on": [{"task_key": "ingest"}],
         "shell_task": {"command": ["true"]}},
    ]


@pytest.fixture
def ran(podium: Podium, tmp_path: Path) -> list[int]:
    """Three successful runs of the job ``insights_job``; their run ids."""
    return [run_job(podium, job(tasks(), tmp_path, name="insights_job"))["run_id"]
            for _ in range(3)]


def test_history_query_reads_runs_newest_first(podium: Podium, ran: list[int]) -> None:
    with podium.sessions() as session:
        job_id = history.run_spec(session, ran[0])
        assert job_id is not None
        found = history.job_history(session, job_id[0], limit=2)
        assert [r.run_id for r in found.runs] == ran[:0:-1]  # the 2 newest
        assert {(a.run_id, a.task_key) for a in found.attempts} == {
            (r, k) for r in ran[1:] for k in ("ingest", "report")}
        assert {(v.task_key, v.key, v.value) for v in found.values} == {("ingest", "rows", 5)}
        assert all(t.result_state == "SUCCESS" for t in found.task_runs)
        earlier = history.job_history(session, job_id[0], up_to_run_id=ran[0])
        assert [r.run_id for r in earlier.runs] == [ran[0]]
        assert history.job_history(session, 999_999).runs == ()


def test_job_insights_by_name_and_id(podium: Podium, ran: list[int]) -> None:
    report = service.job_insights(podium, "insights_job", ADMIN)
    assert report["name"] == "insights_job" and report["runs_considered"] == 3
    assert report["expected_duration"]["n"] == 3
    assert report["expected_duration"]["basis"].startswith(
        "median of the last 3 successful runs")
    assert [t["subject"] for t in report["tasks"]] == ["ingest", "report"]
    ids = {s["id"] for s in report["suggestions"]}
    assert {"timeout_seconds:ingest", "timeout_seconds:report", "health:job"} <= ids
    command = next(s["command"] for s in report["suggestions"] if s["id"] == "health:job")
    assert command == f"podium insights apply {report['job_id']} health:job"
    assert service.job_insights(podium, str(report["job_id"]), ADMIN)["name"] == "insights_job"
    with pytest.raises(NotFound, match="no job 'nope'"):
        service.job_insights(podium, "nope", ADMIN)
    stranger = Principal("stranger", is_admin=False)
    with pytest.raises(NotFound):
        service.job_insights(podium, "insights_job", stranger)


def test_run_insights(podium: Podium, ran: list[int]) -> None:
    report = service.run_insights(podium, ran[-1], ADMIN)
    assert report["run_id"] == ran[-1] and report["eta"] is None
    assert report["expected_duration"]["n"] == 2  # the runs before it: not enough
    path = report["critical_path"]
    assert [s["task_key"] for s in path["steps"]] == ["ingest", "report"]


def test_apply_a_suggestion_keeps_the_rest_of_the_task(podium: Podium, ran: list[int]) -> None:
    report = service.job_insights(podium, "insights_job", ADMIN)
    wanted = next(s for s in report["suggestions"] if s["id"] == "timeout_seconds:ingest")
    applied = service.apply_suggestion(podium, "insights_job", "timeout_seconds:ingest", ADMIN)
    assert applied["suggested"] == wanted["suggested"]
    settings = get_job(podium, report["job_id"], ADMIN)["settings"]
    ingest = next(t for t in settings["tasks"] if t["task_key"] == "ingest")
    assert ingest["timeout_seconds"] == wanted["suggested"]
    assert "shell_task" in ingest  # the rest of the task entry is kept
    service.apply_suggestion(podium, "insights_job", "health:job", ADMIN)
    assert get_job(podium, report["job_id"], ADMIN)["settings"]["health"]["rules"][0][
        "metric"] == "RUN_DURATION_SECONDS"
    with pytest.raises(NotFound, match="no suggestion 'health:job' now"):
        service.apply_suggestion(podium, "insights_job", "health:job", ADMIN)


# ---- the command ------------------------------------------------------------------------
def podium_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODIUM, *args], capture_output=True, text=True, timeout=120)


def test_insights_command_after_podium_run(home: Path, tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump({"name": "cli_insights", "tasks": tasks()}))
    run_ids = []
    for _ in range(3):
        done = podium_cli("run", str(spec), "--output", "json")
        assert done.returncode == 0, done.stderr
        run_ids.append(json.loads(done.stdout)["run_id"])
    out = podium_cli("insights", "job", "cli_insights", "--output", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["runs_considered"] == 3 and report["expected_duration"]["n"] == 3
    text = podium_cli("insights", "job", "cli_insights")
    assert text.returncode == 0, text.stderr
    assert "expected duration" in text.stdout and "podium insights apply" in text.stdout
    one = podium_cli("insights", "run", str(run_ids[-1]), "--output", "json")
    assert json.loads(one.stdout)["critical_path"]["steps"][0]["task_key"] == "ingest"
    assert podium_cli("insights", "run", str(run_ids[-1])).returncode == 0
    applied = podium_cli("insights", "apply", "cli_insights", "health:job")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.startswith("applied health:job: health = ")
    missing = podium_cli("insights", "job", "nope")
    assert missing.returncode == 2 and "no job 'nope'" in missing.stderr


# ---- the API ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workspace = tmp_path_factory.mktemp("workspace")
    with running_cleanly(tmp_path_factory.mktemp("podium-home"), workspace) as server:
        yield server


def test_api_insights_and_permissions(server: Server) -> None:
    with server.client() as admin, server.client(server.token_for("bob")) as bob:
        made = admin.post("/api/2.2/jobs/create", json={"name": "api_insights",
                                                       "tasks": tasks()})
        job_id = made.json()["job_id"]
        run_ids = []
        for _ in range(3):  # one after another: the job runs one run at a time
            run_id = admin.post("/api/2.2/jobs/run-now", json={"job_id": job_id}).json()["run_id"]
            wait_for(partial(_ended, admin, run_id), what=f"run {run_id} to end")
            run_ids.append(run_id)
        report = _ok(admin.get(f"/api/podium/insights/jobs/{job_id}"))
        assert report["job_id"] == job_id and report["runs_considered"] == 3
        assert _ok(admin.get("/api/podium/insights/jobs/api_insights"))["job_id"] == job_id
        run = _ok(admin.get(f"/api/podium/insights/runs/{run_ids[-1]}"))
        assert run["critical_path"]["steps"][-1]["task_key"] == "report"
        assert bob.get(f"/api/podium/insights/jobs/{job_id}").status_code == 404
        assert bob.get(f"/api/podium/insights/runs/{run_ids[0]}").status_code == 404
        refused = bob.post(f"/api/podium/insights/jobs/{job_id}/apply",
                           json={"suggestion_id": "health:job"})
        assert refused.status_code == 404
        applied = _ok(admin.post(f"/api/podium/insights/jobs/{job_id}/apply",
                                 json={"suggestion_id": "health:job"}))
        assert applied["applied"]["kind"] == "health"
    remote = subprocess.run(
        [*PODIUM, "insights", "--host", server.url, "--token", server.token, "job",
         "api_insights", "--output", "json"], capture_output=True, text=True, timeout=60)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["job_id"] == job_id


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ended(c: httpx.Client, run_id: int) -> bool:
    state = c.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()["state"]
    return bool(state["life_cycle_state"] in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"))
