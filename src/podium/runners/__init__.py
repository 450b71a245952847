"""Runners: one module per task type, each turning a resolved task into a ProcessSpec.

RUNNERS is the one place a task type plugs in. ``condition_task`` has no runner: the
engine evaluates it in-process, since it is a pure comparison.
"""

from __future__ import annotations

from podium.runners import python_file, python_function, shell
from podium.runners.base import ProcessSpec, Runner, RunnerContext

RUNNERS: dict[str, Runner] = {
    "spark_python_task": python_file.build,
    "python_function_task": python_function.build,
    "shell_task": shell.build,
}

__all__ = ["RUNNERS", "ProcessSpec", "Runner", "RunnerContext"]
