"""The base of every spec model, and the enums task types share."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

TASK_KEY_PATTERN = r"^[A-Za-z0-9_\-]+$"


class RunIf(StrEnum):
    """When a task runs, given the outcomes of the tasks it depends on."""

    ALL_SUCCESS = "ALL_SUCCESS"
    AT_LEAST_ONE_SUCCESS = "AT_LEAST_ONE_SUCCESS"
    NONE_FAILED = "NONE_FAILED"
    ALL_DONE = "ALL_DONE"
    AT_LEAST_ONE_FAILED = "AT_LEAST_ONE_FAILED"
    ALL_FAILED = "ALL_FAILED"


class ConditionOp(StrEnum):
    EQUAL_TO = "EQUAL_TO"
    NOT_EQUAL = "NOT_EQUAL"
    GREATER_THAN = "GREATER_THAN"
    GREATER_THAN_OR_EQUAL = "GREATER_THAN_OR_EQUAL"
    LESS_THAN = "LESS_THAN"
    LESS_THAN_OR_EQUAL = "LESS_THAN_OR_EQUAL"


class SpecModel(BaseModel):
    """Base of every spec model: unknown fields are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
