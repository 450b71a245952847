"""Tasks that run other runs: a for_each_task runs its nested task once per input, each
iteration a child run of its own; a run_job_task runs another stored job as a child run.

The parent task holds no process: its attempt waits for its child runs, which the same
engine drives. A child run that already succeeded (e.g. before a crash or in an earlier
attempt) is kept, not run again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from podium.core import ResultState, ValueContext, resolve_obj
from podium.spec.models import JobSpec, Task
from podium.store import jobs as job_queries


class ChildSpecError(ValueError):
    """The task's children cannot be described (bad inputs, no such job)."""


@dataclass(frozen=True, slots=True)
class Child:
    """One child run to have: its spec, parameters, job and (for-each) iteration."""

    spec: JobSpec
    parameters: dict[str, str]
    job_id: int
    iteration: int | None = None
    label: str = ""


def for_each_children(
    task: Task, parent: JobSpec, job_id: int, ctx: ValueContext
) -> list[Child]:
    """One child per element of the for-each task's ``inputs`` (a JSON array).

    ``{{input}}`` in the nested task becomes the element (JSON unless it is a string);
    every other reference is resolved in the parent's context now.

    Raises:
        ChildSpecError: the inputs are not a JSON array.
        UnresolvedReference: a reference has no value.
    """
    spec = task.for_each_task
    assert spec is not None
    text = resolve_obj(spec.inputs, ctx)
    try:
        inputs = json.loads(text)
    except ValueError:
        raise ChildSpecError(f"for_each_task inputs is not JSON: {text[:200]!r}") from None
    if not isinstance(inputs, list):
        raise ChildSpecError(f"for_each_task inputs must be a JSON array, got {text[:200]!r}")
    nested = spec.task.model_dump(mode="json", exclude_defaults=True)
    children = []
    for i, value in enumerate(inputs):
        item = value if isinstance(value, str) else json.dumps(value)
        data = resolve_obj(_with_input(nested, item), ctx)
        child = JobSpec.model_validate({"name": f"{parent.name}.{task.task_key}[{i}]",
                                        "tasks": [data]})
        children.append(Child(child, {}, job_id, i, item))
    return children


def run_job_child(session: Session, task: Task) -> Child:
    """The run of another stored job that a run_job_task asks for.

    Raises:
        ChildSpecError: no such job.
    """
    spec = task.run_job_task
    assert spec is not None
    row = (
        job_queries.find_job(session, spec.job_id)
        if spec.job_id is not None
        else job_queries.find_job_by_name(session, spec.job_name or "")
    )
    if row is None:
        wanted = f"id {spec.job_id}" if spec.job_id is not None else repr(spec.job_name)
        raise ChildSpecError(
            f"run_job_task: no job with {wanted}; a job is stored when it is first run "
            "(podium run FILE)"
        )
    job = JobSpec.model_validate_json(row.spec_json)
    unknown = sorted(set(spec.job_parameters) - set(job.parameter_defaults()))
    if unknown:
        raise ChildSpecError(f"run_job_task: job {job.name!r} has no parameter {unknown[0]!r}")
    parameters = {**job.parameter_defaults(), **spec.job_parameters}
    return Child(job, parameters, row.job_id, None, job.name)


def aggregate(task: Task, results: list[tuple[int, ResultState]]) -> tuple[ResultState, str]:
    """The parent task's result from its children's: success only if all succeeded."""
    failed = [run_id for run_id, r in results if r not in _OK]
    canceled = [run_id for run_id, r in results if r is ResultState.CANCELED]
    if not failed:
        return ResultState.SUCCESS, ""
    if task.run_job_task is not None:
        return _worst(results[0][1]), f"run {results[0][0]} of the job ended {results[0][1]}"
    result = ResultState.CANCELED if len(canceled) == len(failed) else ResultState.FAILED
    return result, f"{len(failed)} of {len(results)} iterations did not succeed (runs " + (
        ", ".join(str(r) for r in failed[:10]) + (", ..." if len(failed) > 10 else "") + ")"
    )


_OK = {ResultState.SUCCESS, ResultState.SUCCESS_WITH_FAILURES}


def _worst(result: ResultState) -> ResultState:
    return result if result in (ResultState.CANCELED, ResultState.TIMEDOUT) else ResultState.FAILED


def _with_input(obj: Any, item: str) -> Any:
    """``obj`` with ``{{input}}`` (any spacing) replaced by ``item`` in every string."""
    if isinstance(obj, str):
        return re.sub(r"\{\{\s*input\s*\}\}", lambda _: item, obj)
    if isinstance(obj, list):
        return [_with_input(v, item) for v in obj]
    if isinstance(obj, dict):
        return {k: _with_input(v, item) for k, v in obj.items()}
    return obj

