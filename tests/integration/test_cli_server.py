"""The ``podium`` command against a real ``podium server`` (``--host``/``PODIUM_HOST``):
real subprocesses on both sides, the server on loopback."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from podium.errors import InvalidArgument, NotFound, SpecError, Unauthenticated
from podium.sdk import PodiumClient
from tests.integration.helpers import PODIUM, kill, wait_for


@dataclass
class Server:
    url: str
    home: Path
    client_home: Path  # the CLI's own PODIUM_HOME, which remote commands must not touch
    admin: str  # the first (admin) user's token
    files: Path  # where tests put job files and the files their tasks wait on

    def env(self, token: str | None = None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        return {**env, "PODIUM_HOME": str(self.client_home), "PODIUM_HOST": self.url,
                "PODIUM_TOKEN": self.admin if token is None else token, **extra}

    def cli(self, *args: str, token: str | None = None, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``podium ARGS`` against the server."""
        return subprocess.run([*PODIUM, *args], capture_output=True, text=True, input=stdin,
                              env=self.env(token), timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*PODIUM, *args], env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def json(self, *args: str) -> Any:
        out = self.cli(*args, "-o", "json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def job(self, name: str, tasks: list[dict[str, Any]], **fields: Any) -> int:
        """Store a job (``podium jobs create``) and return its id."""
        path = self.files / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "tasks": tasks, **fields}))
        out = self.cli("jobs", "create", str(path))
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    def run_state(self, run_id: int) -> str:
        state = self.json("runs", "show", str(run_id))["state"]
        return str(state.get("result_state") or state["life_cycle_state"])

    def local_token(self, user: str) -> str:
        """A token for ``user`` made on the server's home."""
        env = {**self.env(), "PODIUM_HOME": str(self.home), "PODIUM_HOST": ""}
        out = subprocess.run([*PODIUM, "token", "create", "--user", user], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``podium server`` for the module's tests (they use distinct job names)."""
    root = tmp_path_factory.mktemp("server")
    home, client_home, files = root / "home", root / "client-home", root / "files"
    files.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_HOME=str(home), PODIUM_MAX_PARALLEL_TASKS="4",
               PODIUM_CANCEL_GRACE_SECONDS="2")
    made = subprocess.run([*PODIUM, "token", "create", "--user", "admin"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    url = f"http://127.0.0.1:{free_port()}"
    log = open(root / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [*PODIUM, "server", "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]],
        env=env, cwd=files, stdout=log, stderr=subprocess.STDOUT, text=True,
    )

    def up() -> bool:
        assert proc.poll() is None, (root / "server.log").read_text()
        try:
            return httpx2.get(f"{url}/api/2.2/jobs/list", timeout=1).status_code == 401
        except httpx2.TransportError:
            return False

    try:
        wait_for(up, timeout=60, what="the server to answer")
        yield Server(url, home, client_home, made.stdout.strip(), files)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def test_jobs_through_the_server(server: Server) -> None:
    tasks = [{"task_key": "hello", "shell_task": sh("echo hi {{job.parameters.who}}")}]
    params = [{"name": "who", "default": "you"}]
    job_id = server.job("remote_jobs", tasks, parameters=params)
    tasks[0]["shell_task"] = sh("echo hello {{job.parameters.who}}")
    assert server.job("remote_jobs", tasks, parameters=params) == job_id  # a new version

    listed = server.json("jobs", "list")["jobs"]
    assert job_id in [j["job_id"] for j in listed]
    assert f"{job_id:>5}  remote_jobs  (1 tasks)" in server.cli("jobs", "list").stdout
    got = server.json("jobs", "get", "remote_jobs")
    assert got["job_id"] == job_id and got["creator_user_name"] == "admin"
    assert f"job {job_id}: remote_jobs" in server.cli("jobs", "get", str(job_id)).stdout

    versions = server.json("jobs", "versions", "remote_jobs")["versions"]
    assert [(v["version"], v["change"], v["created_by"]) for v in versions] == [
        (1, "create", "admin"), (2, "update", "admin")]
    diff = server.cli("jobs", "versions", "remote_jobs", "--diff", "1", "2")
    assert "+  shell_task:" not in diff.stdout and "+    - echo hello" in diff.stdout

    # Without --wait run-now returns the run's id at once; the server runs it.
    started = server.cli("jobs", "run-now", "remote_jobs", "-p", "who=ada")
    assert started.returncode == 0, started.stderr
    run_id = int(started.stdout)
    wait_for(lambda: server.run_state(run_id) == "SUCCESS", what="the run to succeed")
    logs = server.cli("runs", "logs", str(run_id), "hello", "--no-timestamps")
    assert logs.returncode == 0 and logs.stdout == "hello ada\n"

    waited = server.cli("jobs", "run-now", str(job_id), "--wait", "-o", "json")
    assert waited.returncode == 0, waited.stderr
    run = json.loads(waited.stdout)
    assert run["state"]["result_state"] == "SUCCESS" and run["run_id"] > run_id
    unknown = server.cli("jobs", "run-now", str(job_id), "-p", "whom=x")
    assert unknown.returncode == 2 and "did you mean 'who'?" in unknown.stderr

    assert server.cli("jobs", "delete", "remote_jobs").returncode == 0
    gone = server.cli("jobs", "get", str(job_id))
    assert gone.returncode == 2 and f"job {job_id} does not exist" in gone.stderr
    by_name = server.cli("jobs", "get", "remote_jobs")
    assert by_name.returncode == 2 and f"no job 'remote_jobs' on {server.url}" in by_name.stderr
    assert not server.client_home.exists()  # the CLI's own home was never touched


def test_runs_through_the_server(server: Server) -> None:
    flag = server.files / "fixed"
    job_id = server.job("remote_runs", [
        {"task_key": "first", "shell_task": sh("echo one")},
        {"task_key": "flaky", "depends_on": [{"task_key": "first"}],
         "shell_task": sh(f"echo trying; test -f {flag} || {{ echo broken >&2; exit 3; }}")},
        {"task_key": "last", "depends_on": [{"task_key": "flaky"}], "shell_task": sh("true")},
    ])
    failed = server.cli("jobs", "run-now", "remote_runs", "--wait")
    assert failed.returncode == 1
    assert "exit code 3: broken" in failed.stdout  # the summary of the finished run
    assert "flaky TERMINATED FAILED: exit code 3" in failed.stderr  # progress while it ran
    run = server.json("runs", "list", "--limit", "1")["runs"][0]
    run_id = run["run_id"]
    assert run["job_id"] == job_id and run["state"]["result_state"] == "FAILED"

    shown = server.json("runs", "show", str(run_id))
    states = {t["task_key"]: t["state"].get("result_state") for t in shown["tasks"]}
    assert states == {"first": "SUCCESS", "flaky": "FAILED", "last": "UPSTREAM_FAILED"}
    assert "FAILED" in server.cli("runs", "show", str(run_id)).stdout
    output = server.json("runs", "output", str(run_id), "flaky")
    assert output["error"] == "exit code 3: broken" and "out | trying" in output["logs"]
    assert "error: exit code 3: broken" in server.cli("runs", "output", str(run_id),
                                                      "flaky").stdout
    no_task = server.cli("runs", "logs", str(run_id), "flaky2")
    assert no_task.returncode == 2 and "did you mean 'flaky'?" in no_task.stderr
    bad_task = server.cli("runs", "repair", str(run_id), "--task", "nope")
    assert bad_task.returncode == 2 and "no task 'nope'" in bad_task.stderr

    # Repair: the server re-runs the failed task and what follows; the CLI follows it.
    flag.touch()
    repaired = server.cli("runs", "repair", str(run_id))
    assert repaired.returncode == 0, repaired.stderr
    assert f"repairing run {run_id} (repair 1)" in repaired.stderr
    assert "last TERMINATED SUCCESS" in repaired.stderr
    assert f"run {run_id} of job {job_id} (remote_runs): SUCCESS" in repaired.stdout
    after = server.json("runs", "show", str(run_id))
    assert after["repair_count"] == 1
    assert [len(t["attempts"]) for t in after["tasks"]] == [1, 2, 1]  # first kept
    nothing = server.cli("runs", "repair", str(run_id))
    assert nothing.returncode == 2 and "no failed or canceled tasks" in nothing.stderr
    missing = server.cli("runs", "show", "9999")
    assert missing.returncode == 2 and "9999" in missing.stderr


def test_logs_follow_and_cancel_through_the_server(server: Server) -> None:
    started, go, tried = (server.files / n for n in ("started", "go", "tried"))
    server.job("remote_follow", [{
        "task_key": "talk", "max_retries": 1, "min_retry_interval_millis": 10,
        "shell_task": sh(
            f"if [ -f {tried} ]; then echo second; exit 0; fi; touch {tried}; "
            f"for i in 1 2; do echo line $i; done; touch {started}; "
            f"while [ ! -f {go} ]; do sleep 0.05; done; echo first ends; exit 1"
        ),
    }])
    run_id = int(server.cli("jobs", "run-now", "remote_follow").stdout)
    wait_for(started.exists, what="the task to start")
    follow = server.start("runs", "logs", str(run_id), "talk", "--follow", "--no-timestamps")
    try:
        assert follow.stdout is not None
        printed = [follow.stdout.readline(), follow.stdout.readline()]
        assert printed == ["line 1\n", "line 2\n"]
        go.touch()  # end the first attempt while the log is followed
        out, err = follow.communicate(timeout=60)
        assert follow.returncode == 0, err
        assert out.splitlines() == ["first ends", "--- talk.1.log ---", "second"]
    finally:
        kill(follow)
    wait_for(lambda: server.run_state(run_id) == "SUCCESS", what="the retry to succeed")
    first = server.cli("runs", "logs", str(run_id), "talk", "--attempt", "0", "--no-timestamps")
    assert first.stdout == "line 1\nline 2\nfirst ends\n"

    server.job("remote_cancel", [{"task_key": "sleepy", "shell_task": sh("sleep 60")}])
    long_run = int(server.cli("jobs", "run-now", "remote_cancel").stdout)
    wait_for(lambda: server.run_state(long_run) == "RUNNING", what="the run to start")
    canceled = server.cli("runs", "cancel", str(long_run))
    assert canceled.returncode == 0 and "cancel requested" in canceled.stdout
    wait_for(lambda: server.run_state(long_run) == "CANCELED", what="the run to stop")


def test_who_may_do_what_through_the_cli(server: Server) -> None:
    server.job("remote_private", [{"task_key": "t", "shell_task": sh("true")}])
    bob = server.local_token("bob")
    hidden = server.cli("jobs", "get", "remote_private", token=bob)
    assert hidden.returncode == 2 and "no job 'remote_private'" in hidden.stderr
    assert server.json("jobs", "list")["jobs"]  # the admin sees jobs...
    bobs = server.cli("jobs", "list", "-o", "json", token=bob)
    assert "remote_private" not in bobs.stdout  # ...bob sees none of them
    audit = server.cli("audit", token=bob)
    assert audit.returncode == 2 and "only admins may read the audit log" in audit.stderr
    bad = server.cli("runs", "list", token="pod" + "0" * 40)
    assert bad.returncode == 2 and "the token is not valid" in bad.stderr
    # A token for oneself through the server; another user's needs the server's home.
    made = server.cli("token", "create", "--comment", "bob's laptop", token=bob)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("pod") and len(made.stdout.split()) == 1
    assert server.cli("runs", "list", token=made.stdout.strip()).returncode == 0
    other = server.cli("token", "create", "--user", "carol", token=bob)
    assert other.returncode == 2 and "--user" in other.stderr
    mine = server.json("token", "list")["token_infos"]
    laptop = [t for t in mine if t.get("comment") == "bob's laptop"]
    assert len(laptop) == 1
    assert server.cli("token", "revoke", laptop[0]["token_id"]).returncode == 0
    revoked = server.cli("runs", "list", token=made.stdout.strip())
    assert revoked.returncode == 2 and "not valid" in revoked.stderr
    local = server.cli("runs", "resume", "1")
    assert local.returncode == 2 and "local $PODIUM_HOME only" in local.stderr


def test_secrets_and_audit_through_the_server(server: Server) -> None:
    assert server.cli("secrets", "create-scope", "remote_scope").returncode == 0
    put = server.cli("secrets", "put", "remote_scope", "password", stdin="hunter2\n")
    assert put.returncode == 0, put.stderr
    assert server.cli("secrets", "put", "remote_scope", "user", "--value", "ada").returncode == 0
    keys = server.json("secrets", "list", "remote_scope")["secrets"]
    assert sorted(s["key"] for s in keys) == ["password", "user"]
    assert "remote_scope" in [s["name"] for s in server.json("secrets", "list-scopes")["scopes"]]
    secret_job = server.job("remote_secret", [{
        "task_key": "use", "environment_variables": {"PW": "{{secrets/remote_scope/password}}"},
        "shell_task": sh('test "$PW" = hunter2 && echo "got $PW"'),
    }])
    ran = server.cli("jobs", "run-now", "remote_secret", "--wait")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = server.json("runs", "list", "--limit", "1")["runs"][0]["run_id"]
    log = server.cli("runs", "logs", str(run_id), "use", "--no-timestamps").stdout
    assert "got " in log and "hunter2" not in log
    assert server.cli("secrets", "delete", "remote_scope", "user").returncode == 0
    missing = server.cli("secrets", "delete", "remote_scope", "user")
    assert missing.returncode == 2 and "has no key 'user'" in missing.stderr
    assert server.cli("secrets", "delete-scope", "remote_scope").returncode == 0
    gone = server.cli("secrets", "list", "remote_scope")
    assert gone.returncode == 2 and "no secret scope" in gone.stderr

    events = server.json("audit", "--limit", "20")["events"]
    seen = [(e["actor"], e["action"], e["object_type"], e["object_id"]) for e in events]
    assert seen[0] == ("admin", "delete", "secret_scope", "remote_scope")
    assert ("admin", "run", "job", str(secret_job)) in seen
    assert ("admin", "put", "secret", "remote_scope/password") in seen
    text = server.cli("audit", "--limit", "1").stdout
    assert "admin" in text and "secret_scope remote_scope" in text


def test_a_run_followed_on_a_terminal_shows_a_live_table(server: Server) -> None:
    server.job("remote_live", [
        {"task_key": "a", "shell_task": sh("sleep 1")},
        {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": sh("true")},
    ])
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*PODIUM, "jobs", "run-now", "remote_live", "--wait"],
                            stdin=follower, stdout=follower, stderr=follower,
                            env=server.env(COLUMNS="100", TERM="xterm"))
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert re.search(r"run \d+: RUNNING", screen)  # the live table, while it ran
    assert re.search(r"run \d+ of job \d+ \(remote_live\): SUCCESS", screen)


def test_the_client_raises_podium_errors(server: Server) -> None:
    with PodiumClient(server.url, server.admin) as client:
        bad = {"name": "remote_bad", "tasks": [
            {"task_key": "a", "depends_on": [{"task_key": "zz"}], "shell_task": sh("true")}]}
        with pytest.raises(SpecError, match=r"(?s)nothing was recorded.*no task 'zz'"):
            client.create_job(bad)
        with pytest.raises(NotFound, match="9999"):
            client.get_run(9999)
        job_id = client.save_job({"name": "remote_sdk", "tasks": [
            {"task_key": "t", "shell_task": sh("echo sdk")}]})
        assert client.find_job_id("remote_sdk") == job_id
        with pytest.raises(InvalidArgument, match="no parameter 'whom'"):
            client.run_now(job_id, {"whom": "x"})
        run_id = client.run_now(job_id)
        wait_for(lambda: client.get_run(run_id)["state"].get("result_state") == "SUCCESS",
                 what="the run to succeed")
        chunk = client.read_log(run_id, "t")
        assert chunk.data.endswith(b"out | sdk\n") and not chunk.running
        assert chunk.name == "t.0.log" and chunk.attempt_number == 0
        assert client.read_log(run_id, "t", offset=chunk.next_offset).data == b""
    with PodiumClient(server.url, "nope") as stranger, pytest.raises(Unauthenticated):
        stranger.list_jobs()
