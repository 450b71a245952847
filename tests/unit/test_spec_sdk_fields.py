"""Specs as the official databricks-sdk writes them: every field of its JobSettings and
Task is either modelled by Podium or a Databricks field Podium ignores, so what the SDK
sends (often empty values of fields Podium lacks) parses; typos are still errors."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from databricks.sdk.service import jobs

from podium.errors import InvalidJobSpec
from podium.spec import JobSpec, Task, parse_job
from podium.spec.validate import IGNORED_JOB_FIELDS, IGNORED_TASK_FIELDS, KNOWN_TASK_TYPES

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed_pipeline.yaml"
# What `w.jobs.create(...)` accepts: the SDK has no CreateJob dataclass any more.
CREATE_FIELDS = [n for n in inspect.signature(jobs.JobsAPI.create).parameters if n != "self"]


def seed() -> dict[str, Any]:
    data = yaml.safe_load(SEED.read_text())
    assert isinstance(data, dict)
    return data


def sdk_seed() -> dict[str, Any]:
    """The seed with its Podium extension task (drift_check_task, which the SDK's
    dataclasses do not know and drop) run as a Python file instead."""
    data = seed()
    for task in data["tasks"]:
        if task.pop("drift_check_task", None) is not None:
            task["spark_python_task"] = {"python_file": "seed/drift.py"}
    return data


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def podium_lacks(names: list[str], model: type[JobSpec | Task]) -> list[str]:
    """The fields a Podium model does not have, task types aside (never ignored)."""
    return [n for n in names if n not in model.model_fields and n not in KNOWN_TASK_TYPES]


def empty_value(cls: type, name: str, typed: bool) -> Any:
    """An empty value for field ``name`` of SDK dataclass ``cls``: ``[]``, ``{}`` (or an
    empty instance when ``typed``), ``""``, else None."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    inner = args[0] if args else hint
    origin = typing.get_origin(inner)
    if origin is list:
        return []
    if origin is dict:
        return {}
    if dataclasses.is_dataclass(inner):
        return typing.cast(Any, inner).from_dict({}) if typed else {}
    if inner is str:
        return ""
    assert inner in (int, bool, float) or issubclass(inner, enum.Enum), (name, inner)
    return None


def with_empty_sdk_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every SDK JobSettings and Task field Podium lacks set empty."""
    job = {n: empty_value(jobs.JobSettings, n, False)
           for n in podium_lacks(field_names(jobs.JobSettings), JobSpec)}
    task_fields = podium_lacks(field_names(jobs.Task), Task)
    tasks = [{**t, **{n: empty_value(jobs.Task, n, False) for n in task_fields}}
             for t in data["tasks"]]
    return {**data, **job, "tasks": tasks}


class RecordingApiClient:
    """Stands where the SDK's ApiClient does and keeps the request body it is given."""

    _cfg = SimpleNamespace(workspace_id=None)

    def __init__(self) -> None:
        self.body: dict[str, Any] = {}

    def do(self, method: str, path: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        assert (method, path) == ("POST", "/api/2.2/jobs/create")
        self.body = body
        return {"job_id": 1}


# ---- the field lists keep up with the SDK --------------------------------------------------
@pytest.mark.parametrize("names", [field_names(jobs.JobSettings), CREATE_FIELDS],
                         ids=["JobSettings", "JobsAPI.create"])
def test_every_sdk_job_field_is_modelled_or_ignored(names: list[str]) -> None:
    assert [n for n in podium_lacks(names, JobSpec) if n not in IGNORED_JOB_FIELDS] == []


@pytest.mark.parametrize("cls", [jobs.Task, jobs.SubmitTask], ids=lambda c: c.__name__)
def test_every_sdk_task_field_is_modelled_ignored_or_a_task_type(cls: type) -> None:
    assert [n for n in podium_lacks(field_names(cls), Task) if n not in IGNORED_TASK_FIELDS] == []


def test_fields_new_in_the_sdk_are_ignored() -> None:
    assert {"duration_target", "environment_variables", "parent_path", "triggers"} <= set(
        IGNORED_JOB_FIELDS
    )
    assert "environment_variables_key" in IGNORED_TASK_FIELDS


# ---- what the SDK sends parses ------------------------------------------------------------
def test_seed_spec_round_trips_through_the_sdk() -> None:
    expected, _ = parse_job(sdk_seed())
    spec, warnings = parse_job(jobs.JobSettings.from_dict(sdk_seed()).as_dict())
    assert (spec, warnings) == (expected, [])


def test_the_sdk_drops_podium_extension_task_types() -> None:
    # Why clients send the seed pipeline as a plain dict (api_client.do), not JobSettings.
    sent = jobs.JobSettings.from_dict(seed()).as_dict()
    drift = next(t for t in sent["tasks"] if t["task_key"] == "drift")
    assert "drift_check_task" not in drift


@pytest.mark.parametrize("via_sdk", [False, True], ids=["raw", "JobSettings"])
def test_empty_sdk_fields_are_dropped_silently(via_sdk: bool) -> None:
    data = with_empty_sdk_fields(sdk_seed())
    assert data["environment_variables"] == [] and data["triggers"] == []
    if via_sdk:
        data = jobs.JobSettings.from_dict(data).as_dict()
    expected, _ = parse_job(sdk_seed())
    assert parse_job(data) == (expected, [])


def test_what_jobs_create_sends_with_empty_fields_parses() -> None:
    api = RecordingApiClient()
    empty = {n: empty_value(jobs.Task, n, True) for n in podium_lacks(field_names(jobs.Task), Task)}
    tasks = [dataclasses.replace(jobs.Task.from_dict(t), **empty) for t in sdk_seed()["tasks"]]
    job = {n: empty_value(jobs.JobSettings, n, True)
           for n in podium_lacks(CREATE_FIELDS, JobSpec) if n in field_names(jobs.JobSettings)}
    settings = jobs.JobSettings.from_dict(sdk_seed())
    jobs.JobsAPI(api).create(  # type: ignore[no-untyped-call]
        name=settings.name, tags=settings.tags, parameters=settings.parameters,
        environments=settings.environments, tasks=tasks, **job,
    )
    assert api.body["environment_variables"] == [] and api.body["triggers"] == []
    assert api.body["tasks"][0]["environment_variables_key"] == ""
    expected, _ = parse_job(sdk_seed())
    assert parse_job(api.body) == (expected, [])


def test_ignored_fields_with_values_warn() -> None:
    data = seed()
    data["environment_variables"] = [
        {"environment_variables_key": "train", "spec": {"variables": {"SEED": "7"}}}
    ]
    data["triggers"] = [{"periodic": {"interval": 1, "unit": "HOURS"}}]
    data["parent_path"] = "/Workspace/ml"
    data["tasks"][6]["environment_variables_key"] = "train"
    data["tasks"][5]["existing_cluster_id"] = ""  # empty: silent
    data["email_notifications"] = {"on_failure": []}  # nothing in it: silent
    _, warnings = parse_job(data)
    assert warnings == [
        "environment_variables: not implemented by Podium yet; ignored",
        "triggers: not implemented by Podium yet; ignored",
        "parent_path: not implemented by Podium yet; ignored",
        "tasks[6].environment_variables_key: not implemented by Podium yet; ignored",
    ]


def test_ignored_fields_of_a_for_each_nested_task() -> None:
    nested = {"task_key": "one", "environment_variables_key": "", "existing_cluster_id": "c-1",
              "spark_python_task": {"python_file": "one.py", "parameters": ["{{input}}"]}}
    data = {"name": "j", "tasks": [
        {"task_key": "each", "for_each_task": {"inputs": "[1, 2]", "task": nested}}
    ]}
    spec, warnings = parse_job(jobs.JobSettings.from_dict(data).as_dict())
    assert warnings == [
        "tasks[0].for_each_task.task.existing_cluster_id: not implemented by Podium yet; ignored"
    ]
    for_each = spec.tasks[0].for_each_task
    assert for_each is not None and for_each.task.task_key == "one"


# ---- typos stay errors --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "field", "hint"),
    [
        ("job", "trigggers", "did you mean 'triggers'?"),
        ("job", "enviroment_variables", "did you mean 'environment_variables'?"),
        ("job", "parent_pth", "did you mean 'parent_path'?"),
        ("task", "environment_variable_key", "did you mean 'environment_variables_key'?"),
    ],
)
@pytest.mark.parametrize("value", [[], "", {"x": 1}], ids=["empty-list", "empty-str", "set"])
def test_typos_of_databricks_fields_are_errors(where: str, field: str, hint: str,
                                               value: object) -> None:
    data = seed()
    (data if where == "job" else data["tasks"][1])[field] = value
    with pytest.raises(InvalidJobSpec) as info:
        parse_job(data)
    loc = field if where == "job" else f"tasks[1].{field}"
    assert [(p.code, p.loc, p.hint) for p in info.value.problems] == [("unknown-field", loc, hint)]


@pytest.mark.parametrize("task_type", ["alert_task", "dbt_cloud_task", "python_operator_task"])
def test_new_databricks_task_types_are_unsupported_not_unknown(task_type: str) -> None:
    data = {"name": "j", "tasks": [{"task_key": "a", task_type: {"x": "y"}}]}
    with pytest.raises(InvalidJobSpec) as info:
        parse_job(data)
    assert [(p.code, p.loc) for p in info.value.problems] == [
        ("unsupported-task-type", f"tasks[0].{task_type}")
    ]
