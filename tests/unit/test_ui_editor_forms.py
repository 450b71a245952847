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
