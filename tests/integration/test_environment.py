"""Isolated Python environments (``environment_key``): built once from PyPI, cached under
PODIUM_HOME, shared safely by concurrent attempts, and failing clearly."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium.runners import python_file, python_function
from podium.runners.base import ProcessSpec, RunnerContext
from podium.runners.environment import ensure, identity, wrap
from podium.services import Podium
from podium.spec.models import Task
from podium.spec.task_types import Environment
from tests.integration.helpers import job, results, run_job, tasks_by_key, wait_for

OLD = "tomli-w==1.0.0"  # small, pure Python, and not installed in Podium's own venv
NEW = "tomli-w==1.2.0"
MISSING = "this-package-does-not-exist-podium==9.9"

SCRIPT = """
import importlib.metadata, sys
import tomli_w
from podium import task_values
try:
    import pydantic  # in the job's venv, not in the task's environment
    isolated = False
except ImportError:
    isolated = True
print("prefix", sys.prefix)
print("tomli-w", importlib.metadata.version("tomli-w"))
task_values.set("seen", {"tomli_w": importlib.metadata.version("tomli-w"), "isolated": isolated})
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""
FUNCTIONS = """
import importlib.metadata

def version():
    return importlib.metadata.version("tomli-w")
"""


def environment(*dependencies: str, key: str = "env") -> Environment:
    return Environment.model_validate(
        {"environment_key": key, "spec": {"dependencies": list(dependencies)}}
    )


def script_process(folder: Path, *parameters: str) -> ProcessSpec:
    """What the spark_python_task runner builds for ``task.py`` in ``folder``."""
    (folder / "task.py").write_text(SCRIPT)
    task = Task.model_validate(
        {"task_key": "t", "spark_python_task": {"python_file": "task.py", "parameters": parameters}}
    )
    return python_file.build(task, RunnerContext(python=sys.executable, source_dir=folder))


def start(process: ProcessSpec, work: Path, name: str = "attempt") -> subprocess.Popen[bytes]:
    """Start ``process`` as the local executor would, output in ``work/<name>.log``."""
    env = {
        **os.environ,
        **process.env,
        "PYTHONUNBUFFERED": "1",
        "PODIUM_TASK_OUTPUT": str(work / f"{name}.output.json"),
        "PODIUM_TASK_VALUES_OUT": str(work / f"{name}.values.jsonl"),
    }
    with open(work / f"{name}.log", "wb") as log:
        return subprocess.Popen(
            process.argv, cwd=process.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def finish(proc: subprocess.Popen[bytes], work: Path, name: str = "attempt") -> tuple[int, str]:
    """Wait for ``proc``; returns its exit code and its log."""
    code = proc.wait(timeout=120)
    return code, (work / f"{name}.log").read_text()


def run(process: ProcessSpec, work: Path, name: str = "attempt") -> tuple[int, str]:
    return finish(start(process, work, name), work, name)


def values(work: Path, name: str = "attempt") -> dict[str, object]:
    lines = (work / f"{name}.values.jsonl").read_text().splitlines()
    return {entry["key"]: entry["value"] for entry in map(json.loads, lines)}


def test_a_task_runs_in_its_environment_and_the_second_time_uses_the_cache(
    tmp_path: Path,
) -> None:
    assert importlib.util.find_spec("tomli_w") is None, "the test needs tomli-w absent here"
    process = wrap(script_process(tmp_path, "3"), environment(OLD), tmp_path / "home")

    code, log = run(process, tmp_path)

    assert code == 3, log  # the script's own exit code passes straight through
    assert "building environment env (1 dependency)…" in log
    assert "tomli-w 1.0.0" in log
    assert values(tmp_path) == {"seen": {"tomli_w": "1.0.0", "isolated": True}}
    cached = tmp_path / "home" / "environments" / identity([OLD])
    assert f"prefix {cached}" in log

    started = time.monotonic()
    code, log = run(process, tmp_path)
    assert time.monotonic() - started < 10
    assert code == 3, log
    assert "building environment" not in log
    assert f"using cached environment {identity([OLD])}" in log


def test_a_function_task_runs_in_its_environment_not_in_the_warm_interpreter(
    tmp_path: Path,
) -> None:
    (tmp_path / "functions.py").write_text(FUNCTIONS)
    task = Task.model_validate(
        {"task_key": "f", "python_function_task": {"function": "functions:version"}}
    )
    built = python_function.build(task, RunnerContext(python=sys.executable, source_dir=tmp_path))
    assert built.function_call is not None

    process = wrap(built, environment(NEW), tmp_path / "home")

    assert process.function_call is None
    code, log = run(process, tmp_path)
    assert code == 0, log
    assert values(tmp_path) == {"returned": "1.2.0"}


def test_concurrent_attempts_build_the_environment_once(tmp_path: Path) -> None:
    process = wrap(script_process(tmp_path), environment(OLD, key="shared"), tmp_path / "home")

    procs = [start(process, tmp_path, f"a{i}") for i in range(4)]
    outcomes = [finish(proc, tmp_path, f"a{i}") for i, proc in enumerate(procs)]

    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    logs = [log for _, log in outcomes]
    assert sum("building environment shared (" in log for log in logs) == 1, logs
    assert sum("using cached environment" in log for log in logs) == 3, logs


def test_an_attempt_waits_for_the_one_building_its_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = wrap(script_process(tmp_path), environment(NEW, key="slow"), home)
    (home / "environments").mkdir(parents=True)

    with open(home / "environments" / f"{identity([NEW])}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another builder, as far as the attempt knows
        proc = start(process, tmp_path)
        log = tmp_path / "attempt.log"
        wait_for(lambda: "another attempt is building it" in log.read_text(), what="waiting")
        time.sleep(0.2)
        assert proc.poll() is None
        fcntl.flock(lock, fcntl.LOCK_UN)

    code, text = finish(proc, tmp_path)
    assert code == 0, text
    assert "building environment slow (1 dependency)…" in text


def test_a_bad_requirement_fails_the_attempt_with_the_installer_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    process = wrap(script_process(tmp_path), environment(OLD, MISSING, key="bad"), home)

    code, log = run(process, tmp_path)

    assert code == 1, log
    error = json.loads((tmp_path / "attempt.output.json").read_text())["error"]
    assert error.startswith("environment bad: ")
    assert "this-package-does-not-exist-podium" in error
    assert "not found" in error  # uv: "... was not found in the package registry ..."
    assert error in log
    # Nothing half-built is left behind to be mistaken for the environment.
    left = {p.name for p in (home / "environments").iterdir()}
    assert left == {f"{identity([OLD, MISSING])}.lock"}


def test_dependency_lists_name_their_environments() -> None:
    assert identity([OLD]) != identity([NEW])
    assert identity([OLD]) != identity([OLD, NEW])
    assert identity(["Tomli_W == 1.0.0", "six"]) == identity(["six", OLD, " six "])


def test_local_files_count_by_their_content(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(OLD + "\n")
    before = identity(["-r requirements.txt"], tmp_path)
    assert identity(["-r  requirements.txt"], tmp_path) == before

    (tmp_path / "requirements.txt").write_text(NEW + "\n")

    assert identity(["-r requirements.txt"], tmp_path) != before


def test_different_dependencies_get_different_environments(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for name, dependency in (("old", OLD), ("new", NEW)):
        process = wrap(script_process(tmp_path), environment(dependency, key=name), home)
        code, log = run(process, tmp_path, name)
        assert code == 0, log
        assert f"building environment {name}" in log
        assert values(tmp_path, name)["seen"] == {
            "tomli_w": dependency.split("==")[1],
            "isolated": True,
        }
    built = {p.name for p in (home / "environments").iterdir() if p.is_symlink()}
    assert built == {identity([OLD]), identity([NEW])}


def test_without_uv_the_environment_is_built_with_venv_and_pip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {"key": "pip", "dependencies": [NEW], "cache": str(tmp_path / "environments")}

    folder = ensure(request, tmp_path, uv=None)

    assert "building environment pip (1 dependency)…" in capsys.readouterr().out
    check = "import tomli_w, podium.task_values; print(tomli_w.__file__)"
    out = subprocess.run(
        [str(folder / "bin" / "python"), "-c", check],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]},
    ).stdout  # fmt: skip
    assert out.startswith(str(folder))


def test_a_job_task_runs_in_the_environment_it_names(podium: Podium, tmp_path: Path) -> None:
    """Through the engine: needs its hook calling ``wrap`` when a task has environment_key."""
    (tmp_path / "task.py").write_text(SCRIPT)
    (tmp_path / "functions.py").write_text(FUNCTIONS)
    spec = job(
        [
            {"task_key": "script", "environment_key": "old",
             "spark_python_task": {"python_file": "task.py"}},
            {"task_key": "function", "environment_key": "new",
             "python_function_task": {"function": "functions:version"}},
            {"task_key": "bad", "environment_key": "bad",
             "spark_python_task": {"python_file": "task.py"}},
        ],
        tmp_path,
        environments=[
            {"environment_key": "old", "spec": {"client": "2", "dependencies": [OLD]}},
            {"environment_key": "new", "spec": {"client": "2", "dependencies": [NEW]}},
            {"environment_key": "bad", "spec": {"client": "2", "dependencies": [MISSING]}},
        ],
    )  # fmt: skip

    run = run_job(podium, spec)

    assert results(run) == {"script": "SUCCESS", "function": "SUCCESS", "bad": "FAILED"}
    tasks = tasks_by_key(run)
    assert tasks["script"]["task_values"] == {"seen": {"tomli_w": "1.0.0", "isolated": True}}
    assert tasks["function"]["task_values"] == {"returned": "1.2.0"}
    assert tasks["bad"]["state"]["state_message"].startswith("environment bad: ")
    log = Path(tasks["script"]["attempts"][0]["log_path"]).read_text()
    assert "building environment old (1 dependency)…" in log
