"""shell_task: run an argv list directly (a shell only if the user names one)."""

from __future__ import annotations

from podium.runners.base import ProcessSpec, RunnerContext, resolve_path
from podium.spec.models import Task


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    spec = task.shell_task
    assert spec is not None
    cwd = resolve_path(spec.cwd, ctx) if spec.cwd else ctx.source_dir
    return ProcessSpec(argv=list(spec.command), cwd=cwd, env=dict(spec.env))
