"""for_each_task and run_job_task: child runs driven by the same engine, visible,
repairable, cancelable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from podium.errors import InvalidJobSpec
from podium.services import (
    Podium,
    execute_run,
    get_output,
    get_run,
    list_runs,
    repair_run,
)
from podium.spec import parse_job
from tests.integration.helpers import (
    PODIUM,
    job,
    kill,
    pid_alive,
    podium_cli,
    results,
    run_job,
    tasks_by_key,
    wait_for,
)


def sh(script: str) -> dict[str, list[str]]:
    return {"command": ["bash", "-c", script]}


def children_of(podium: Podium, run_id: int) -> list[dict[str, object]]:
    runs = list_runs(podium, limit=100)["runs"]
    return sorted((r for r in runs if r.get("parent_run_id") == run_id), key=lambda r: r["run_id"])


def fan_out(
    tmp_path: Path, inputs: str = "{{tasks.list.values.names}}", **nested: object
) -> object:
    return job(
        [
            {
                "task_key": "list",
                "shell_task": sh(
                    'python -c "from podium import task_values as v; '
                    "v.set('names', ['a', 'b', 'c'])\""
                ),
            },
            {
                "task_key": "each",
                "depends_on": [{"task_key": "list"}],
                "for_each_task": {
                    "inputs": inputs,
                    "concurrency": 2,
                    "task": {
                        "task_key": "one",
                        **(
                            nested
                            or {
                                "shell_task": sh("echo {{input}} >> seen.txt; echo hello {{input}}")
                            }
                        ),
                    },
                },
            },
            {"task_key": "after", "depends_on": [{"task_key": "each"}], "shell_task": sh("true")},
        ],
        tmp_path,
    )


def test_for_each_runs_one_child_run_per_input(podium: Podium, tmp_path: Path) -> None:
    run = run_job(podium, fan_out(tmp_path))
    assert results(run) == {"list": "SUCCESS", "each": "SUCCESS", "after": "SUCCESS"}
    assert sorted((tmp_path / "seen.txt").read_text().split()) == ["a", "b", "c"]
    kids = children_of(podium, run["run_id"])
    assert [k["iteration"] for k in kids] == [0, 1, 2]
    assert all(k["state"]["result_state"] == "SUCCESS" for k in kids)
    assert kids[0]["run_name"] == "test_job.each[0]"
    # Each iteration has its own task run and log.
    first = get_output(podium, int(kids[0]["run_id"]), "one")
    assert "hello a" in first["logs"]
    found = get_output(podium, run["run_id"], "each")
    assert [c["result_state"] for c in found["child_runs"]] == ["SUCCESS"] * 3
    assert "iteration 0 (a): run" in found["logs"]


def test_a_failed_iteration_fails_the_task_and_repair_reruns_only_it(
    podium: Podium, tmp_path: Path
) -> None:
    spec = fan_out(
        tmp_path, shell_task=sh("echo {{input}} >> ran.txt; [ {{input}} != b ] || [ -f fixed ]")
    )
    run = run_job(podium, spec)
    assert results(run) == {"list": "SUCCESS", "each": "FAILED", "after": "UPSTREAM_FAILED"}
    message = tasks_by_key(run)["each"]["state"]["state_message"]
    assert message.startswith("1 of 3 iterations did not succeed")

    (tmp_path / "fixed").touch()
    assert repair_run(podium, run["run_id"]) == ["each", "after"]
    assert execute_run(podium, run["run_id"]).value == "SUCCESS"
    ran = (tmp_path / "ran.txt").read_text().split()
    assert sorted(ran) == ["a", "b", "b", "c"]  # the iterations that succeeded kept


def test_bad_inputs_fail_the_task_clearly(podium: Podium, tmp_path: Path) -> None:
    run = run_job(podium, fan_out(tmp_path, inputs="not json"))
    message = tasks_by_key(run)["each"]["state"]["state_message"]
    assert message == "for_each_task inputs is not JSON: 'not json'"
    run = run_job(podium, fan_out(tmp_path, inputs='{"a": 1}'))
    assert "must be a JSON array" in tasks_by_key(run)["each"]["state"]["state_message"]


def test_nested_task_rules_are_validated() -> None:
    with pytest.raises(InvalidJobSpec) as info:
        parse_job(
            {
                "name": "x",
                "tasks": [
                    {"task_key": "a", "shell_task": {"command": ["true"]}},
                    {
                        "task_key": "each",
                        "for_each_task": {
                            "inputs": "[1]",
                            "task": {
                                "task_key": "one",
                                "depends_on": [{"task_key": "a"}],
                                "shell_task": {"command": ["echo", "{{input}}"]},
                            },
                        },
                    },
                ],
            }
        )
    assert [(p.code, p.loc) for p in info.value.problems] == [
        ("nested-dependency", "tasks[1].for_each_task.task.depends_on")
    ]
    with pytest.raises(InvalidJobSpec) as info:
        parse_job(
            {
                "name": "x",
                "tasks": [{"task_key": "t", "shell_task": {"command": ["echo", "{{input}}"]}}],
            }
        )
    assert info.value.problems[0].code == "unknown-reference"  # only inside for_each


def test_run_job_task_runs_a_stored_job_as_a_child(podium: Podium, tmp_path: Path) -> None:
    child = job(
        [
            {
                "task_key": "greet",
                "shell_task": sh(
                    "echo hi {{job.parameters.who}} > greeted.txt; "
                    "[ {{job.parameters.who}} != bob ]"
                ),
            }
        ],
        tmp_path,
        name="greeter",
        parameters=[{"name": "who", "default": "nobody"}],
    )
    first = run_job(podium, child)  # stores the job
    assert first["state"]["result_state"] == "SUCCESS"

    parent = job(
        [
            {
                "task_key": "call",
                "run_job_task": {"job_name": "greeter", "job_parameters": {"who": "ada"}},
            },
            {
                "task_key": "by_id",
                "depends_on": [{"task_key": "call"}],
                "run_job_task": {"job_id": first["job_id"], "job_parameters": {"who": "bob"}},
            },
        ],
        tmp_path,
        name="caller",
    )
    run = run_job(podium, parent)
    assert results(run) == {"call": "SUCCESS", "by_id": "FAILED"}
    assert tasks_by_key(run)["by_id"]["state"]["state_message"].endswith("ended FAILED")
    kids = children_of(podium, run["run_id"])
    assert [k["job_id"] for k in kids] == [first["job_id"]] * 2
    assert kids[0]["job_parameters"] == [{"name": "who", "value": "ada"}]

    missing = job(
        [{"task_key": "call", "run_job_task": {"job_name": "nope"}}], tmp_path, name="lost"
    )
    run = run_job(podium, missing)
    assert "no job with 'nope'" in tasks_by_key(run)["call"]["state"]["state_message"]


def test_canceling_the_parent_cancels_the_iterations(podium: Podium, tmp_path: Path) -> None:
    spec_file = tmp_path / "job.yaml"
    spec_file.write_text(
        yaml.safe_dump(
            {
                "name": "fan",
                "tasks": [
                    {
                        "task_key": "each",
                        "for_each_task": {
                            "inputs": "[1, 2]",
                            "concurrency": 2,
                            "task": {
                                "task_key": "one",
                                "shell_task": sh("echo $$ > pid{{input}}; sleep 120"),
                            },
                        },
                    }
                ],
            }
        )
    )
    proc = podium_cli("run", str(spec_file))
    try:
        wait_for(
            lambda: (tmp_path / "pid1").exists() and (tmp_path / "pid2").exists(),
            what="both iterations to start",
        )
        cancel = subprocess.run(
            [*PODIUM, "runs", "cancel", "1"], capture_output=True, text=True, timeout=60
        )
        assert cancel.returncode == 0, cancel.stderr
        assert proc.wait(timeout=60) == 1
    finally:
        kill(proc)
    run = get_run(podium, 1)
    assert run["state"]["result_state"] == "CANCELED"
    assert [k["state"]["result_state"] for k in children_of(podium, 1)] == ["CANCELED"] * 2
    for name in ("pid1", "pid2"):
        assert not pid_alive(int((tmp_path / name).read_text()))


def test_a_for_each_timeout_cancels_its_iterations(podium: Podium, tmp_path: Path) -> None:
    spec = job(
        [
            {
                "task_key": "each",
                "timeout_seconds": 1,
                "for_each_task": {
                    "inputs": "[1, 2]",
                    "concurrency": 2,
                    "task": {
                        "task_key": "one",
                        "shell_task": sh("echo $$ > pid{{input}}; sleep 120"),
                    },
                },
            }
        ],
        tmp_path,
    )
    run = run_job(podium, spec)
    each = tasks_by_key(run)["each"]
    assert each["state"]["result_state"] == "TIMEDOUT"
    assert each["state"]["state_message"] == "the task timed out after 1 s"
    assert [k["state"]["result_state"] for k in children_of(podium, run["run_id"])] == [
        "CANCELED",
        "CANCELED",
    ]
    for name in ("pid1", "pid2"):
        assert not pid_alive(int((tmp_path / name).read_text()))
