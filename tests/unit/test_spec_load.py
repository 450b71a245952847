"""Tests for podium.spec.load: YAML, JSON and Python job files."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from podium.errors import InvalidJobSpec, Problem
from podium.spec import LoadedJob, load_job

GOOD = Path(__file__).parent.parent / "data" / "specs" / "good"

SIMPLE = """\
name: simple
tasks:
  - task_key: a
    shell_task: {command: [echo, a]}
"""


@pytest.fixture
def clean_imports() -> Iterator[None]:
    """Undo what loading Python job files does to sys.path and sys.modules."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def load_problems(path: str | Path) -> list[Problem]:
    with pytest.raises(InvalidJobSpec) as info:
        load_job(path)
    assert info.value.source == str(path)
    return info.value.problems


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".YAML"])
def test_yaml(tmp_path: Path, suffix: str) -> None:
    loaded = load_job(write(tmp_path / f"job{suffix}", SIMPLE))
    assert loaded.spec.name == "simple"
    assert loaded.spec.task("a").task_type == "shell_task"
    assert loaded.warnings == []


def test_json_gives_the_same_spec_as_yaml(tmp_path: Path) -> None:
    data = yaml.safe_load((GOOD / "seed_pipeline.yaml").read_text())
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(data))
    from_json, from_yaml = load_job(path), load_job(GOOD / "seed_pipeline.yaml")
    assert from_json.spec == from_yaml.spec
    assert from_json.warnings == from_yaml.warnings


def test_source_is_the_path_as_given_and_source_dir_is_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jobs").mkdir()
    write(tmp_path / "jobs" / "job.yaml", SIMPLE)
    monkeypatch.chdir(tmp_path)
    loaded = load_job("jobs/job.yaml")
    assert loaded == LoadedJob(loaded.spec, [], "jobs/job.yaml", tmp_path.resolve() / "jobs")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    found = load_problems(path)
    assert [(p.code, p.msg) for p in found] == [("no-such-file", f"no such file: {path}")]


def test_a_folder_is_not_a_spec(tmp_path: Path) -> None:
    assert [p.code for p in load_problems(tmp_path)] == ["no-such-file"]


@pytest.mark.parametrize("name", ["job.toml", "job"])
def test_unknown_format(tmp_path: Path, name: str) -> None:
    found = load_problems(write(tmp_path / name, SIMPLE))
    assert [p.code for p in found] == ["unknown-format"]
    assert ".yaml" in found[0].hint


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "name: x\ntasks:\n  - task_key: [a\n")
    found = load_problems(path)
    assert [(p.code, p.loc) for p in found] == [("bad-syntax", "line 4, column 1")]
    assert found[0].msg == "expected ',' or ']', but got '<stream end>'"
    assert found[0].hint == "while parsing a flow sequence that starts at line 3, column 15"


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.json", '{"name": "x",\n "tasks": [}\n')
    found = load_problems(path)
    assert [(p.code, p.loc, p.msg) for p in found] == [
        ("bad-syntax", "line 2, column 12", "Expecting value")
    ]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    assert [p.code for p in load_problems(path)] == ["bad-syntax"]


def test_empty_yaml_is_not_a_mapping(tmp_path: Path) -> None:
    assert [p.code for p in load_problems(write(tmp_path / "e.yaml", ""))] == ["not-a-mapping"]


def test_yaml_spec_problems_carry_the_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "j.yaml", SIMPLE.replace("task_key: a", "task_key: a\n    max_retries: x")
    )
    with pytest.raises(InvalidJobSpec) as info:
        load_job(path)
    assert str(info.value).splitlines()[0] == f"{path}: 1 problem, nothing was recorded"


# ---- Python job files ------------------------------------------------------------------


@pytest.mark.usefixtures("clean_imports")
def test_python_file_gives_the_same_spec_as_yaml() -> None:
    from_py = load_job(GOOD / "seed_job.py")
    from_yaml = load_job(GOOD / "seed_pipeline.yaml")
    assert from_py.spec == from_yaml.spec
    assert from_py.warnings == []
    assert from_py.source_dir == GOOD.resolve()


@pytest.mark.usefixtures("clean_imports")
def test_functions_named_by_a_python_job_import(tmp_path: Path) -> None:
    write(tmp_path / "helpers_for_ld1.py", "def double(x):\n    return 2 * x\n")
    path = write(
        tmp_path / "job_ld1.py",
        """\
        from podium.sdk import Job
        from helpers_for_ld1 import double

        job = Job("ld1")
        job.function_task("double", double, parameters=[21])

        @job.task
        def answer():
            return 42
        """,
    )
    loaded = load_job(path)
    assert str(tmp_path.resolve()) == sys.path[0]
    for task in loaded.spec.tasks:
        assert task.python_function_task is not None
        module_name, _, attr = task.python_function_task.function.partition(":")
        fn = getattr(importlib.import_module(module_name), attr)
        assert fn(*task.python_function_task.parameters) == 42


@pytest.mark.usefixtures("clean_imports")
def test_single_job_under_another_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "job_ld2.py",
        """\
        from podium.sdk import Job
        pipeline = Job("ld2")
        alias = pipeline
        pipeline.shell_task("a", ["true"])
        """,
    )
    assert load_job(path).spec.name == "ld2"


@pytest.mark.usefixtures("clean_imports")
@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ("x = 1\n", "the module defines no podium.sdk.Job"),
        (
            "from podium.sdk import Job\nb = Job('b')\na = Job('a')\n",
            "several Job objects (a, b)",
        ),
        ("from podium.sdk import Job\njob = 'not a job'\nj = Job('j')\nk = Job('k')\n",
         "several Job objects (j, k)"),
    ],
)  # fmt: skip
def test_python_file_without_one_job(tmp_path: Path, body: str, msg: str) -> None:
    found = load_problems(write(tmp_path / "job_ld3.py", body))
    assert [(p.code, p.msg) for p in found] == [("no-job", msg)]


@pytest.mark.usefixtures("clean_imports")
def test_python_file_that_raises(tmp_path: Path) -> None:
    path = write(tmp_path / "job_ld4.py", "import os\n\nraise RuntimeError('no warehouse')\n")
    found = load_problems(path)
    assert [(p.code, p.loc, p.msg) for p in found] == [
        ("import-error", "line 3", "RuntimeError: no warehouse")
    ]
    assert "job_ld4" not in sys.modules


@pytest.mark.usefixtures("clean_imports")
def test_python_file_with_a_syntax_error(tmp_path: Path) -> None:
    found = load_problems(write(tmp_path / "job_ld5.py", "x = 1\ndef (:\n"))
    assert [(p.code, p.loc) for p in found] == [("import-error", "line 2")]
    assert found[0].msg.startswith("SyntaxError: ")


@pytest.mark.usefixtures("clean_imports")
def test_python_file_named_like_a_loaded_module(tmp_path: Path) -> None:
    found = load_problems(write(tmp_path / "json.py", "x = 1\n"))
    assert [p.code for p in found] == ["import-error"]
    assert "already taken" in found[0].msg
    assert sys.modules["json"] is json


@pytest.mark.usefixtures("clean_imports")
def test_python_job_problems_name_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "job_ld6.py",
        """\
        from podium.sdk import Job
        job = Job("x")
        job.shell_task("a", ["true"], depends_on=["b"])
        """,
    )
    found = load_problems(path)
    assert [str(p) for p in found] == [
        "tasks[0].depends_on[0].task_key: no task 'b'  [unknown-task]"
    ]
