"""The runner contract: a resolved task becomes a description of one process to start.

Runners never touch the database and never start anything themselves: an executor
runs the ``ProcessSpec`` they build, so the same runner serves a local pool or a cluster.
This module imports only the standard library at run time: runners' own processes
(launchers, an isolated environment's wrapper) import it and must start fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.spec.models import Task

# A runner's process writes its output (a JSON object) to the file this variable names;
# an "error" key in it becomes the attempt's state message.
OUTPUT_ENV = "PODIUM_TASK_OUTPUT"


@dataclass(frozen=True, slots=True)
class RunnerContext:
    """What a runner may use besides the task.

    Attributes:
        python: the job's Python interpreter.
        source_dir: the folder of the job spec; relative paths resolve against it.
        home: PODIUM_HOME (caches, the embedded warehouse).
        connections: SQL connection name -> SQLAlchemy URL (``default`` always set).
        job_parameters: the run's job parameters (pushed down to notebooks).
    """

    python: str
    source_dir: Path
    home: Path = Path()
    connections: Mapping[str, str] = field(default_factory=dict)
    job_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One process to start: argv (never through a shell), extra env, working folder.

    ``function_call``, when set, is the JSON call of ``podium.function_worker``: the
    executor may then fork a warm interpreter instead of starting ``argv``.
    """

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    function_call: str | None = None


Runner = Callable[["Task", RunnerContext], ProcessSpec]


class LaunchError(Exception):
    """A runner's process cannot start the task (no java, a missing library, ...)."""


def resolve_path(path: str, ctx: RunnerContext) -> Path:
    """``path`` made absolute against the job spec's folder."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else ctx.source_dir / candidate


def write_output(output: dict[str, Any]) -> None:
    """From a runner's own process: report its output (``notebook_output``,
    ``sql_output``, ...; an ``error`` key becomes the attempt's state message).

    Without PODIUM_TASK_OUTPUT (the process was started by hand) this does nothing.
    """
    path = os.environ.get(OUTPUT_ENV)
    if path:
        Path(path).write_text(json.dumps(output, default=str), encoding="utf-8")


def fail(message: str) -> int:
    """From a runner's own process: report ``message`` as the attempt's state message
    (and in the log); returns the exit code 1."""
    print(f"podium: {message}", file=sys.stderr)
    write_output({"error": message})
    return 1


# A library path with a scheme (dbfs:/, s3://, ...): not a local file, reported as such.
LIBRARY_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
LIBRARY_KINDS = ("jar", "whl", "pypi", "requirements")


def library_paths(task: Task, kind: str, ctx: RunnerContext) -> tuple[list[str], list[str]]:
    """The task's libraries of ``kind`` ("jar" or "whl") as paths resolved against the
    job's folder (URIs left as they are), and the other kinds it names (ignored)."""
    paths = [
        value if LIBRARY_URI.match(value) else str(resolve_path(value, ctx))
        for lib in task.libraries
        if (value := getattr(lib, kind)) is not None
    ]
    ignored = [
        other
        for lib in task.libraries
        for other in LIBRARY_KINDS
        if other != kind and getattr(lib, other) is not None
    ]
    return paths, ignored
