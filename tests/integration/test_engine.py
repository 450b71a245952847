"""The engine with real subprocesses on a real database: order, values, conditions,
retries, timeouts, limits and failures of user code."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from podium.core import ResultState
from podium.engine import Engine
from podium.executors import AttemptRequest, LocalExecutor, Outcome
from podium.services import Podium, get_run, submit_run
from podium.store import runs as q
from tests.integration.helpers import job, pid_alive, results, run_job, tasks_by_key, wait_for

SH = "bash"


def sh(script: str) -> dict[str, list[str]]:
    return {"command": [SH, "-c", script]}


def test_runs_a_dag_in_order_with_values_conditions_and_parameters(
    any_podium: Podium, tmp_path: Path
) -> None:
    spec = job(
        [
            {
                "task_key": "a",
                "shell_task": sh(
                    'echo start >> order.txt; python -c "from podium import task_values as v; '
                    "v.set('n', 7); v.set('who', '$WHO')\""
                ),
                "environment_variables": {"WHO": "{{job.parameters.who}}"},
            },
            {
                "task_key": "b",
                "depends_on": [{"task_key": "a"}],
                "python_function_task": {
                    "function": "json:loads",
                    "parameters": ["{{tasks.a.values.n}}"],
                },
            },
            {
                "task_key": "big",
                "depends_on": [{"task_key": "a"}],
                "condition_task": {
                    "op": "GREATER_THAN",
                    "left": "{{tasks.a.values.n}}",
                    "right": "5",
                },
            },
            {
                "task_key": "yes",
                "depends_on": [{"task_key": "big", "outcome": "true"}],
                "shell_task": sh("echo yes-{{run.id}}-{{job.parameters.who}} >> order.txt"),
            },
            {
                "task_key": "no",
                "depends_on": [{"task_key": "big", "outcome": "false"}],
                "shell_task": sh("echo no >> order.txt"),
            },
            {"task_key": "off", "disabled": True, "shell_task": sh("echo off >> order.txt")},
            {
                "task_key": "after_off",
                "depends_on": [{"task_key": "off"}],
                "shell_task": sh("echo after_off >> order.txt"),
            },
        ],
        tmp_path,
        parameters=[{"name": "who", "default": "nobody"}],
    )

    run = run_job(any_podium, spec, who="ada")

    assert run["state"]["result_state"] == "SUCCESS"
    assert results(run) == {
        "a": "SUCCESS",
        "b": "SUCCESS",
        "big": "SUCCESS",
        "yes": "SUCCESS",
        "no": "EXCLUDED",
        "off": "DISABLED",
        "after_off": "SUCCESS",
    }
    tasks = tasks_by_key(run)
    assert tasks["a"]["task_values"] == {"n": 7, "who": "ada"}
    assert tasks["b"]["task_values"] == {"returned": 7}
    assert tasks["big"]["condition_task"]["outcome"] == "true"
    assert "condition 'big' is true" in tasks["no"]["state"]["state_message"]
    lines = (tmp_path / "order.txt").read_text().split()
    assert lines.index("start") < lines.index(f"yes-{run['run_id']}-ada")
    assert "no" not in lines and "off" not in lines and "after_off" in lines
    # Every transition was recorded, in order.
    with any_podium.sessions() as session:
        trail = [
            (t.task_key, t.life_cycle_state) for t in q.get_transitions(session, run["run_id"])
        ]
    assert trail.index(("a", "TERMINATED")) < trail.index(("b", "RUNNING"))
    assert trail[-1] == (None, "TERMINATED")


def test_failure_propagates_and_run_fails_with_the_message(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {"task_key": "boom", "python_function_task": {"function": "boom:explode"}},
            {"task_key": "next", "depends_on": [{"task_key": "boom"}], "shell_task": sh("true")},
            {
                "task_key": "cleanup",
                "depends_on": [{"task_key": "next"}],
                "run_if": "ALL_DONE",
                "shell_task": sh("true"),
            },
        ],
        tmp_path,
    )
    (tmp_path / "boom.py").write_text("def explode():\n    raise ValueError('bad input 42')\n")

    run = run_job(podium, spec)

    assert results(run) == {"boom": "FAILED", "next": "UPSTREAM_FAILED", "cleanup": "SUCCESS"}
    # A handled failure: the leaf succeeded, so the run is SUCCESS_WITH_FAILURES.
    assert run["state"]["result_state"] == "SUCCESS_WITH_FAILURES"
    boom = tasks_by_key(run)["boom"]
    assert "ValueError: bad input 42" in boom["state"]["state_message"]
    log = Path(boom["attempts"][0]["log_path"]).read_text()
    assert "Traceback" in log and "explode" in log


def test_retries_wait_their_interval_and_count_attempts(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {
                "task_key": "flaky",
                "max_retries": 3,
                "min_retry_interval_millis": 400,
                "shell_task": sh(
                    "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; "
                    "[ $n -ge 2 ] || { echo failing $n; exit 3; }"
                ),
            }
        ],
        tmp_path,
    )

    run = run_job(podium, spec)

    flaky = tasks_by_key(run)["flaky"]
    assert run["state"]["result_state"] == "SUCCESS"
    assert [a["state"]["result_state"] for a in flaky["attempts"]] == [
        "FAILED",
        "FAILED",
        "SUCCESS",
    ]
    assert [a["attempt_number"] for a in flaky["attempts"]] == [0, 1, 2]
    assert flaky["attempts"][0]["state"]["state_message"] == "exit code 3: failing 0"
    for before, after in zip(flaky["attempts"], flaky["attempts"][1:], strict=False):
        assert after["start_time"] - before["end_time"] >= 400


def test_retries_run_out(podium: Podium, tmp_path: Path) -> None:
    spec = job([{"task_key": "bad", "max_retries": 1, "shell_task": sh("exit 1")}], tmp_path)
    run = run_job(podium, spec)
    assert run["state"]["result_state"] == "FAILED"
    assert len(tasks_by_key(run)["bad"]["attempts"]) == 2


def test_a_timeout_kills_a_hanging_task(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {
                "task_key": "hang",
                "timeout_seconds": 1,
                "shell_task": sh("echo $$ > pid; trap '' TERM; sleep 120 & wait"),
            },
            {"task_key": "later", "depends_on": [{"task_key": "hang"}], "shell_task": sh("true")},
        ],
        tmp_path,
    )

    run = run_job(podium, spec)

    assert results(run) == {"hang": "TIMEDOUT", "later": "UPSTREAM_FAILED"}
    assert run["state"]["result_state"] == "FAILED"
    assert "timed out after 1 s" in tasks_by_key(run)["hang"]["state"]["state_message"]
    # SIGTERM was ignored, so SIGKILL after the grace period ended it and its child.
    assert not pid_alive(int((tmp_path / "pid").read_text()))


def test_retry_on_timeout(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {
                "task_key": "slow_once",
                "timeout_seconds": 1,
                "max_retries": 1,
                "retry_on_timeout": True,
                "shell_task": sh("if [ -f seen ]; then exit 0; fi; touch seen; sleep 30"),
            }
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    attempts = tasks_by_key(run)["slow_once"]["attempts"]
    assert [a["state"]["result_state"] for a in attempts] == ["TIMEDOUT", "SUCCESS"]


def test_job_timeout_stops_the_run(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {"task_key": "long", "shell_task": sh("sleep 30")},
            {"task_key": "never", "depends_on": [{"task_key": "long"}], "shell_task": sh("true")},
        ],
        tmp_path,
        timeout_seconds=1,
    )
    run = run_job(podium, spec)
    assert run["state"]["result_state"] == "TIMEDOUT"
    assert results(run) == {"long": "TIMEDOUT", "never": "UPSTREAM_CANCELED"}


def test_task_values_are_limited_to_48_kib(podium: Podium, tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text(
        "from podium import task_values\n"
        "def small():\n    task_values.set('ok', 'x' * 100)\n"
        "def huge():\n    return 'x' * (49 * 1024)\n"
    )
    spec = job(
        [
            {"task_key": "small", "python_function_task": {"function": "big:small"}},
            {"task_key": "huge", "python_function_task": {"function": "big:huge"}},
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    tasks = tasks_by_key(run)
    assert tasks["small"]["task_values"] == {"ok": "x" * 100}
    # The worker refuses to store an oversized return value and says so in the log.
    assert tasks["huge"]["task_values"] == {}
    log = Path(tasks["huge"]["attempts"][0]["log_path"]).read_text()
    assert "larger than 48 KiB" in log


def test_a_missing_task_value_fails_the_task_clearly(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {"task_key": "quiet", "shell_task": sh("true")},
            {
                "task_key": "reader",
                "depends_on": [{"task_key": "quiet"}],
                "shell_task": sh("echo {{tasks.quiet.values.rows}}"),
            },
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    reader = tasks_by_key(run)["reader"]
    assert reader["state"]["result_state"] == "FAILED"
    assert "task 'quiet' set no task value 'rows'" in reader["state"]["state_message"]


def test_parallelism_is_bounded(podium: Podium, tmp_path: Path) -> None:
    script = "date +%s.%N >> spans; sleep 0.3; date +%s.%N >> spans"
    spec = job([{"task_key": f"t{i}", "shell_task": sh(script)} for i in range(5)], tmp_path)
    run = run_job(podium, spec)
    assert run["state"]["result_state"] == "SUCCESS"
    with podium.sessions() as session:
        attempts = q.get_attempts(session, run["run_id"])
    events = sorted(
        [(a.started_at, 1) for a in attempts] + [(a.ended_at, -1) for a in attempts],
        key=lambda e: (e[0] or datetime.max, e[1]),
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2  # PODIUM_MAX_PARALLEL_TASKS=2 in the fixture


def test_a_missing_program_fails_the_task(podium: Podium, tmp_path: Path) -> None:
    spec = job([{"task_key": "x", "shell_task": {"command": ["no-such-program-podium"]}}], tmp_path)
    run = run_job(podium, spec)
    message = tasks_by_key(run)["x"]["state"]["state_message"]
    assert "cannot start 'no-such-program-podium'" in message


def test_python_file_task_gets_parameters_and_env(podium: Podium, tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(
        "import json, os, sys\n"
        "from podium import task_values\n"
        "task_values.set('argv', sys.argv[1:])\n"
        "task_values.set('env', {k: os.environ[k] for k in "
        "('PODIUM_TASK_KEY', 'PODIUM_ATTEMPT_NUMBER')})\n"
        "open(os.path.join(os.environ['PODIUM_ARTIFACTS_DIR'], 'out.txt'), 'w').write('hi')\n"
    )
    spec = job(
        [
            {
                "task_key": "py",
                "spark_python_task": {
                    "python_file": "script.py",
                    "parameters": ["--date", "{{job.start_time.iso_date}}"],
                },
            }
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    values = tasks_by_key(run)["py"]["task_values"]
    assert values["argv"][0] == "--date" and len(values["argv"][1]) == 10
    assert values["env"] == {"PODIUM_TASK_KEY": "py", "PODIUM_ATTEMPT_NUMBER": "0"}
    artifacts = podium.settings.home / "artifacts" / str(run["run_id"])
    assert (artifacts / "out.txt").read_text() == "hi"
    assert (
        json.loads(json.dumps(run))["tasks"][0]["spark_python_task"]["python_file"] == "script.py"
    )


class BrokenExecutor(LocalExecutor):
    """An executor with a bug: it raises instead of reporting an outcome."""

    async def run(self, request: AttemptRequest) -> Outcome:
        raise RuntimeError("executor bug")


def test_an_executor_failure_is_an_internal_error_not_a_task_failure(
    podium: Podium, tmp_path: Path
) -> None:
    spec = job(
        [
            {"task_key": "a", "max_retries": 3, "shell_task": sh("true")},
            {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": sh("true")},
        ],
        tmp_path,
    )
    run_id = submit_run(podium, spec)
    engine = Engine(podium.sessions, podium.settings, executor=BrokenExecutor())

    async def scenario() -> ResultState:
        try:
            return await engine.execute(run_id)
        finally:
            await engine.close()

    assert asyncio.run(scenario()) == ResultState.FAILED
    run = get_run(podium, run_id)
    a = tasks_by_key(run)["a"]
    assert a["state"]["life_cycle_state"] == "INTERNAL_ERROR"
    assert a["state"]["state_message"] == "internal error: executor bug"
    assert len(a["attempts"]) == 1  # never retried
    assert results(run)["b"] == "UPSTREAM_FAILED"


def test_a_store_failure_stops_the_engine_and_its_processes(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {"task_key": "short", "shell_task": sh("touch short.started; sleep 1")},
            {"task_key": "long", "shell_task": sh("echo $$ > long.pid; sleep 120")},
        ],
        tmp_path,
    )
    run_id = submit_run(podium, spec)
    engine = Engine(podium.sessions, podium.settings)

    async def scenario() -> None:
        running = asyncio.ensure_future(engine.execute(run_id))
        await asyncio.to_thread(wait_for, lambda: (tmp_path / "long.pid").exists())
        # Another process breaks the database under the engine's feet.
        with podium.db.begin() as conn:
            conn.execute(text("DROP TABLE transitions"))
        with pytest.raises(DBAPIError):  # OperationalError on SQLite, ProgrammingError on PG
            await running
        await engine.close()

    asyncio.run(scenario())
    assert not pid_alive(int((tmp_path / "long.pid").read_text()))
