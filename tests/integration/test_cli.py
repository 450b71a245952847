"""The ``podium`` command as a user runs it: real subprocesses, real exit codes."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.helpers import PODIUM, kill, podium_cli, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BAD = ROOT / "tests" / "data" / "specs" / "bad"


def podium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODIUM, *args], capture_output=True, text=True, timeout=timeout)


def spec_file(folder: Path, tasks: list[dict[str, object]], **fields: object) -> Path:
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump({"name": "cli_job", "tasks": tasks, **fields}))
    return path


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def test_help_lists_the_commands(home: Path) -> None:
    out = podium("--help")
    assert out.returncode == 0
    for command in ("run", "runs", "validate", "config"):
        assert command in out.stdout


def test_validate_good_and_bad_specs(home: Path) -> None:
    good = podium("validate", str(EXAMPLES / "seed_pipeline.yaml"))
    assert good.returncode == 0, good.stderr
    assert "valid job 'seed_pipeline' with 10 tasks" in good.stdout

    bad = podium("validate", str(BAD / "cycle.yaml"))
    assert bad.returncode == 2
    assert "nothing was recorded" in bad.stderr and "[cycle]" in bad.stderr
    assert not (home / "podium.db").exists()  # validation touches no state

    missing = podium("validate", str(BAD / "no-such-file.yaml"))
    assert missing.returncode == 2 and "[no-such-file]" in missing.stderr


def test_run_exit_codes_and_json_output(home: Path, tmp_path: Path) -> None:
    ok = spec_file(
        tmp_path,
        [{"task_key": "hello", "shell_task": sh("echo hi {{job.parameters.who}}")}],
        parameters=[{"name": "who", "default": "you"}],
    )
    result = podium("run", str(ok), "--param", "who=ada", "--output", "json")
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["state"] == {
        "life_cycle_state": "TERMINATED",
        "result_state": "SUCCESS",
        "state_message": "",
        "user_cancelled_or_timedout": False,
    }
    assert run["job_parameters"] == [{"name": "who", "value": "ada"}]
    assert run["tasks"][0]["task_key"] == "hello"

    logs = podium("runs", "logs", str(run["run_id"]), "hello")
    assert logs.returncode == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z out \| hi ada\n", logs.stdout)
    bare = podium("runs", "logs", str(run["run_id"]), "hello", "--no-timestamps")
    assert bare.stdout == "hi ada\n"

    unknown = podium("run", str(ok), "--param", "whom=x")
    assert unknown.returncode == 2
    assert "did you mean 'who'?" in unknown.stderr
    malformed = podium("run", str(ok), "--param", "who")
    assert malformed.returncode == 2 and "NAME=VALUE" in malformed.stderr

    failing = spec_file(tmp_path, [{"task_key": "bad", "shell_task": sh("echo oops >&2; exit 4")}])
    failed = podium("run", str(failing))
    assert failed.returncode == 1
    assert "exit code 4: oops" in failed.stdout


def test_runs_list_show_and_errors(home: Path, tmp_path: Path) -> None:
    empty = podium("runs", "list")
    assert empty.returncode == 0 and "no runs yet" in empty.stdout
    spec = spec_file(tmp_path, [{"task_key": "t", "shell_task": sh("true")}])
    assert podium("run", str(spec)).returncode == 0
    assert podium("run", str(spec)).returncode == 0

    listed = json.loads(podium("runs", "list", "--output", "json", "--limit", "1").stdout)
    # run 2 is the first run's task run: runs and task runs share one id sequence
    assert [r["run_id"] for r in listed["runs"]] == [3] and listed["has_more"] is True
    shown = json.loads(podium("runs", "show", "1", "-o", "json").stdout)
    assert shown["run_id"] == 1 and shown["tasks"][0]["state"]["result_state"] == "SUCCESS"
    text = podium("runs", "show", "1")
    assert "SUCCESS" in text.stdout and "t" in text.stdout

    nothing = podium("runs", "show", "99")
    assert nothing.returncode == 2 and "no run 99" in nothing.stderr
    no_task = podium("runs", "logs", "1", "tt")
    assert no_task.returncode == 2 and "did you mean 't'?" in no_task.stderr
    no_attempt = podium("runs", "logs", "1", "t", "--attempt", "5")
    assert no_attempt.returncode == 2 and "no attempt 5" in no_attempt.stderr
    done = podium("runs", "repair", "1")
    assert done.returncode == 2 and "no failed or canceled tasks" in done.stderr


def test_logs_follow_streams_until_the_task_ends(home: Path, tmp_path: Path) -> None:
    spec = spec_file(
        tmp_path,
        [
            {
                "task_key": "talk",
                "shell_task": sh(
                    "for i in 1 2 3; do echo line $i; sleep 0.3; done; touch started; "
                    "while [ ! -f go ]; do sleep 0.05; done; echo last line"
                ),
            }
        ],
    )
    run = podium_cli("run", str(spec))
    try:
        wait_for(lambda: (tmp_path / "started").exists(), what="the task to start")
        follow = podium_cli("runs", "logs", "1", "talk", "--follow", "--no-timestamps")
        (tmp_path / "go").touch()
        out, err = follow.communicate(timeout=60)
        assert follow.returncode == 0, err
        assert out.splitlines() == ["line 1", "line 2", "line 3", "last line"]
        assert run.wait(timeout=60) == 0
    finally:
        kill(run)


def test_live_view_on_a_terminal(home: Path, tmp_path: Path) -> None:
    spec = spec_file(
        tmp_path,
        [
            {"task_key": "a", "shell_task": sh("sleep 0.5")},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": sh("true")},
        ],
    )
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*PODIUM, "run", str(spec)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
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
    assert "run: RUNNING" in screen  # the live table was drawn while it ran
    assert "run 1 of job 1 (cli_job): SUCCESS" in screen


@pytest.mark.parametrize("form", ["seed_pipeline.yaml", "seed_pipeline.py"])
def test_seed_pipeline_runs_end_to_end(home: Path, form: str) -> None:
    # Each form in a fresh home: train's environment is built each time (from uv's cache).
    result = podium(
        "run",
        str(EXAMPLES / form),
        "--param",
        "run_date=2026-02-03",
        "--param",
        "size=3000",
        "-o",
        "json",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert {t["task_key"]: t["state"]["result_state"] for t in run["tasks"]} == dict.fromkeys(
        [
            "clicks_ingest",
            "orders_ingest",
            "match",
            "enough_rows",
            "build_features",
            "persist_features",
            "drift",
            "drift_found",
            "retrain_requested",
            "train",
        ],
        "SUCCESS",
    )
    values = {t["task_key"]: t.get("task_values", {}) for t in run["tasks"]}
    assert values["orders_ingest"]["rows"] > 0
    assert values["match"]["row_count"] >= 1000  # min_rows: enough_rows let train run
    assert values["persist_features"]["row_count"] == values["build_features"]["sessions"]
    assert Path(values["build_features"]["features_path"]).is_file()
    # A fresh home has no reference features: drift saved them and let train run.
    assert values["drift"]["baseline_created"] is True
    assert values["drift"]["drift_detected"] is True
    assert values["train"]["auc"] > 0.6
    assert Path(values["train"]["model_path"]).is_file()
    assert (home / "warehouse.duckdb").is_file()


def test_config_show_masks_secrets(home: Path) -> None:
    env = {
        **os.environ,
        "PODIUM_DATABASE_URL": "postgresql+psycopg://u:hunter2@db/x",
        "PODIUM_SMTP__PASSWORD": "hunter2",
    }
    out = subprocess.run([*PODIUM, "config", "show"], capture_output=True, text=True, env=env)
    assert out.returncode == 0
    assert "hunter2" not in out.stdout
    shown = json.loads(out.stdout)
    assert shown["database_url"] == "postgresql+psycopg://u:****@db/x"
    assert shown["smtp"]["password"] == "****"


def test_runs_output_shows_what_the_runner_reported(home: Path, tmp_path: Path) -> None:
    spec = spec_file(
        tmp_path,
        [
            {
                "task_key": "reporter",
                "shell_task": sh(
                    'echo working; echo \'{"sql_output": {"row_count": 2}, '
                    '"error": "the table is empty", "error_trace": "at line 1"}\' '
                    '> "$PODIUM_TASK_OUTPUT"; exit 1'
                ),
            },
        ],
    )
    assert podium("run", str(spec)).returncode == 1
    found = json.loads(podium("runs", "output", "1", "reporter", "-o", "json").stdout)
    assert found["metadata"]["task_key"] == "reporter"
    assert found["sql_output"] == {"row_count": 2}
    assert found["error"] == "the table is empty"  # the runner's words, not "exit code 1"
    assert found["error_trace"] == "at line 1"
    assert found["logs"].endswith("out | working\n") and found["logs_truncated"] is False
    text = podium("runs", "output", "1", "reporter")
    assert "error: the table is empty" in text.stdout and "row_count" in text.stdout
    missing = podium("runs", "output", "1", "reporter", "--attempt", "3")
    assert missing.returncode == 2 and "no attempt 3" in missing.stderr


def test_output_of_a_task_without_a_process_says_why(home: Path, tmp_path: Path) -> None:
    spec = spec_file(
        tmp_path,
        [
            {"task_key": "check", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "2"}},
            {
                "task_key": "then",
                "depends_on": [{"task_key": "check", "outcome": "true"}],
                "shell_task": sh("true"),
            },
        ],
    )
    assert podium("run", str(spec)).returncode == 0
    cond = podium("runs", "output", "1", "check")
    assert cond.returncode == 2
    assert "task 'check' of run 1 started no process" in cond.stderr
    assert "ended SUCCESS: '1' EQUAL_TO '2' is false" in cond.stderr
    skipped = podium("runs", "logs", "1", "then")
    assert skipped.returncode == 2 and "ended EXCLUDED: condition 'check' is false" in (
        skipped.stderr
    )
