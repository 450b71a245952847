"""The runner contract: a resolved task becomes a description of one process to start.

Runners never touch the database and never start anything themselves: an executor
runs the ``ProcessSpec`` they build, so the same runner serves a local pool or a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from podium.spec.models import Task


@dataclass(frozen=True, slots=True)
class RunnerContext:
    """What a runner may use besides the task.

    Attributes:
        python: the job's Python interpreter.
        source_dir: the folder of the job spec; relative paths resolve against it.
    """

    python: str
    source_dir: Path


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


Runner = Callable[[Task, RunnerContext], ProcessSpec]


def resolve_path(path: str, ctx: RunnerContext) -> Path:
    """``path`` made absolute against the job spec's folder."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else ctx.source_dir / candidate
