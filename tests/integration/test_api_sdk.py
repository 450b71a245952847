"""A real ``podium server`` driven through the official ``databricks-sdk`` client, as a
Databricks user would drive it: only the host and the token change.

One server serves the whole module; each test makes jobs of its own. Task scripts are
Python files in a temporary folder, so every job is built with the SDK's typed
``spark_python_task`` (Podium's own task types are not in the SDK's dataclasses).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied, Unauthenticated
from databricks.sdk.service.jobs import (
    JobAccessControlRequest,
    JobPermissionLevel,
    JobPermissions,
    JobSettings,
    Run,
    RunLifeCycleState,
    RunResultState,
    SparkPythonTask,
    Task,
    TaskDependency,
)

from tests.integration.helpers import wait_for
from tests.integration.server import Server, running_cleanly

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED_TASKS = ["clicks_ingest", "orders_ingest", "match", "enough_rows", "build_features",
              "persist_features", "drift", "drift_found", "retrain_requested", "train"]
WAIT = timedelta(minutes=5)
SECRET_VALUE = "pa55-Wq8z-from-the-vault"

SCRIPTS = {
    # prints its arguments, one per line
    "say.py": "import sys\nfor arg in sys.argv[1:]:\n    print('said:', arg)\n",
    # runs until canceled
    "sleep.py": "import time\nprint('sleeping', flush=True)\ntime.sleep(300)\n",
    # fails until the file named by its argument exists
    "flaky.py": (
        "import pathlib, sys\n"
        "flag = pathlib.Path(sys.argv[1])\n"
        "print('flag present' if flag.exists() else 'no flag yet')\n"
        "sys.exit(0 if flag.exists() else 3)\n"
    ),
}


# ---- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdk_env() -> Iterator[None]:
    """No DATABRICKS_* variable or ~/.databrickscfg of the machine reaches the clients."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("DATABRICKS_"):
                mp.delenv(name)
        mp.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/podium-tests/.databrickscfg")
        yield


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sdk_env: None) -> Iterator[Server]:
    # The seed pipeline's relative paths resolve against the server's workspace (its cwd).
    with running_cleanly(tmp_path_factory.mktemp("podium-home"), EXAMPLES) as server:
        yield server


def client(server: Server, token: str) -> WorkspaceClient:
    return WorkspaceClient(host=server.url, token=token, auth_type="pat")


@pytest.fixture(scope="module")
def w(server: Server) -> WorkspaceClient:
    """The admin's client."""
    return client(server, server.token)


@pytest.fixture(scope="module")
def bob(server: Server) -> WorkspaceClient:
    """A plain user's client."""
    return client(server, server.token_for("bob"))


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scripts")
    for name, text in SCRIPTS.items():
        (folder / name).write_text(text)
    return folder


def python_task(key: str, script: Path, *args: str, after: tuple[str, ...] = ()) -> Task:
    return Task(
        task_key=key,
        spark_python_task=SparkPythonTask(python_file=str(script), parameters=list(args)),
        depends_on=[TaskDependency(task_key=k) for k in after] or None,
    )


def create(w: WorkspaceClient, settings: JobSettings) -> int:
    """``jobs.create`` with the fields ``settings`` sets, as typed SDK objects.

    (The fields its ``as_dict`` keeps: ``from_dict`` turns an absent list into ``[]``, and
    ``create`` would send ``environment_variables: []`` and ``triggers: []``, fields of the
    newest Jobs API that Podium's spec does not know.)
    """
    job_id = w.jobs.create(**{k: getattr(settings, k) for k in settings.as_dict()}).job_id
    assert job_id is not None
    return job_id


def results(run: Run) -> dict[str, RunResultState | None]:
    return {t.task_key: t.state.result_state if t.state else None for t in run.tasks or []}


def raw(w: WorkspaceClient, method: str, path: str, **query: Any) -> dict[str, Any]:
    """A call the SDK has no typed method for (Podium's additions, fields it drops)."""
    answer: dict[str, Any] = w.api_client.do(method, path, query=query or None)
    return answer


@pytest.fixture(scope="module")
def seed(w: WorkspaceClient) -> tuple[int, Run]:
    """The seed pipeline created from its YAML and run to its end: (job_id, run)."""
    spec = yaml.safe_load((EXAMPLES / "seed_pipeline.yaml").read_text())
    # Sent as it is: the SDK's typed JobSettings would drop drift_check_task, a Podium
    # extension it does not know.
    job_id = w.api_client.do("POST", "/api/2.2/jobs/create", body=spec)["job_id"]
    run = w.jobs.run_now(job_id, job_parameters={"size": "20000"}).result(timeout=WAIT)
    return job_id, run


# ---- the seed pipeline --------------------------------------------------------------------
def test_the_seed_job_is_created_from_its_yaml_and_runs_to_success(
    w: WorkspaceClient, seed: tuple[int, Run]
) -> None:
    job_id, run = seed

    assert run.state is not None
    assert run.state.life_cycle_state == RunLifeCycleState.TERMINATED
    assert run.state.result_state == RunResultState.SUCCESS
    assert results(run) == dict.fromkeys(SEED_TASKS, RunResultState.SUCCESS)
    job = w.jobs.get(job_id)
    assert job.settings is not None and job.settings.name == "seed_pipeline"
    assert [t.task_key for t in job.settings.tasks or []] == SEED_TASKS
    assert job.creator_user_name == "admin"


def test_get_run_shows_tasks_states_attempts_and_a_link_to_the_server(
    w: WorkspaceClient, server: Server, seed: tuple[int, Run]
) -> None:
    job_id, started = seed
    assert started.run_id is not None

    run = w.jobs.get_run(started.run_id)

    assert run.job_id == job_id
    assert run.run_page_url is not None and run.run_page_url.startswith(server.url)
    assert run.start_time and run.end_time and run.end_time >= run.start_time
    assert {p.name: p.value for p in run.job_parameters or []}["size"] == "20000"
    tasks = {t.task_key: t for t in run.tasks or []}
    assert list(tasks) == SEED_TASKS
    match = tasks["match"]
    assert match.attempt_number == 0 and match.run_id  # a task run of its own
    assert match.state and match.state.life_cycle_state == RunLifeCycleState.TERMINATED
    assert match.start_time and match.end_time
    assert [d.task_key for d in match.depends_on or []] == ["clicks_ingest", "orders_ingest"]
    assert tasks["enough_rows"].condition_task is not None


def test_get_run_output_has_a_task_runs_logs_and_the_notebooks_result(
    w: WorkspaceClient, seed: tuple[int, Run]
) -> None:
    job_id, run = seed
    tasks = {t.task_key: t for t in run.tasks or []}

    ingest = w.jobs.get_run_output(tasks["clicks_ingest"].run_id or 0)
    notebook = w.jobs.get_run_output(tasks["build_features"].run_id or 0)

    assert ingest.metadata is not None and ingest.metadata.job_id == job_id
    assert ingest.metadata.run_id == tasks["clicks_ingest"].run_id
    assert ingest.logs is not None and "clicks_ingest: wrote" in ingest.logs
    assert ingest.error is None
    assert notebook.notebook_output is not None and notebook.notebook_output.result
    assert json.loads(notebook.notebook_output.result)["sessions"] > 0
    with pytest.raises(NotFound):
        w.jobs.get_run_output(10**9)


# ---- runs -------------------------------------------------------------------------------
def test_list_runs_filters_by_job_and_state_and_pages(
    w: WorkspaceClient, scripts: Path, seed: tuple[int, Run]
) -> None:
    job_id = create(w, JobSettings(name="listed", tasks=[
        python_task("say", scripts / "say.py", "hello")]))
    started = [w.jobs.run_now(job_id).result(timeout=WAIT).run_id for _ in range(3)]

    paged = list(w.jobs.list_runs(job_id=job_id, limit=1))  # three pages of one
    completed = list(w.jobs.list_runs(job_id=job_id, completed_only=True))
    active = list(w.jobs.list_runs(job_id=job_id, active_only=True))

    assert [r.run_id for r in paged] == started[::-1]  # newest first, none twice
    assert {r.job_id for r in paged} == {job_id}
    assert [r.run_id for r in completed] == started[::-1]
    assert active == []
    seed_job, seed_run = seed
    assert [r.run_id for r in w.jobs.list_runs(job_id=seed_job)] == [seed_run.run_id]
    # Runs that started in a window of time: the second one's start up to the third's.
    times = {r.run_id: r.start_time for r in paged}
    window = list(w.jobs.list_runs(job_id=job_id, start_time_from=times[started[1]],
                                   start_time_to=times[started[2]]))
    assert [r.run_id for r in window] == started[:0:-1]


def test_cancel_run_stops_a_long_running_job(w: WorkspaceClient, scripts: Path) -> None:
    job_id = create(w, JobSettings(name="sleeper", tasks=[
        python_task("sleep", scripts / "sleep.py")]))
    waiter = w.jobs.run_now(job_id)
    run_id = waiter.run_id

    def sleeping() -> bool:
        task = (w.jobs.get_run(run_id).tasks or [])[0]
        return task.state is not None and task.state.life_cycle_state == (
            RunLifeCycleState.RUNNING)

    wait_for(sleeping, what="the task to run")
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, active_only=True)] == [run_id]
    assert list(w.jobs.list_runs(job_id=job_id, completed_only=True)) == []

    run = w.jobs.cancel_run(run_id).result(timeout=WAIT)

    assert run.state is not None and run.state.result_state == RunResultState.CANCELED
    assert results(run) == {"sleep": RunResultState.CANCELED}
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, completed_only=True)] == [run_id]


def test_repair_run_reruns_the_failed_task_and_what_follows_it(
    w: WorkspaceClient, scripts: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    job_id = create(w, JobSettings(name="fragile", tasks=[
        python_task("first", scripts / "say.py", "first"),
        python_task("fragile", scripts / "flaky.py", str(flag), after=("first",)),
        python_task("last", scripts / "say.py", "last", after=("fragile",)),
    ]))
    failed = w.jobs.run_now(job_id).result(timeout=WAIT)
    assert failed.state is not None and failed.state.result_state == RunResultState.FAILED
    assert results(failed) == {"first": RunResultState.SUCCESS,
                               "fragile": RunResultState.FAILED,
                               "last": RunResultState.UPSTREAM_FAILED}
    first_before = {t.task_key: t for t in failed.tasks or []}["first"].run_id
    flag.touch()

    repaired = w.jobs.repair_run(failed.run_id or 0, rerun_all_failed_tasks=True,
                                 latest_repair_id=0).result(timeout=WAIT)

    assert repaired.run_id == failed.run_id
    assert repaired.state is not None and repaired.state.result_state == RunResultState.SUCCESS
    assert set(results(repaired).values()) == {RunResultState.SUCCESS}
    tasks = {t.task_key: t for t in repaired.tasks or []}
    assert tasks["first"].run_id == first_before  # kept, not run again
    fragile = raw(w, "GET", "/api/2.2/jobs/runs/get", run_id=failed.run_id)
    attempts = {t["task_key"]: t["attempts"] for t in fragile["tasks"]}["fragile"]
    assert [a["state"]["result_state"] for a in attempts] == ["FAILED", "SUCCESS"]
    assert fragile["repair_count"] == 1
    output = w.jobs.get_run_output(tasks["fragile"].run_id or 0)
    assert output.logs is not None and "flag present" in output.logs


# ---- jobs -------------------------------------------------------------------------------
def test_update_reset_delete_show_in_get_and_runs_keep_the_version_they_ran(
    w: WorkspaceClient, scripts: Path
) -> None:
    job_id = create(w, JobSettings(name="versioned", max_concurrent_runs=1, tasks=[
        python_task("say", scripts / "say.py", "v1")]))
    before = w.jobs.run_now(job_id).result(timeout=WAIT)

    w.jobs.update(job_id, new_settings=JobSettings(
        max_concurrent_runs=4, tags={"stage": "two"},
        tasks=[python_task("say", scripts / "say.py", "v2")]))

    updated = w.jobs.get(job_id).settings
    assert updated is not None and updated.name == "versioned"  # kept: update is partial
    assert updated.max_concurrent_runs == 4 and updated.tags == {"stage": "two"}
    task = (updated.tasks or [])[0].spark_python_task
    assert task is not None and task.parameters == ["v2"]
    versions = raw(w, "GET", f"/api/podium/jobs/{job_id}/versions")["versions"]
    assert [(v["version"], v["change"], v["created_by"]) for v in versions] == [
        (1, "create", "admin"), (2, "update", "admin")]
    old = raw(w, "GET", "/api/2.2/jobs/runs/get", run_id=before.run_id)
    assert old["job_version"] == 1
    assert old["tasks"][0]["spark_python_task"]["parameters"] == ["v1"]  # what ran
    output = w.jobs.get_run_output((before.tasks or [])[0].run_id or 0)
    assert output.logs is not None and "said: v1" in output.logs
    after = w.jobs.run_now(job_id).result(timeout=WAIT)
    assert raw(w, "GET", "/api/2.2/jobs/runs/get", run_id=after.run_id)["job_version"] == 2

    w.jobs.reset(job_id, new_settings=JobSettings(name="versioned_again", tasks=[
        python_task("other", scripts / "say.py", "v3")]))

    reset = w.jobs.get(job_id).settings
    assert reset is not None and reset.name == "versioned_again"
    assert reset.tags is None and reset.max_concurrent_runs in (None, 1)  # all replaced
    assert [t.task_key for t in reset.tasks or []] == ["other"]
    assert len(raw(w, "GET", f"/api/podium/jobs/{job_id}/versions")["versions"]) == 3

    w.jobs.delete(job_id)

    with pytest.raises(NotFound):
        w.jobs.get(job_id)
    assert job_id not in [j.job_id for j in w.jobs.list()]


def test_list_pages_and_filters_by_name(w: WorkspaceClient, scripts: Path) -> None:
    made = [create(w, JobSettings(name=f"paged_{i}", tasks=[
        python_task("say", scripts / "say.py")])) for i in range(3)]

    listed = [j.job_id for j in w.jobs.list(limit=1)]  # one job a page
    named = list(w.jobs.list(name="paged_1", expand_tasks=True))

    assert listed == sorted(set(listed)) and set(made) <= set(listed)
    assert [j.job_id for j in named] == [made[1]]
    assert named[0].settings is not None and named[0].settings.tasks


# ---- who may do what ----------------------------------------------------------------------
def levels(acl: JobPermissions) -> dict[str | None, list[JobPermissionLevel | None]]:
    """Who holds what, from a job's access control list."""
    return {(a.user_name or a.group_name): [p.permission_level for p in a.all_permissions or []]
            for a in acl.access_control_list or []}


def test_permissions_decide_what_another_user_sees_and_does(
    w: WorkspaceClient, bob: WorkspaceClient, scripts: Path
) -> None:
    job_id = create(w, JobSettings(name="guarded", tasks=[
        python_task("say", scripts / "say.py", "guarded")]))
    assert job_id not in [j.job_id for j in bob.jobs.list()]
    with pytest.raises(NotFound):
        bob.jobs.get(job_id)

    acl = w.jobs.set_permissions(str(job_id), access_control_list=[JobAccessControlRequest(
        user_name="bob", permission_level=JobPermissionLevel.CAN_VIEW)])

    assert levels(acl)["admin"] == [JobPermissionLevel.IS_OWNER]  # set keeps the owner
    assert levels(acl)["bob"] == [JobPermissionLevel.CAN_VIEW]
    assert job_id in [j.job_id for j in bob.jobs.list()]
    assert bob.jobs.get(job_id).settings is not None
    assert bob.jobs.get_permissions(str(job_id)).object_id == f"/jobs/{job_id}"
    with pytest.raises(PermissionDenied):
        bob.jobs.run_now(job_id)
    with pytest.raises(PermissionDenied):
        bob.jobs.update(job_id, new_settings=JobSettings(max_concurrent_runs=2))

    w.jobs.update_permissions(str(job_id), access_control_list=[JobAccessControlRequest(
        user_name="bob", permission_level=JobPermissionLevel.CAN_MANAGE_RUN)])

    run = bob.jobs.run_now(job_id).result(timeout=WAIT)
    assert run.state is not None and run.state.result_state == RunResultState.SUCCESS
    assert run.run_id in [r.run_id for r in bob.jobs.list_runs(job_id=job_id)]
    with pytest.raises(PermissionDenied):
        bob.jobs.set_permissions(str(job_id), access_control_list=[])  # needs CAN_MANAGE
    acl = w.jobs.get_permissions(str(job_id))
    assert levels(acl)["bob"] == [JobPermissionLevel.CAN_MANAGE_RUN]
    assert levels(acl)["admin"] == [JobPermissionLevel.IS_OWNER]


def test_a_job_is_owned_by_its_creator_and_may_be_shared_when_created(
    w: WorkspaceClient, bob: WorkspaceClient, scripts: Path
) -> None:
    shared = w.jobs.create(name="shared", tasks=[python_task("say", scripts / "say.py")],
                           access_control_list=[JobAccessControlRequest(
                               group_name="users", permission_level=JobPermissionLevel.CAN_VIEW)])
    own = create(bob, JobSettings(name="bobs", tasks=[python_task("say", scripts / "say.py")]))

    assert shared.job_id in [j.job_id for j in bob.jobs.list()]
    assert levels(bob.jobs.get_permissions(str(shared.job_id)))["users"] == [
        JobPermissionLevel.CAN_VIEW]
    assert levels(bob.jobs.get_permissions(str(own)))["bob"] == [JobPermissionLevel.IS_OWNER]
    assert w.jobs.get(own).creator_user_name == "bob"  # admins see every job
    bob.jobs.delete(own)
    with pytest.raises(NotFound):
        w.jobs.get(own)


def test_secrets_go_in_and_never_come_out(
    w: WorkspaceClient, bob: WorkspaceClient, scripts: Path
) -> None:
    w.secrets.create_scope("vault")
    w.secrets.put_secret("vault", "api_key", string_value=SECRET_VALUE)

    assert "vault" in [s.name for s in w.secrets.list_scopes()]
    listed = list(w.secrets.list_secrets("vault"))
    assert [s.key for s in listed] == ["api_key"] and listed[0].last_updated_timestamp
    assert SECRET_VALUE not in json.dumps(raw(w, "GET", "/api/2.0/secrets/list", scope="vault"))
    with pytest.raises(PermissionDenied):
        w.secrets.get_secret("vault", "api_key")
    with pytest.raises(PermissionDenied):
        list(bob.secrets.list_secrets("vault"))  # not bob's scope

    # The task gets the value; everything it shows has [REDACTED] instead.
    job_id = create(w, JobSettings(name="uses_a_secret", tasks=[
        python_task("say", scripts / "say.py", "{{secrets/vault/api_key}}")]))
    run = w.jobs.run_now(job_id).result(timeout=WAIT)

    assert results(run) == {"say": RunResultState.SUCCESS}
    output = w.jobs.get_run_output((run.tasks or [])[0].run_id or 0)
    assert output.logs is not None and "said: [REDACTED]" in output.logs
    shown = json.dumps(raw(w, "GET", "/api/2.2/jobs/runs/get", run_id=run.run_id))
    assert SECRET_VALUE not in shown and SECRET_VALUE not in output.logs

    w.secrets.delete_secret("vault", "api_key")
    assert list(w.secrets.list_secrets("vault")) == []
    w.secrets.delete_scope("vault")
    assert "vault" not in [s.name for s in w.secrets.list_scopes()]
    with pytest.raises(NotFound):
        list(w.secrets.list_secrets("vault"))


def test_tokens_are_made_listed_and_revoked(w: WorkspaceClient, server: Server) -> None:
    made = w.tokens.create(comment="for the test", lifetime_seconds=3600)
    assert made.token_value and made.token_info and made.token_info.token_id
    token_id = made.token_info.token_id
    extra = client(server, made.token_value)

    assert extra.current_user.me().user_name == "admin"
    listed = {t.token_id: t for t in w.tokens.list()}
    assert listed[token_id].comment == "for the test"
    assert (listed[token_id].expiry_time or 0) > (listed[token_id].creation_time or 0)
    assert made.token_value not in json.dumps(raw(w, "GET", "/api/2.0/token/list"))

    w.tokens.delete(token_id)

    assert token_id not in [t.token_id for t in w.tokens.list()]
    with pytest.raises(Unauthenticated):
        extra.current_user.me()


def test_a_user_sees_and_revokes_only_their_own_tokens(
    w: WorkspaceClient, bob: WorkspaceClient
) -> None:
    admins = w.tokens.create(comment="the admin's").token_info
    bobs = bob.tokens.create(comment="bob's").token_info
    assert admins is not None and admins.token_id and bobs is not None and bobs.token_id

    assert {t.token_id for t in bob.tokens.list()} >= {bobs.token_id}
    assert admins.token_id not in {t.token_id for t in bob.tokens.list()}
    assert bobs.token_id in {t.token_id for t in w.tokens.list()}  # admins see all
    with pytest.raises(NotFound):
        bob.tokens.delete(admins.token_id)
    bob.tokens.delete(bobs.token_id)
    w.tokens.delete(admins.token_id)


def test_current_user_is_the_tokens_owner(w: WorkspaceClient, bob: WorkspaceClient) -> None:
    me = w.current_user.me()
    them = bob.current_user.me()

    assert me.user_name == "admin" and me.active
    assert "admins" in [g.display for g in me.groups or []]
    assert them.user_name == "bob"
    assert [g.display for g in them.groups or []] == ["users"]
