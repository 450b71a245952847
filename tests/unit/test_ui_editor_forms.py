"""The job editor's pure parts: every template is a valid job; the visual form becomes
YAML that keeps what the form does not show."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from starlette.datastructures import FormData

from podium.services.jobs import validate_settings
from podium.ui.editor import TEMPLATES_DIR, apply_form, job_templates, visual_context


@pytest.mark.parametrize("path", sorted(TEMPLATES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_template_is_a_valid_job(path: Path) -> None:
    validate_settings(yaml.safe_load(path.read_text()), str(path))


def test_the_gallery_has_the_five_templates() -> None:
    names = {t["name"] for t in job_templates()}
    assert names == {"seed_pipeline", "etl_daily", "ml_retraining", "api_fan_out",
                     "file_arrival_ingest"}
    assert all(t["description"] for t in job_templates())


SPEC = """\
name: demo
tasks:
  - task_key: a
    max_retries: 2
    shell_task: {command: [echo, a], env: {X: "1"}}
  - task_key: gate
    depends_on: [{task_key: a}]
    condition_task: {op: EQUAL_TO, left: "1", right: "1"}
  - task_key: b
    depends_on: [{task_key: gate, outcome: "true"}]
    http_task: {url: "http://127.0.0.1/x"}
"""


def test_the_form_keeps_unshown_fields_renames_and_changes_types() -> None:
    form = FormData([
        ("yaml", SPEC), ("count", "3"),
        ("t0.old", "a"), ("t0.key", "first"), ("t0.type", "shell_task"),
        ("t0.command", "echo 'two words'"),
        ("t1.old", "gate"), ("t1.key", "gate"), ("t1.type", "condition_task"),
        ("t1.op", "GREATER_THAN"), ("t1.left", "2"), ("t1.right", "1"), ("t1.deps", "a"),
        ("t2.old", "b"), ("t2.key", "b"), ("t2.type", "sql_task"), ("t2.query", "SELECT 1"),
        ("t2.file", ""), ("t2.deps", "gate"),
    ])
    settings = apply_form(form)
    first, gate, b = settings["tasks"]
    assert first == {"task_key": "first", "max_retries": 2,
                     "shell_task": {"command": ["echo", "two words"], "env": {"X": "1"}}}
    assert gate["depends_on"] == [{"task_key": "first"}]  # follows the rename
    assert gate["condition_task"] == {"op": "GREATER_THAN", "left": "2", "right": "1"}
    assert b["depends_on"] == [{"task_key": "gate", "outcome": "true"}]  # outcome kept
    assert "http_task" not in b and b["sql_task"] == {"query": {"query_text": "SELECT 1"}}
    validate_settings(settings)


def test_the_visual_pane_of_unreadable_yaml_says_why() -> None:
    view = visual_context("tasks: [")
    assert not view["readable"] and view["problems"][0].code == "yaml-syntax"
    view = visual_context(SPEC)
    assert view["readable"] and not view["problems"]
    assert [t["key"] for t in view["tasks"]] == ["a", "gate", "b"]


def test_a_big_job_names_its_dependencies_in_a_text_field() -> None:
    keys = [f"t{i}" for i in range(30)]
    spec = {"name": "big", "tasks": [{"task_key": k, "shell_task": {"command": ["true"]}}
                                     for k in keys]}
    view = visual_context(yaml.safe_dump(spec))
    assert len(view["tasks"]) == 30
    fields = [("yaml", yaml.safe_dump(spec)), ("count", "30")]
    for i, k in enumerate(keys):
        fields += [(f"t{i}.old", k), (f"t{i}.key", k), (f"t{i}.type", "shell_task"),
                   (f"t{i}.command", "true"), (f"t{i}.deps_text", "")]
    fields[-1] = ("t29.deps_text", "t0, t28")
    settings = apply_form(FormData(fields))
    assert settings["tasks"][29]["depends_on"] == [{"task_key": "t0"}, {"task_key": "t28"}]


def test_each_type_has_its_form_and_values_that_do_not_fit_stay_in_the_yaml() -> None:
    spec = {"name": "j", "tasks": [
        {"task_key": "w", "max_retries": 1, "python_wheel_task": {
            "package_name": "pkg", "entry_point": "main", "parameters": ["--x", "a b"],
            "named_parameters": {"day": "1"}}},
        {"task_key": "f", "python_function_task": {"function": "m:f",
                                                   "named_parameters": {"n": 3}}},
        {"task_key": "e", "for_each_task": {"inputs": "[1, 2]", "task": {
            "task_key": "e_it", "shell_task": {"command": ["true"]}}}},
    ]}
    view = visual_context(yaml.safe_dump(spec))
    wheel, function, each = view["tasks"]
    shown = {f["name"]: f["value"] for f in wheel["fields"]}
    assert shown == {"package_name": "pkg", "entry_point": "main",
                     "parameters": "--x 'a b'", "named_parameters": "day=1"}
    assert {f["name"]: f["value"] for f in wheel["common"]} == {
        "max_retries": "1", "timeout_seconds": "", "run_if": "ALL_SUCCESS"}
    assert [f["name"] for f in function["fields"]] == ["function"]  # not a text map
    assert [f["name"] for f in each["fields"]] == ["inputs", "concurrency"]

    form = FormData([
        ("yaml", yaml.safe_dump(spec)), ("count", "3"),
        ("t0.old", "w"), ("t0.key", "w"), ("t0.type", "python_wheel_task"),
        ("t0.package_name", "pkg"), ("t0.entry_point", "main"), ("t0.parameters", ""),
        ("t0.named_parameters", "day=2\nmode = fast\n"), ("t0.max_retries", ""),
        ("t0.timeout_seconds", "60"), ("t0.run_if", "ALL_DONE"),
        ("t1.old", "f"), ("t1.key", "f"), ("t1.type", "python_function_task"),
        ("t1.function", "m:g"), ("t1.run_if", "ALL_SUCCESS"),
        ("t2.old", "e"), ("t2.key", "e"), ("t2.type", "for_each_task"),
        ("t2.inputs", "[1, 2, 3]"), ("t2.concurrency", "2"),
    ])
    wheel_task, function_task, each_task = apply_form(form)["tasks"]
    assert wheel_task == {"task_key": "w", "timeout_seconds": 60, "run_if": "ALL_DONE",
                          "python_wheel_task": {"package_name": "pkg", "entry_point": "main",
                                                "named_parameters": {"day": "2",
                                                                     "mode": "fast"}}}
    assert function_task["python_function_task"] == {"function": "m:g",
                                                     "named_parameters": {"n": 3}}
    assert "run_if" not in function_task  # the default is left out
    assert each_task["for_each_task"]["task"]["task_key"] == "e_it"  # kept from the YAML
    assert each_task["for_each_task"]["concurrency"] == 2


def _pane(settings: dict[str, object], *action: tuple[str, str]) -> dict[str, object]:
    """What the visual pane posts for ``settings`` (its tasks untouched) and ``action``."""
    tasks = settings["tasks"]
    assert isinstance(tasks, list)
    fields = [("yaml", yaml.safe_dump(settings)), ("count", str(len(tasks)))]
    for i, task in enumerate(tasks):
        fields += [(f"t{i}.old", task["task_key"]), (f"t{i}.key", task["task_key"])]
        fields += [(f"t{i}.deps", d["task_key"]) for d in task.get("depends_on", [])]
    return apply_form(FormData([*fields, *action]))


def test_connect_and_disconnect_tasks() -> None:
    spec: dict[str, object] = {"name": "j", "tasks": [
        {"task_key": "a", "shell_task": {"command": ["true"]}},
        {"task_key": "b", "shell_task": {"command": ["true"]}}]}
    joined = _pane(spec, ("action", "connect"), ("up", "a"), ("down", "b"))
    tasks = joined["tasks"]
    assert isinstance(tasks, list)
    assert list(tasks[1]) == ["task_key", "depends_on", "shell_task"]
    assert tasks[1]["depends_on"] == [{"task_key": "a"}]
    again = _pane(joined, ("action", "connect"), ("up", "a"), ("down", "b"))
    assert again["tasks"] == tasks  # not twice
    for up, down in (("a", "a"), ("nope", "b"), ("a", "nope")):  # nothing to do
        same = _pane(spec, ("action", "connect"), ("up", up), ("down", down))
        assert same["tasks"] == spec["tasks"]
    apart = _pane(joined, ("action", "disconnect"), ("up", "a"), ("down", "b"))
    assert apart["tasks"] == spec["tasks"]
