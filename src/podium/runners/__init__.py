"""Runners: one module per task type, each turning a resolved task into a ProcessSpec.

RUNNERS is the one place a task type plugs in: it names the module whose ``build``
function serves the type, imported on first use so that the engine loads only the
runners a job needs. ``condition_task`` has no runner: the engine evaluates it
in-process, since it is a pure comparison.
"""

from __future__ import annotations

import importlib

from podium.runners.base import ProcessSpec, Runner, RunnerContext, write_output

RUNNERS: dict[str, str] = {
    "spark_python_task": "podium.runners.python_file",
    "python_function_task": "podium.runners.python_function",
    "shell_task": "podium.runners.shell",
    "notebook_task": "podium.runners.notebook",
    "spark_jar_task": "podium.runners.jar",
    "python_wheel_task": "podium.runners.wheel",
    "sql_task": "podium.runners.sql",
    "http_task": "podium.runners.http",
    "drift_check_task": "podium.runners.drift",
}


def runner_for(task_type: str) -> Runner:
    """The ``build`` function of the runner of ``task_type`` (KeyError if none)."""
    build: Runner = importlib.import_module(RUNNERS[task_type]).build
    return build


__all__ = ["RUNNERS", "ProcessSpec", "Runner", "RunnerContext", "runner_for", "write_output"]
