"""python_wheel_task: a wheel assembled at test time, installed into the cache under
PODIUM_HOME and run by the real engine."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path
from typing import Any

from podium.services import Podium
from tests.integration.helpers import job, run_job, tasks_by_key

CLI = """
import sys
from podium import task_values

def main():
    print("demo argv:", sys.argv[1:])
    task_values.set("argv", sys.argv[1:])

def fail():
    raise KeyError("no_such_column")
"""
INIT = """
from podium import task_values

def run():
    task_values.set("ran", "demo_tool.run")
"""
ENTRY_POINTS = (
    "[console_scripts]\ndemo = demo_tool.cli:main\n\n[demo.hooks]\nbad = demo_tool.cli:fail\n"
)


def make_wheel(folder: Path, name: str = "demo-tool", version: str = "1.0") -> Path:
    """A pure-Python wheel of package ``demo_tool``, written by hand (no build backend)."""
    dist = f"{name.replace('-', '_')}-{version}"
    info = f"{dist}.dist-info"
    files = {
        "demo_tool/__init__.py": INIT,
        "demo_tool/cli.py": CLI,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: podium-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": ENTRY_POINTS,
    }
    record = [f"{path},sha256={_digest(text)},{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name_in_zip, text in files.items():
            whl.writestr(name_in_zip, text)
    return path


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def wheel_task(
    key: str, entry_point: str, *libraries: str, package: str = "demo-tool", **fields: Any
) -> dict[str, Any]:
    return {
        "task_key": key,
        "libraries": [{"whl": w} for w in libraries],
        "python_wheel_task": {"package_name": package, "entry_point": entry_point, **fields},
    }


def log_of(task: dict[str, Any]) -> str:
    return Path(task["attempts"][0]["log_path"]).read_text()


def test_runs_entry_points_with_parameters_from_a_cached_install(
    podium: Podium, home: Path, tmp_path: Path
) -> None:
    whl = make_wheel(tmp_path).name  # relative to the job spec's folder
    spec = job(
        [
            wheel_task(
                "cli",
                "demo",
                whl,
                parameters=["a b", "c"],
                named_parameters={"mode": "fast", "date": "2024-01-01"},
            ),
            wheel_task("function", "run", whl),  # no such entry point: demo_tool.run()
        ],
        tmp_path,
    )

    first = tasks_by_key(run_job(podium, spec))

    assert {t["state"]["result_state"] for t in first.values()} == {"SUCCESS"}
    assert first["cli"]["task_values"] == {"argv": ["a b", "c", "--mode=fast", "--date=2024-01-01"]}
    assert first["function"]["task_values"] == {"ran": "demo_tool.run"}
    # Both tasks ran at once: one installed while the other waited on the lock.
    logs = [log_of(t) for t in first.values()]
    assert sum("podium: installing demo_tool-1.0-py3-none-any.whl" in log for log in logs) == 1
    assert sum("podium: using the wheels cached in" in log for log in logs) == 1
    assert len(list((home / "wheels").glob("*/demo_tool/cli.py"))) == 1

    again = tasks_by_key(run_job(podium, spec))

    assert again["cli"]["task_values"] == first["cli"]["task_values"]
    for task in again.values():
        assert "podium: installing" not in log_of(task)
        assert "podium: using the wheels cached in" in log_of(task)


def test_a_package_of_the_jobs_interpreter_needs_no_libraries(
    podium: Podium, tmp_path: Path
) -> None:
    spec = job([wheel_task("pip", "pip", package="pip", parameters=["--version"])], tmp_path)

    task = tasks_by_key(run_job(podium, spec))["pip"]

    assert task["state"]["result_state"] == "SUCCESS"
    assert "pip " in log_of(task)


def test_missing_wheels_packages_and_entry_points_fail_with_a_clear_message(
    podium: Podium, tmp_path: Path
) -> None:
    whl = str(make_wheel(tmp_path))
    spec = job(
        [
            wheel_task("no_entry_point", "nope", whl),
            wheel_task("no_package", "main", package="no-such-package"),
            wheel_task("no_wheel", "demo", "dist/missing.whl"),
            wheel_task("remote", "demo", "dbfs:/FileStore/demo.whl"),
            wheel_task("raises", "bad", whl),
        ],
        tmp_path,
    )

    tasks = tasks_by_key(run_job(podium, spec))

    assert {t["state"]["result_state"] for t in tasks.values()} == {"FAILED"}
    messages = {key: t["state"]["state_message"] for key, t in tasks.items()}
    assert messages["no_entry_point"] == (
        "package 'demo-tool' has no entry point 'nope' and no function demo_tool.nope; "
        "its entry points: bad (demo.hooks), demo (console_scripts)"
    )
    assert "package 'no-such-package' is not installed" in messages["no_package"]
    assert messages["no_wheel"] == f"whl library {tmp_path / 'dist/missing.whl'} does not exist"
    assert "'dbfs:/FileStore/demo.whl' is not supported" in messages["remote"]
    assert "KeyError: 'no_such_column'" in messages["raises"]
    assert "Traceback" in log_of(tasks["raises"])
