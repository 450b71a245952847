"""Evaluate a condition task: numbers compare as numbers, anything else as text."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from podium.spec.base import ConditionOp

_OPS: dict[ConditionOp, Callable[[Any, Any], bool]] = {
    ConditionOp.EQUAL_TO: operator.eq,
    ConditionOp.NOT_EQUAL: operator.ne,
    ConditionOp.GREATER_THAN: operator.gt,
    ConditionOp.GREATER_THAN_OR_EQUAL: operator.ge,
    ConditionOp.LESS_THAN: operator.lt,
    ConditionOp.LESS_THAN_OR_EQUAL: operator.le,
}


def evaluate_condition(op: ConditionOp, left: str, right: str) -> bool:
    """Compare two resolved operands as Databricks' condition task does."""
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return _OPS[op](a, b)
    return _OPS[op](left, right)


def _number(text: str) -> float | None:
    """``text`` as a finite number, else None ("nan" and "inf" stay text)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
