"""spark_python_task: run a Python file with the job's interpreter."""

from __future__ import annotations

from podium.runners.base import ProcessSpec, RunnerContext, resolve_path
from podium.spec.models import Task


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    spec = task.spark_python_task
    assert spec is not None
    path = resolve_path(spec.python_file, ctx)
    return ProcessSpec(argv=[ctx.python, str(path), *spec.parameters], cwd=ctx.source_dir)
