"""Job specs: pydantic models, loading from YAML / JSON / Python, and validation.

Everything here is pure: no database, processes or clock.
"""

from __future__ import annotations

from podium.spec.base import ConditionOp, RunIf
from podium.spec.load import LoadedJob, load_job
from podium.spec.models import (
    TASK_TYPE_FIELDS,
    JobParameter,
    JobSpec,
    Task,
    TaskDependency,
)
from podium.spec.refs import Reference, iter_references
from podium.spec.task_types import GitSource
from podium.spec.validate import parse_job

__all__ = [
    "TASK_TYPE_FIELDS",
    "ConditionOp",
    "GitSource",
    "JobParameter",
    "JobSpec",
    "LoadedJob",
    "Reference",
    "RunIf",
    "Task",
    "TaskDependency",
    "iter_references",
    "load_job",
    "parse_job",
]
