"""Task values: small JSON values a task sets and downstream tasks read.

Inside a task launched by Podium (a subprocess, a function worker or a notebook):

    from podium import task_values
    task_values.set("rows", 1234)
    rows = task_values.get(task_key="orders_ingest", key="rows")

The engine hands each attempt two files through the environment: the values already
set in the run (read by ``get``) and a file ``set`` appends to, which the engine
records once the attempt ends. This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import json
import os
from typing import Any

# Databricks' limit for one task value, serialised.
MAX_VALUE_BYTES = 48 * 1024

VALUES_IN_ENV = "PODIUM_TASK_VALUES_IN"
VALUES_OUT_ENV = "PODIUM_TASK_VALUES_OUT"
_MISSING: Any = object()


def set(key: str, value: Any) -> None:
    """Set task value ``key`` of the running task to a JSON-serialisable ``value``.

    Raises:
        TypeError: value is not JSON-serialisable.
        ValueError: key is empty or the value is larger than 48 KiB as JSON.
        RuntimeError: not running inside a Podium task.
    """
    if not key or not isinstance(key, str):
        raise ValueError("task value key must be a non-empty string")
    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"task value {key!r} is not JSON-serialisable: {exc}") from None
    if len(encoded.encode()) > MAX_VALUE_BYTES:
        raise ValueError(f"task value {key!r} is larger than 48 KiB as JSON")
    path = os.environ.get(VALUES_OUT_ENV)
    if not path:
        raise RuntimeError("podium.task_values.set works only inside a task run by Podium")
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"key": key, "value": value}) + "\n")


def get(task_key: str, key: str, default: Any = _MISSING, debug_value: Any = _MISSING) -> Any:
    """Read task value ``key`` set by task ``task_key`` earlier in this run.

    Args:
        task_key: the task that set the value.
        key: the value's name.
        default: returned when that task set no such value.
        debug_value: returned when not running inside Podium (e.g. in a notebook
            being developed), as in ``dbutils.jobs.taskValues.get``.

    Raises:
        KeyError: no such value and no default.
        RuntimeError: not running inside Podium and no debug_value.
    """
    path = os.environ.get(VALUES_IN_ENV)
    if path is None:
        if debug_value is not _MISSING:
            return debug_value
        raise RuntimeError(
            "podium.task_values.get works only inside a task run by Podium; "
            "pass debug_value=... to use it elsewhere"
        )
    values = _read(path)
    try:
        return values[task_key][key]
    except KeyError:
        if default is not _MISSING:
            return default
        raise KeyError(f"task {task_key!r} set no task value {key!r} in this run") from None


def _read(path: str) -> dict[str, dict[str, Any]]:
    if not path or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as src:
        data: dict[str, dict[str, Any]] = json.load(src)
    return data
