"""python_function_task: call ``module:callable`` in a worker process of its own,
so a crash or a hang of user code cannot take the engine down."""

from __future__ import annotations

import json

from podium.runners.base import ProcessSpec, RunnerContext
from podium.spec.models import Task


def build(task: Task, ctx: RunnerContext) -> ProcessSpec:
    spec = task.python_function_task
    assert spec is not None
    call = json.dumps(
        {"function": spec.function, "args": spec.parameters, "kwargs": spec.named_parameters}
    )
    return ProcessSpec(
        argv=[ctx.python, "-m", "podium.function_worker", call], cwd=ctx.source_dir,
        function_call=call,
    )
