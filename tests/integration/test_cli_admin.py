"""``podium token``, ``secrets``, ``audit`` and ``jobs get/delete/run-now/versions`` on the
local home, as a user runs them: real subprocesses, real exit codes."""

from __future__ import annotations

import getpass
import json
import re
import socket
import subprocess
from pathlib import Path

import yaml

from tests.integration.helpers import PODIUM


def podium(*args: str, stdin: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODIUM, *args], capture_output=True, text=True, input=stdin,
                          timeout=timeout)


def write_job(path: Path, echo: str = "hi", name: str = "admin_job") -> Path:
    path.write_text(yaml.safe_dump({
        "name": name,
        "parameters": [{"name": "who", "default": "you"}],
        "tasks": [
            {"task_key": "greet",
             "shell_task": {"command": ["bash", "-c", f"echo {echo} {{{{job.parameters.who}}}}"]}},
            {"task_key": "after", "depends_on": [{"task_key": "greet"}],
             "shell_task": {"command": ["bash", "-c", "test \"$WHO\" != fail"]},
             "environment_variables": {"WHO": "{{job.parameters.who}}"}},
        ],
    }))
    return path


def test_help_lists_the_new_commands(home: Path) -> None:
    out = podium("--help")
    assert out.returncode == 0
    for command in ("token", "secrets", "audit", "server"):
        assert command in out.stdout


def test_token_create_list_revoke(home: Path) -> None:
    made = podium("token", "create", "--comment", "for ci")
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"pod[0-9a-f]{40}\n", made.stdout)  # only the token on stdout
    other = podium("token", "create", "--user", "bob", "--lifetime-seconds", "3600")
    assert other.returncode == 0, other.stderr

    listed = json.loads(podium("token", "list", "-o", "json").stdout)["token_infos"]
    assert [(t["user_name"], t["comment"]) for t in listed] == [
        (getpass.getuser(), "for ci"), ("bob", "")]
    assert listed[0]["expiry_time"] == -1 and listed[1]["expiry_time"] > 0
    assert made.stdout.strip() not in json.dumps(listed)  # never the token's text
    text = podium("token", "list").stdout
    assert "for ci" in text and "bob" in text and "never" in text

    gone = podium("token", "revoke", listed[1]["token_id"])
    assert gone.returncode == 0 and "revoked" in gone.stdout
    assert [t["user_name"] for t in json.loads(podium("token", "list", "-o", "json").stdout)[
        "token_infos"]] == [getpass.getuser()]
    again = podium("token", "revoke", listed[1]["token_id"])
    assert again.returncode == 2 and "no token" in again.stderr
    bad = podium("token", "create", "--lifetime-seconds", "0")
    assert bad.returncode == 2 and "--lifetime-seconds" in bad.stderr


def test_secrets_scopes_and_keys(home: Path) -> None:
    assert podium("secrets", "list-scopes").stdout.startswith("no secret scopes yet")
    assert podium("secrets", "create-scope", "warehouse").returncode == 0
    dup = podium("secrets", "create-scope", "warehouse")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    bad = podium("secrets", "create-scope", "no spaces")
    assert bad.returncode == 2 and "not a valid name" in bad.stderr

    assert podium("secrets", "put", "warehouse", "user", "--value", "ada").returncode == 0
    piped = podium("secrets", "put", "warehouse", "password", stdin="hunter2\n")
    assert piped.returncode == 0, piped.stderr
    assert "stored secret warehouse/password" in piped.stdout

    listed = json.loads(podium("secrets", "list", "warehouse", "-o", "json").stdout)
    assert sorted(s["key"] for s in listed["secrets"]) == ["password", "user"]
    assert all(s["last_updated_timestamp"] > 0 for s in listed["secrets"])
    text = podium("secrets", "list", "warehouse")
    assert "password" in text.stdout and "hunter2" not in text.stdout
    scopes = json.loads(podium("secrets", "list-scopes", "-o", "json").stdout)["scopes"]
    assert [s["name"] for s in scopes] == ["warehouse"]

    assert podium("secrets", "delete", "warehouse", "user").returncode == 0
    missing = podium("secrets", "delete", "warehouse", "user")
    assert missing.returncode == 2 and "has no key 'user'" in missing.stderr
    assert podium("secrets", "delete-scope", "warehouse").returncode == 0
    nothing = podium("secrets", "list", "warehouse")
    assert nothing.returncode == 2 and "no secret scope 'warehouse'" in nothing.stderr


def test_a_secret_reaches_a_task_and_no_log(home: Path, tmp_path: Path) -> None:
    assert podium("secrets", "create-scope", "s").returncode == 0
    assert podium("secrets", "put", "s", "k", stdin="sesame").returncode == 0
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump({"name": "secretive", "tasks": [{
        "task_key": "use",
        "shell_task": {"command": ["bash", "-c", 'test "$PW" = sesame && echo "pw=$PW"']},
        "environment_variables": {"PW": "{{secrets/s/k}}"},
    }]}))
    ran = podium("run", str(spec))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    log = podium("runs", "logs", "1", "use", "--no-timestamps")
    assert "sesame" not in log.stdout and "pw=" in log.stdout


def test_audit_log(home: Path, tmp_path: Path) -> None:
    assert podium("token", "create", "--user", "carol").returncode == 0
    assert podium("secrets", "create-scope", "s").returncode == 0
    assert podium("jobs", "create", str(write_job(tmp_path / "job.yaml"))).returncode == 0

    events = json.loads(podium("audit", "-o", "json").stdout)["events"]
    assert [(e["action"], e["object_type"]) for e in events] == [
        ("create", "job"), ("create", "secret_scope"), ("create", "token")]
    me = f"local:{getpass.getuser()}"
    assert {e["actor"] for e in events} == {me}
    assert events[0]["object_id"] == "1" and events[0]["detail"] == {"name": "admin_job"}
    assert events[0]["id"] > events[1]["id"] > events[2]["id"] and events[0]["time"] > 0

    one = json.loads(podium("audit", "--limit", "1", "-o", "json").stdout)["events"]
    assert [e["id"] for e in one] == [events[0]["id"]]
    older = json.loads(podium("audit", "--before-id", str(events[1]["id"]), "-o", "json")
                       .stdout)["events"]
    assert [e["id"] for e in older] == [events[2]["id"]]
    text = podium("audit").stdout.splitlines()
    assert len(text) == 3 and "create" in text[0] and "job 1" in text[0]


def test_jobs_get_versions_run_now_delete(home: Path, tmp_path: Path) -> None:
    spec = write_job(tmp_path / "job.yaml")
    assert podium("jobs", "create", str(spec)).stdout == "1\n"
    write_job(spec, echo="hello")
    assert podium("jobs", "create", str(spec)).stdout == "1\n"  # same name: a new version

    got = json.loads(podium("jobs", "get", "admin_job", "-o", "json").stdout)
    assert got["job_id"] == 1 and got["settings"]["name"] == "admin_job"
    text = podium("jobs", "get", "1").stdout
    assert "job 1: admin_job, version 2" in text
    assert "task after (shell_task) after greet" in text and "parameter who = 'you'" in text

    versions = json.loads(podium("jobs", "versions", "admin_job", "-o", "json").stdout)
    assert [(v["version"], v["change"]) for v in versions["versions"]] == [
        (1, "create"), (2, "update")]
    listed = podium("jobs", "versions", "1").stdout.splitlines()
    assert len(listed) == 2 and "update" in listed[1]
    diff = podium("jobs", "versions", "admin_job", "--diff", "1", "2")
    assert diff.returncode == 0
    assert "-    - echo hi {{job.parameters.who}}" in diff.stdout
    assert "+    - echo hello {{job.parameters.who}}" in diff.stdout
    same = podium("jobs", "versions", "1", "--diff", "2", "2")
    assert "have the same settings" in same.stdout
    no_version = podium("jobs", "versions", "1", "--diff", "1", "7")
    assert no_version.returncode == 2 and "no version 7" in no_version.stderr

    # Locally the run executes in this process: run-now waits for it.
    ok = podium("jobs", "run-now", "admin_job", "--param", "who=ada", "-o", "json")
    assert ok.returncode == 0, ok.stderr
    run = json.loads(ok.stdout)
    assert run["state"]["result_state"] == "SUCCESS" and run["job_id"] == 1
    assert run["job_parameters"] == [{"name": "who", "value": "ada"}]
    assert podium("runs", "logs", str(run["run_id"]), "greet", "--no-timestamps").stdout == (
        "hello ada\n")
    failed = podium("jobs", "run-now", "1", "-p", "who=fail")
    assert failed.returncode == 1 and "FAILED" in failed.stdout
    unknown = podium("jobs", "run-now", "1", "-p", "whom=x")
    assert unknown.returncode == 2 and "did you mean 'who'?" in unknown.stderr

    gone = podium("jobs", "delete", "admin_job")
    assert gone.returncode == 0 and "deleted job 1" in gone.stdout
    missing = podium("jobs", "get", "admin_job")
    assert missing.returncode == 2 and "no job 'admin_job'" in missing.stderr
    assert json.loads(podium("jobs", "list", "-o", "json").stdout)["jobs"] == []
    # Its runs are kept.
    assert podium("runs", "show", str(run["run_id"])).returncode == 0


def test_remote_only_and_local_only_errors(home: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = f"http://127.0.0.1:{port}"
    down = podium("runs", "--host", host, "--token", "t", "list")
    assert down.returncode == 2
    assert f"cannot reach the Podium server at {host}" in down.stderr
    no_token = podium("jobs", "--host", host, "list")
    assert no_token.returncode == 2 and "a token is needed" in no_token.stderr
    resume = podium("runs", "--host", host, "--token", "t", "resume", "1")
    assert resume.returncode == 2 and "local $PODIUM_HOME only" in resume.stderr
    assert not (home / "podium.db").exists()  # nothing touched the local home
