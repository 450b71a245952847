"""The Jobs API of a real ``podium server`` over plain HTTP: the error cases in
Databricks' shape (401, 403, 404, 400 with the validator's message, 413), and the parts of
the API the SDK tests do not reach (aliases, idempotency, ``only``, one-time runs, run
deletion, cancel-all, the audit log).

One server serves the whole module; each test makes jobs of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.integration.helpers import wait_for
from tests.integration.server import Server, running_cleanly

JOBS = "/api/2.2/jobs"
FINISHED = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")


# ---- fixtures and helpers -----------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workspace = tmp_path_factory.mktemp("workspace")
    with running_cleanly(tmp_path_factory.mktemp("podium-home"), workspace) as server:
        yield server


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def bob(server: Server) -> Iterator[httpx.Client]:
    """A plain user's client."""
    with server.client(server.token_for("bob")) as c:
        yield c


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error(response: httpx.Response, status: int, code: str) -> str:
    """The message of an error answer, after checking its status and Databricks shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def sh(key: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"task_key": key, "shell_task": {"command": ["bash", "-c", script]}, **extra}


def create(c: httpx.Client, name: str, *tasks: dict[str, Any], **fields: Any) -> int:
    job_id: int = ok(c.post(f"{JOBS}/create", json={"name": name, "tasks": list(tasks),
                                                     **fields}))["job_id"]
    return job_id


def run_now(c: httpx.Client, job_id: int, **body: Any) -> int:
    run_id: int = ok(c.post(f"{JOBS}/run-now", json={"job_id": job_id, **body}))["run_id"]
    return run_id


def get_run(c: httpx.Client, run_id: int) -> dict[str, Any]:
    return ok(c.get(f"{JOBS}/runs/get", params={"run_id": run_id}))


def finished(c: httpx.Client, run_id: int) -> dict[str, Any]:
    """The run once it has ended."""
    wait_for(lambda: get_run(c, run_id)["state"]["life_cycle_state"] in FINISHED,
             what=f"run {run_id} to end")
    return get_run(c, run_id)


def running_task(c: httpx.Client, run_id: int, key: str) -> None:
    """Wait until task ``key`` of the run is running."""
    def started() -> bool:
        tasks = {t["task_key"]: t for t in get_run(c, run_id)["tasks"]}
        return bool(tasks[key]["state"]["life_cycle_state"] == "RUNNING")

    wait_for(started, what=f"task {key} of run {run_id} to run")


def results(run: dict[str, Any]) -> dict[str, str | None]:
    return {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}


def job_ids(c: httpx.Client) -> list[int]:
    return [j["job_id"] for j in ok(c.get(f"{JOBS}/list", params={"limit": 100}))
            .get("jobs", [])]


# ---- authentication ---------------------------------------------------------------------
def test_a_call_without_a_token_or_with_a_bad_one_is_401(server: Server) -> None:
    none = httpx.get(f"{server.url}{JOBS}/list")
    bad = httpx.get(f"{server.url}{JOBS}/list", headers={"Authorization": "Bearer pod0000"})
    basic = httpx.get(f"{server.url}{JOBS}/list",
                      headers={"Authorization": f"Basic {server.token}"})

    assert "podium token create" in error(none, 401, "UNAUTHENTICATED")
    assert none.headers["www-authenticate"] == "Bearer"
    assert "not valid" in error(bad, 401, "UNAUTHENTICATED")
    error(basic, 401, "UNAUTHENTICATED")


# ---- permissions ------------------------------------------------------------------------
def test_what_a_user_may_not_see_is_404_and_a_level_they_lack_is_403(
    admin: httpx.Client, bob: httpx.Client
) -> None:
    job_id = create(admin, "private", sh("a", "true"))
    run_id = run_now(admin, job_id)
    finished(admin, run_id)
    missing = error(bob.get(f"{JOBS}/get", params={"job_id": 10**9}), 404,
                    "RESOURCE_DOES_NOT_EXIST")

    # Unseen: answered as if there were no such job.
    hidden = error(bob.get(f"{JOBS}/get", params={"job_id": job_id}), 404,
                   "RESOURCE_DOES_NOT_EXIST")
    assert hidden == missing.replace(str(10**9), str(job_id))
    error(bob.post(f"{JOBS}/run-now", json={"job_id": job_id}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(bob.get(f"{JOBS}/runs/get", params={"run_id": run_id}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    assert job_id not in job_ids(bob)

    ok(admin.patch(f"/api/2.0/permissions/jobs/{job_id}", json={"access_control_list": [
        {"user_name": "bob", "permission_level": "CAN_VIEW"}]}))

    assert job_id in job_ids(bob)
    assert get_run(bob, run_id)["job_id"] == job_id
    denied = error(bob.post(f"{JOBS}/run-now", json={"job_id": job_id}), 403,
                   "PERMISSION_DENIED")
    assert "CAN_VIEW" in denied and "CAN_MANAGE_RUN" in denied
    error(bob.post(f"{JOBS}/update", json={"job_id": job_id, "new_settings": {
        "max_concurrent_runs": 2}}), 403, "PERMISSION_DENIED")
    error(bob.post(f"{JOBS}/delete", json={"job_id": job_id}), 403, "PERMISSION_DENIED")
    error(bob.post(f"{JOBS}/runs/delete", json={"run_id": run_id}), 403, "PERMISSION_DENIED")
    error(bob.put(f"/api/2.0/permissions/jobs/{job_id}", json={"access_control_list": []}),
          403, "PERMISSION_DENIED")
    assert ok(admin.get(f"{JOBS}/get", params={"job_id": job_id}))["job_id"] == job_id


# ---- not found and bad requests ---------------------------------------------------------
def test_a_missing_job_or_run_is_404(admin: httpx.Client) -> None:
    for response in (
        admin.get(f"{JOBS}/get", params={"job_id": 10**9}),
        admin.post(f"{JOBS}/run-now", json={"job_id": 10**9}),
        admin.post(f"{JOBS}/delete", json={"job_id": 10**9}),
        admin.get(f"{JOBS}/runs/get", params={"run_id": 10**9}),
        admin.post(f"{JOBS}/runs/cancel", json={"run_id": 10**9}),
        admin.get(f"{JOBS}/runs/get-output", params={"run_id": 10**9}),
        admin.get(f"/api/2.0/permissions/jobs/{10**9}"),
    ):
        assert str(10**9) in error(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_an_unknown_route_is_404_endpoint_not_found(admin: httpx.Client) -> None:
    message = error(admin.get("/api/2.2/jobs/nothing-here"), 404, "ENDPOINT_NOT_FOUND")

    assert "/api/2.2/jobs/nothing-here" in message
    error(admin.get(f"{JOBS}/create"), 405, "ENDPOINT_NOT_FOUND")  # create is a POST


def test_an_invalid_spec_is_400_with_the_validators_message_and_nothing_is_stored(
    admin: httpx.Client
) -> None:
    job_id = create(admin, "kept", sh("match", "true"))
    before = job_ids(admin)
    spec = {"name": "broken", "tasks": [
        sh("match", "true"), sh("train", "true", depends_on=[{"task_key": "mtch"}])]}

    message = error(admin.post(f"{JOBS}/create", json=spec), 400, "INVALID_PARAMETER_VALUE")
    reset = error(admin.post(f"{JOBS}/reset", json={"job_id": job_id, "new_settings": spec}),
                  400, "INVALID_PARAMETER_VALUE")

    assert "tasks[1].depends_on[0].task_key" in message and "'match'" in message
    assert "tasks[1].depends_on[0].task_key" in reset
    assert job_ids(admin) == before
    kept = ok(admin.get(f"{JOBS}/get", params={"job_id": job_id}))
    assert kept["settings"]["name"] == "kept"
    versions = ok(admin.get(f"/api/podium/jobs/{job_id}/versions"))["versions"]
    assert [v["version"] for v in versions] == [1]


def test_a_bad_body_is_400(admin: httpx.Client) -> None:
    no_id = error(admin.post(f"{JOBS}/run-now", json={}), 400, "INVALID_PARAMETER_VALUE")
    not_a_number = error(admin.post(f"{JOBS}/runs/cancel", json={"run_id": "abc"}), 400,
                         "INVALID_PARAMETER_VALUE")
    not_json = error(admin.post(f"{JOBS}/run-now", content=b"{job_id: 1"), 400,
                     "INVALID_PARAMETER_VALUE")
    bad_query = error(admin.get(f"{JOBS}/runs/get", params={"run_id": "x"}), 400,
                      "INVALID_PARAMETER_VALUE")

    assert "job_id" in no_id
    assert "run_id" in not_a_number
    assert not_json
    assert "run_id" in bad_query


def test_a_body_over_the_limit_is_413_and_stores_nothing(admin: httpx.Client) -> None:
    before = job_ids(admin)
    huge = {"name": "huge", "description": "x" * (11 * 1024 * 1024),
            "tasks": [sh("a", "true")]}

    def chunked() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        yield b'{"name": "huge", "tasks": [], "description": "'
        for _ in range(11):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    declared = admin.post(f"{JOBS}/create", json=huge)
    streamed = admin.post(f"{JOBS}/create", content=chunked())

    assert "over" in error(declared, 413, "REQUEST_LIMIT_EXCEEDED")
    assert "over" in error(streamed, 413, "REQUEST_LIMIT_EXCEEDED")
    assert job_ids(admin) == before


def test_bad_permission_entries_are_400_and_change_nothing(admin: httpx.Client) -> None:
    job_id = create(admin, "acl_checked", sh("a", "true"))
    url = f"/api/2.0/permissions/jobs/{job_id}"
    before = ok(admin.get(url))

    nobody = error(admin.patch(url, json={"access_control_list": [
        {"user_name": "nobody", "permission_level": "CAN_VIEW"}]}), 400,
        "INVALID_PARAMETER_VALUE")
    level = error(admin.put(url, json={"access_control_list": [
        {"group_name": "users", "permission_level": "CAN_FLY"}]}), 400,
        "INVALID_PARAMETER_VALUE")
    not_an_id = error(admin.get("/api/2.0/permissions/jobs/abc"), 400,
                      "INVALID_PARAMETER_VALUE")

    assert "access_control_list[0].user_name" in nobody and "'nobody'" in nobody
    assert "access_control_list[0].permission_level" in level and "CAN_MANAGE_RUN" in level
    assert "job_id" in not_an_id
    assert ok(admin.get(url)) == before


def test_job_parameters_the_job_does_not_declare_are_400(admin: httpx.Client) -> None:
    job_id = create(admin, "with_params", sh("a", "true"),
                    parameters=[{"name": "run_date", "default": "2026-01-01"}])

    message = error(admin.post(f"{JOBS}/run-now", json={
        "job_id": job_id, "job_parameters": {"run_dat": "2026-02-02"}}), 400,
        "INVALID_PARAMETER_VALUE")

    assert "run_dat" in message and "'run_date'" in message


# ---- discovery --------------------------------------------------------------------------
def test_the_sdk_probe_the_openapi_document_and_the_docs_answer(server: Server) -> None:
    probe = httpx.get(f"{server.url}/.well-known/databricks-config")
    document = httpx.get(f"{server.url}/openapi.json")
    docs = httpx.get(f"{server.url}/docs")

    assert probe.status_code == 200
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert "/api/2.2/jobs/runs/get" in paths and "/api/2.2/jobs/run-now" in paths
    assert docs.status_code == 200


def test_api_2_1_is_an_alias_of_2_2(admin: httpx.Client) -> None:
    job_id = create(admin, "aliased", sh("a", "true"))

    listed = ok(admin.get("/api/2.1/jobs/list", params={"name": "aliased"}))["jobs"]
    got = ok(admin.get("/api/2.1/jobs/get", params={"job_id": job_id}))

    assert [j["job_id"] for j in listed] == [job_id]
    assert got["settings"]["name"] == "aliased"


# ---- runs -------------------------------------------------------------------------------
def test_run_now_with_the_same_idempotency_token_starts_one_run(admin: httpx.Client) -> None:
    job_id = create(admin, "idempotent", sh("a", "true"))

    first = run_now(admin, job_id, idempotency_token="nightly-2026-01-01")
    again = run_now(admin, job_id, idempotency_token="nightly-2026-01-01")
    other = run_now(admin, job_id, idempotency_token="nightly-2026-01-02")

    assert again == first != other
    runs = ok(admin.get(f"{JOBS}/runs/list", params={"job_id": job_id}))["runs"]
    assert sorted(r["run_id"] for r in runs) == sorted([first, other])
    everything = ok(admin.get(f"{JOBS}/runs/list", params={"job_id": job_id, "limit": 0}))
    assert len(everything["runs"]) == 2  # limit 0 means "a full page", as in the Jobs API
    finished(admin, first)
    finished(admin, other)


def test_run_now_with_only_runs_just_those_tasks(admin: httpx.Client) -> None:
    job_id = create(admin, "partial", sh("a", "echo a"), sh("b", "echo b", depends_on=[
        {"task_key": "a"}]), sh("c", "echo c", depends_on=[{"task_key": "b"}]))

    run = finished(admin, run_now(admin, job_id, only=["b"]))
    unknown = error(admin.post(f"{JOBS}/run-now", json={"job_id": job_id, "only": ["bb"]}),
                    400, "INVALID_PARAMETER_VALUE")

    assert results(run) == {"b": "SUCCESS"}
    assert "'bb'" in unknown and "'b'" in unknown


def test_a_failed_tasks_output_has_its_error_and_log(admin: httpx.Client) -> None:
    job_id = create(admin, "failing", sh("boom", "echo about to fail; exit 7"))
    run = finished(admin, run_now(admin, job_id))
    task = run["tasks"][0]

    output = ok(admin.get(f"{JOBS}/runs/get-output", params={"run_id": task["run_id"]}))

    assert run["state"]["result_state"] == "FAILED"
    assert run["status"]["termination_details"]["code"] != "SUCCESS"
    assert "about to fail" in output["logs"]
    assert output["error"]
    assert output["metadata"]["task_key"] == "boom"


def test_runs_and_task_runs_never_share_a_run_id(admin: httpx.Client) -> None:
    job_id = create(admin, "two tasks", sh("a", "echo a"),
                    sh("b", "echo b", depends_on=[{"task_key": "a"}]))
    run = finished(admin, run_now(admin, job_id))
    task_run_id = run["tasks"][1]["run_id"]

    as_run = error(admin.get(f"{JOBS}/runs/get", params={"run_id": task_run_id}),
                   404, "RESOURCE_DOES_NOT_EXIST")
    whole = error(admin.get(f"{JOBS}/runs/get-output", params={"run_id": run["run_id"]}),
                  400, "INVALID_PARAMETER_VALUE")

    assert run["run_id"] not in {t["run_id"] for t in run["tasks"]}
    assert f"task 'b' of run {run['run_id']}" in as_run
    assert "several tasks" in whole


def test_runs_submit_makes_a_one_time_run_whose_job_is_not_listed(
    admin: httpx.Client, bob: httpx.Client
) -> None:
    body = {"run_name": "one-off", "tasks": [sh("a", "echo once")]}

    run_id: int = ok(admin.post(f"{JOBS}/runs/submit", json=body))["run_id"]
    run = finished(admin, run_id)

    assert run["run_name"] == "one-off"
    assert results(run) == {"a": "SUCCESS"}
    assert run["job_id"] not in job_ids(admin)
    error(admin.post(f"{JOBS}/run-now", json={"job_id": run["job_id"]}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    error(bob.get(f"{JOBS}/runs/get", params={"run_id": run_id}), 404,
          "RESOURCE_DOES_NOT_EXIST")  # only its submitter (and admins) see it


def test_runs_delete_removes_a_finished_run_and_refuses_a_running_one(
    admin: httpx.Client,
) -> None:
    done = finished(admin, run_now(admin, create(admin, "short", sh("a", "true"))))
    job_id = create(admin, "long", sh("a", "sleep 300"))
    active = run_now(admin, job_id)
    running_task(admin, active, "a")

    ok(admin.post(f"{JOBS}/runs/delete", json={"run_id": done["run_id"]}))
    refused = error(admin.post(f"{JOBS}/runs/delete", json={"run_id": active}), 409,
                    "RESOURCE_CONFLICT")

    error(admin.get(f"{JOBS}/runs/get", params={"run_id": done["run_id"]}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    assert "cancel it first" in refused
    ok(admin.post(f"{JOBS}/runs/cancel", json={"run_id": active}))
    assert finished(admin, active)["state"]["result_state"] == "CANCELED"


def test_runs_cancel_all_cancels_every_active_run_of_the_job(admin: httpx.Client) -> None:
    job_id = create(admin, "sleepers", sh("a", "sleep 300"), max_concurrent_runs=2)
    first, second = run_now(admin, job_id), run_now(admin, job_id)
    running_task(admin, first, "a")
    running_task(admin, second, "a")

    ok(admin.post(f"{JOBS}/runs/cancel-all", json={"job_id": job_id}))

    for run_id in (first, second):
        run = finished(admin, run_id)
        assert run["state"]["result_state"] == "CANCELED"
        assert results(run) == {"a": "CANCELED"}
    active = ok(admin.get(f"{JOBS}/runs/list", params={"job_id": job_id,
                                                        "active_only": "true"}))
    assert active["runs"] == []
    error(admin.post(f"{JOBS}/runs/cancel-all", json={}), 400, "INVALID_PARAMETER_VALUE")


# ---- the audit log ----------------------------------------------------------------------
def test_the_audit_log_shows_admins_who_did_what(
    admin: httpx.Client, bob: httpx.Client
) -> None:
    job_id = create(admin, "audited", sh("a", "sleep 300"))
    run_id = run_now(admin, job_id)
    ok(admin.post(f"{JOBS}/runs/cancel", json={"run_id": run_id}))
    finished(admin, run_id)

    events = ok(admin.get("/api/podium/audit", params={"limit": 50}))["events"]
    denied = error(bob.get("/api/podium/audit"), 403, "PERMISSION_DENIED")

    seen = {(e["actor"], e["action"], e["object_type"], str(e["object_id"])) for e in events}
    assert ("admin", "create", "job", str(job_id)) in seen
    assert ("admin", "run", "job", str(job_id)) in seen
    assert ("admin", "cancel", "run", str(run_id)) in seen
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    assert all(e["time"] > 0 for e in events)
    assert "admins" in denied
