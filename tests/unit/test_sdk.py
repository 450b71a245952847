"""Tests for podium.sdk.Job: Python job definitions build the same JobSpec as YAML."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from podium.errors import InvalidJobSpec
from podium.sdk import Job
from podium.spec import ConditionOp, JobSpec, RunIf, Task, TaskDependency, parse_job


def ingest() -> int:
    return 7


def test_decorator_returns_the_function_and_records_a_function_task() -> None:
    job = Job("j")
    decorated = job.task(max_retries=1, named_parameters={"n": 2})(ingest)
    assert decorated is ingest
    assert decorated() == 7
    assert job.to_dict() == {
        "name": "j",
        "tasks": [
            {
                "task_key": "ingest",
                "max_retries": 1,
                "python_function_task": {
                    "function": f"{__name__}:ingest",
                    "named_parameters": {"n": 2},
                },
            }
        ],
    }


def train() -> str:
    return "model"


def test_bare_decorator_and_explicit_key() -> None:
    job = Job("j")
    assert job.task(ingest) is ingest
    assert job.task(key="fit", depends_on=[ingest])(train) is train
    spec = job.to_spec()
    assert [t.task_key for t in spec.tasks] == ["ingest", "fit"]
    assert spec.task("fit").upstream_keys == ["ingest"]
    fit = spec.task("fit").python_function_task
    assert fit is not None and fit.function == f"{__name__}:train"


def test_nested_function_gets_a_hint() -> None:
    job = Job("j")

    @job.task
    def inner() -> None: ...

    with pytest.raises(InvalidJobSpec) as info:
        job.to_spec()
    [problem] = info.value.problems
    assert (problem.code, problem.loc) == ("bad-value", "tasks[0].python_function_task.function")
    assert "module level" in problem.hint


def test_depends_on_forms() -> None:
    job = Job("j")
    job.function_task("ingest_step", ingest)
    rows = "{{tasks.ingest_step.values.rows}}"
    job.condition_task("check", rows, ConditionOp.GREATER_THAN, "0", depends_on=[ingest])
    job.shell_task(
        "all",
        ["true"],
        depends_on=[
            "ingest_step",
            ("check", "true"),
            {"task_key": "check", "outcome": "false"},
            TaskDependency(task_key="ingest_step"),
        ],
    )
    deps = job.to_dict()["tasks"][2]["depends_on"]
    assert deps == [
        {"task_key": "ingest_step"},
        {"task_key": "check", "outcome": "true"},
        {"task_key": "check", "outcome": "false"},
        {"task_key": "ingest_step"},
    ]
    assert job.to_dict()["tasks"][1]["depends_on"] == [{"task_key": "ingest_step"}]
    assert job.to_dict()["tasks"][1]["condition_task"]["op"] == "GREATER_THAN"


def test_every_task_kind_matches_its_yaml() -> None:
    job = Job(
        "kinds",
        parameters={"run_date": "2026-01-01", "n": 3, "flag": True},
        tags={"team": "ml"},
        timeout_seconds=3600,
        max_concurrent_runs=2,
        description="all kinds",
    )
    job.function_task("f", "pkg.mod:main", parameters=[1, "a"], run_if=RunIf.ALL_DONE)
    job.python_file_task("p", "scripts/p.py", parameters=["--x", "1"], depends_on=["f"])
    job.shell_task(
        "s",
        ["echo", "{{job.parameters.run_date}}"],
        cwd="/tmp",
        env={"A": "1"},
        depends_on=["p"],
        timeout_seconds=30,
        retry_backoff_multiplier=2.0,
    )
    job.condition_task("c", "{{tasks.s.values.ok}}", "EQUAL_TO", "yes", depends_on=["s"])
    text = """
    name: kinds
    description: all kinds
    parameters: [{name: run_date, default: "2026-01-01"}, {name: n, default: 3},
                 {name: flag, default: true}]
    tags: {team: ml}
    timeout_seconds: 3600
    max_concurrent_runs: 2
    tasks:
      - {task_key: f, run_if: ALL_DONE,
         python_function_task: {function: "pkg.mod:main", parameters: [1, a]}}
      - {task_key: p, depends_on: [{task_key: f}],
         spark_python_task: {python_file: scripts/p.py, parameters: ["--x", "1"]}}
      - {task_key: s, depends_on: [{task_key: p}], timeout_seconds: 30,
         retry_backoff_multiplier: 2.0,
         shell_task: {command: [echo, "{{job.parameters.run_date}}"], cwd: /tmp, env: {A: "1"}}}
      - {task_key: c, depends_on: [{task_key: s}],
         condition_task: {op: EQUAL_TO, left: "{{tasks.s.values.ok}}", right: "yes"}}
    """
    data = yaml.safe_load(text)
    assert job.to_dict() == {**data, "parameters": job.to_dict()["parameters"]}
    assert job.to_spec() == parse_job(data)[0]


def test_defaults_are_left_out() -> None:
    job = Job("j")
    job.shell_task("a", ["true"])
    job.python_file_task("b", "b.py")
    assert job.to_dict() == {
        "name": "j",
        "tasks": [
            {"task_key": "a", "shell_task": {"command": ["true"]}},
            {"task_key": "b", "spark_python_task": {"python_file": "b.py"}},
        ],
    }


def test_add_task_takes_a_model_or_a_mapping() -> None:
    model = Task.model_validate(
        {"task_key": "a", "max_retries": 2, "shell_task": {"command": ["true"]}}
    )
    job = Job("j")
    job.add_task(model)
    job.add_task({"task_key": "b", "depends_on": ["a"], "shell_task": {"command": ["true"]}})
    assert job.to_dict()["tasks"] == [
        {"task_key": "a", "max_retries": 2, "shell_task": {"command": ["true"]}},
        {"task_key": "b", "depends_on": [{"task_key": "a"}], "shell_task": {"command": ["true"]}},
    ]
    assert job.to_spec().task("a") == model


def yaml_problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidJobSpec) as info:
        parse_job(data)
    return [str(p) for p in info.value.problems]


def test_errors_are_the_yaml_ones() -> None:
    job = Job("broken")
    job.shell_task("match", ["true"])
    job.shell_task("build", ["true"], depends_on=["mtch"], max_retrys=2, run_if="SOMETIMES")
    job.shell_task("match", ["false"])
    with pytest.raises(InvalidJobSpec) as info:
        job.to_spec()
    assert info.value.source == "Job('broken')"
    assert [str(p) for p in info.value.problems] == yaml_problems(job.to_dict())
    assert [p.code for p in info.value.problems] == [
        "unknown-task",
        "bad-value",
        "unknown-field",
        "duplicate-task-key",
    ]


def test_a_job_with_no_tasks_is_an_empty_job() -> None:
    with pytest.raises(InvalidJobSpec) as info:
        Job("nothing").to_spec()
    assert [p.code for p in info.value.problems] == ["empty-job"]


def test_to_dict_is_a_copy() -> None:
    job = Job("j")
    job.shell_task("a", ["true"])
    job.to_dict()["tasks"][0]["task_key"] = "changed"
    job.to_dict()["tasks"][0]["shell_task"]["command"].append("--changed")
    job.to_dict()["tasks"].append({})
    assert isinstance(job.to_spec(), JobSpec)
    assert job.to_dict()["tasks"] == [{"task_key": "a", "shell_task": {"command": ["true"]}}]
