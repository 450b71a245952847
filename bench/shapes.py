"""Job shapes of the workloads, as Jobs API dicts, plus the same processes as bare argv."""

from __future__ import annotations

import json
import sys
from typing import Any

NOOP = "bench.noop:noop"
NOOP_ARGV = [
    sys.executable, "-m", "podium.function_worker",
    json.dumps({"function": NOOP, "args": [], "kwargs": {}}),
]


def function_task() -> dict[str, Any]:
    return {"python_function_task": {"function": NOOP}}


def shell_task(argv: list[str]) -> dict[str, Any]:
    return {"shell_task": {"command": argv}}


def chain(name: str, n: int, body: dict[str, Any]) -> dict[str, Any]:
    """``t0 -> t1 -> ... -> t{n-1}``."""
    tasks = []
    for i in range(n):
        task: dict[str, Any] = {"task_key": f"t{i}", **body}
        if i:
            task["depends_on"] = [{"task_key": f"t{i - 1}"}]
        tasks.append(task)
    return {"name": name, "tasks": tasks}


def fanout(name: str, n: int, body: dict[str, Any]) -> dict[str, Any]:
    """``root -> {w0 .. w{n-1}} -> join``."""
    tasks: list[dict[str, Any]] = [{"task_key": "root", **body}]
    tasks += [
        {"task_key": f"w{i}", "depends_on": [{"task_key": "root"}], **body} for i in range(n)
    ]
    tasks.append(
        {"task_key": "join", "depends_on": [{"task_key": f"w{i}"} for i in range(n)], **body}
    )
    return {"name": name, "tasks": tasks}


def independent(name: str, n: int, body: dict[str, Any]) -> dict[str, Any]:
    """``n`` tasks with no dependencies."""
    return {"name": name, "tasks": [{"task_key": f"p{i}", **body} for i in range(n)]}
