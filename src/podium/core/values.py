"""Resolve dynamic value references (``{{job.parameters.x}}``, ``{{tasks.a.values.n}}``,
``{{secrets/scope/key}}``, ...) against what a run knows at the moment a task starts, and
mask the secret values a task used in what it produced."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.core.plan import TaskRunState
from podium.spec.refs import SECRET_PREFIX, iter_references

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_START_TIME_PARTS: dict[str, Callable[[datetime], Any]] = {
    "iso_date": lambda t: t.date().isoformat(),
    "iso_datetime": lambda t: t.isoformat(),
    "year": lambda t: t.year,
    "month": lambda t: t.month,
    "day": lambda t: t.day,
    "hour": lambda t: t.hour,
    "minute": lambda t: t.minute,
    "second": lambda t: t.second,
    "timestamp_ms": lambda t: (t - _EPOCH) // timedelta(milliseconds=1),
    "iso_weekday": lambda t: t.isoweekday(),
    "is_weekday": lambda t: t.isoweekday() <= 5,
}


REDACTED = "[REDACTED]"
# A line of a multi-line secret (a PEM key, a JSON credential) is masked on its own when
# it is at least this long: logs are masked line by line, and shorter lines ("{", "}")
# would mask common text while protecting nothing.
MIN_SECRET_LINE = 8


class UnresolvedReference(ValueError):
    """A reference that is valid in the spec but has no value in this run (yet)."""


@dataclass(frozen=True, slots=True)
class ValueContext:
    """Everything a reference may name, as of one task attempt's start."""

    job_id: int
    job_name: str
    run_id: int
    start_time: datetime
    parameters: dict[str, str]
    task_key: str = ""
    task_run_id: int = 0
    execution_count: int = 0
    repair_count: int = 0
    task_values: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    task_states: Mapping[str, TaskRunState] = field(default_factory=dict)
    task_run_ids: Mapping[str, int] = field(default_factory=dict)
    # (scope, key) -> the secret's value, raising UnresolvedReference when there is none.
    # None: secrets are not resolved here and ``{{secrets/...}}`` stays as written (a
    # for-each iteration's task resolves it when it starts, in its own run).
    secret: Callable[[str, str], str] | None = None
    trigger: str = ""  # what started the run: ONE_TIME, PERIODIC, FILE_ARRIVAL, ...
    # What the trigger knew, e.g. a file arrival's {"location": url, "files": [paths]}.
    trigger_info: Mapping[str, Any] = field(default_factory=dict)


def resolve_text(text: str, ctx: ValueContext) -> str:
    """``text`` with every ``{{...}}`` replaced by its value.

    Raises:
        UnresolvedReference: a reference has no value in this run.
    """
    out: list[str] = []
    pos = 0
    for ref in iter_references(text):
        if ctx.secret is None and ref.expr.startswith(SECRET_PREFIX):
            continue  # left as written, copied with the text around it
        out.append(text[pos:ref.start])
        out.append(_as_text(lookup(ref.expr, ctx)))
        pos = ref.end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def resolve_obj(obj: Any, ctx: ValueContext) -> Any:
    """Resolve references in every string inside nested lists and dicts."""
    if isinstance(obj, str):
        return resolve_text(obj, ctx)
    if isinstance(obj, list):
        return [resolve_obj(v, ctx) for v in obj]
    if isinstance(obj, dict):
        return {k: resolve_obj(v, ctx) for k, v in obj.items()}
    return obj


def lookup(expr: str, ctx: ValueContext) -> Any:
    """The value of one reference expression (the text between the braces).

    Raises:
        UnresolvedReference: the reference has no value in this run.
    """
    if expr.startswith(SECRET_PREFIX):
        return _secret_lookup(expr, ctx)
    parts = expr.split(".")
    simple: dict[str, Any] = {
        "job.id": ctx.job_id,
        "job.name": ctx.job_name,
        "job.run_id": ctx.run_id,
        "job.repair_count": ctx.repair_count,
        "run.id": ctx.run_id,
        "task.name": ctx.task_key,
        "task.run_id": ctx.task_run_id,
        "task.execution_count": ctx.execution_count,
        "job.trigger.type": ctx.trigger,
        # Empty for a run no file arrival started (e.g. "run now" of the same job).
        "job.trigger.file_arrival.location": ctx.trigger_info.get("location", ""),
        "job.trigger.file_arrival.files": list(ctx.trigger_info.get("files", [])),
    }
    if expr in simple:
        return simple[expr]
    if parts[:2] == ["job", "parameters"] and len(parts) >= 3:
        name = ".".join(parts[2:])
        if name in ctx.parameters:
            return ctx.parameters[name]
        raise UnresolvedReference(f"{{{{{expr}}}}}: no job parameter {name!r}")
    if parts[:2] == ["job", "start_time"] and len(parts) == 3 and parts[2] in _START_TIME_PARTS:
        return _START_TIME_PARTS[parts[2]](ctx.start_time)
    if parts[0] == "tasks" and len(parts) >= 3:
        return _task_lookup(expr, parts[1], parts[2:], ctx)
    raise UnresolvedReference(f"{{{{{expr}}}}}: unknown reference")


def _secret_lookup(expr: str, ctx: ValueContext) -> str:
    parts = expr.split("/")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise UnresolvedReference(f"{{{{{expr}}}}}: a secret reference is secrets/<scope>/<key>")
    if ctx.secret is None:
        raise UnresolvedReference(f"{{{{{expr}}}}}: secrets cannot be read here")
    return ctx.secret(parts[1], parts[2])


def _task_lookup(expr: str, key: str, rest: list[str], ctx: ValueContext) -> Any:
    if rest[0] == "values" and len(rest) >= 2:
        name = ".".join(rest[1:])
        values = ctx.task_values.get(key, {})
        if name not in values:
            raise UnresolvedReference(f"{{{{{expr}}}}}: task {key!r} set no task value {name!r}")
        return values[name]
    if rest[0] not in ("result_state", "run_id", "execution_count") or len(rest) != 1:
        raise UnresolvedReference(f"{{{{{expr}}}}}: unknown reference")
    state = ctx.task_states.get(key)
    if state is None or (rest[0] == "run_id" and key not in ctx.task_run_ids):
        raise UnresolvedReference(f"{{{{{expr}}}}}: task {key!r} has not run in this run")
    if rest[0] == "run_id":
        return ctx.task_run_ids[key]
    if rest[0] == "execution_count":
        return state.attempt_count
    return state.result_state.value if state.result_state else ""


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def secret_terms(values: Iterable[str]) -> tuple[str, ...]:
    """What to mask for the secret ``values``: each non-empty value and, for a value of
    several lines, each of its lines of MIN_SECRET_LINE characters or more (so masking
    line by line still hides it); longest first, so a secret inside another is masked
    as part of the longer one."""
    terms: set[str] = set()
    for value in values:
        if not value:
            continue  # an empty value cannot be masked
        terms.add(value)
        lines = value.splitlines()
        if len(lines) > 1:
            terms.update(s for line in lines if len(s := line.strip()) >= MIN_SECRET_LINE)
    return tuple(sorted(terms, key=lambda t: (-len(t), t)))


def mask_text(text: str, terms: tuple[str, ...]) -> str:
    """``text`` with every occurrence of each of ``terms`` (from ``secret_terms``)
    replaced by ``[REDACTED]``."""
    for term in terms:
        if term in text:
            text = text.replace(term, REDACTED)
    return text


def mask_obj(obj: Any, terms: tuple[str, ...]) -> Any:
    """JSON-like ``obj`` with ``terms`` masked in every string (dict keys included); a
    number whose text holds a term becomes ``[REDACTED]``."""
    if not terms:
        return obj
    if isinstance(obj, str):
        return mask_text(obj, terms)
    if isinstance(obj, list | tuple):
        return [mask_obj(v, terms) for v in obj]
    if isinstance(obj, dict):
        return {mask_obj(k, terms): mask_obj(v, terms) for k, v in obj.items()}
    if isinstance(obj, int | float) and not isinstance(obj, bool):
        text = str(obj)
        return REDACTED if any(term in text for term in terms) else obj
    return obj
