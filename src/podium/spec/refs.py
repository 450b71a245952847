"""Parse dynamic value references (``{{job.id}}``, ``{{tasks.a.values.rows}}``) in strings.

This module finds and checks references; resolving them to values is ``podium.core``'s job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Across lines and non-greedy: "{{a}} and {{b}}" is two references. The inner text never
# holds "{{", so in "{{ {{a}}" the first, unclosed "{{" stays text.
_REFERENCE = re.compile(r"\{\{((?:(?!\{\{).)*?)\}\}", re.DOTALL)

SIMPLE_REFERENCES: tuple[str, ...] = (
    "job.id",
    "job.name",
    "job.run_id",
    "job.repair_count",
    "run.id",
    "task.name",
    "task.run_id",
    "task.execution_count",
    "job.trigger.type",
    "job.trigger.file_arrival.location",
    "job.trigger.file_arrival.files",  # a Podium extension: the new files, a JSON list
)
START_TIME_FIELDS: tuple[str, ...] = (
    "iso_date",
    "iso_datetime",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "timestamp_ms",
    "iso_weekday",
    "is_weekday",
)
TASK_FIELDS: tuple[str, ...] = ("result_state", "run_id", "execution_count")

REFERENCE_FORMS = (
    "known references: " + ", ".join(SIMPLE_REFERENCES) + ", job.parameters.<name>, "
    "job.start_time.<field>, tasks.<key>.values.<name>, "
    + ", ".join(f"tasks.<key>.{f}" for f in TASK_FIELDS)
    + ", secrets/<scope>/<key>"
)

SECRET_PREFIX = "secrets/"
# What a secret scope or key may be named (as the secrets API accepts them).
SECRET_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")

_TASK_REF = re.compile(r"^tasks\.([A-Za-z0-9_\-]+)\.(.+)$")


@dataclass(frozen=True, slots=True)
class Reference:
    """One ``{{ ... }}`` in a string.

    Attributes:
        expr: the text between the braces, stripped, e.g. ``tasks.a.values.rows``.
        start: index of the first ``{`` in the string.
        end: index just past the last ``}``.
    """

    expr: str
    start: int
    end: int


def iter_references(text: str) -> Iterator[Reference]:
    """Yield every ``{{ ... }}`` reference in ``text``, left to right.

    Args:
        text: any string; an unclosed ``{{`` is treated as plain text.

    Yields:
        One Reference per closed ``{{ ... }}``.
    """
    for match in _REFERENCE.finditer(text):
        yield Reference(expr=match.group(1).strip(), start=match.start(), end=match.end())


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"did you mean 'x'?"`` for the closest of ``choices``, or ``""``.

    Args:
        word: what the user wrote.
        choices: the names to pick from.
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def check_reference(
    expr: str, *, task_keys: set[str], upstream: set[str], parameters: set[str]
) -> tuple[str, str, str] | None:
    """Check one reference expression against the job it appears in.

    Args:
        expr: the stripped text inside ``{{ }}``.
        task_keys: every task key of the job.
        upstream: the keys of tasks transitively upstream of the task using the reference.
        parameters: the names of the job's parameters.

    Returns:
        ``(code, msg, hint)`` describing what is wrong, or None if the reference is fine.
    """
    if expr in SIMPLE_REFERENCES:
        return None
    if expr.startswith(SECRET_PREFIX):
        return check_secret_reference(expr)
    if expr.startswith("job.parameters."):
        return _check_parameter(expr.removeprefix("job.parameters."), parameters)
    if expr.startswith("job.start_time."):
        return _check_start_time(expr.removeprefix("job.start_time."))
    match = _TASK_REF.match(expr)
    if match:
        return _check_task_reference(match.group(1), match.group(2), task_keys, upstream)
    return _unknown(expr, SIMPLE_REFERENCES)


def check_secret_reference(expr: str) -> tuple[str, str, str] | None:
    """Check the form of a ``secrets/<scope>/<key>`` expression (not that it exists: a
    secret is read when the task using it starts).

    Returns:
        ``(code, msg, hint)`` describing what is wrong, or None if the form is fine.
    """
    parts = expr.split("/")
    hint = (
        "write {{secrets/<scope>/<key>}}, e.g. {{secrets/prod/api_token}}; scope and key "
        "are 1 to 128 letters, digits, '_', '-' and '.'"
    )
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return ("bad-secret-reference",
                f"{{{{{expr}}}}} is not a secret reference: it needs a scope and a key", hint)
    bad = [part for part in parts[1:] if not SECRET_NAME.match(part)]
    if bad:
        return ("bad-secret-reference",
                f"{{{{{expr}}}}}: {bad[0]!r} is not a valid secret scope or key name", hint)
    return None


def _unknown(expr: str, choices: tuple[str, ...]) -> tuple[str, str, str]:
    hint = did_you_mean(expr, choices) or REFERENCE_FORMS
    return ("unknown-reference", f"unknown reference {{{{{expr}}}}}", hint)


def _check_parameter(name: str, parameters: set[str]) -> tuple[str, str, str] | None:
    if name in parameters:
        return None
    hint = did_you_mean(name, sorted(parameters))
    if not hint:
        defined = ", ".join(sorted(parameters)) or "none"
        hint = f"define it under 'parameters' (defined: {defined})"
    return ("unknown-parameter", f"no job parameter {name!r}", hint)


def _check_start_time(field: str) -> tuple[str, str, str] | None:
    if field in START_TIME_FIELDS:
        return None
    hint = did_you_mean(field, START_TIME_FIELDS) or (
        "job.start_time fields: " + ", ".join(START_TIME_FIELDS)
    )
    return ("unknown-reference", f"unknown reference {{{{job.start_time.{field}}}}}", hint)


def _check_task_reference(
    key: str, rest: str, task_keys: set[str], upstream: set[str]
) -> tuple[str, str, str] | None:
    if key not in task_keys:
        hint = did_you_mean(key, sorted(task_keys))
        return ("unknown-task", f"reference to unknown task {key!r}", hint)
    if rest not in TASK_FIELDS and not (rest.startswith("values.") and len(rest) > 7):
        forms = ", ".join(["values.<name>", *TASK_FIELDS])
        hint = did_you_mean(rest, TASK_FIELDS) or f"after tasks.{key}. use one of: {forms}"
        return ("unknown-reference", f"unknown reference {{{{tasks.{key}.{rest}}}}}", hint)
    if key not in upstream:
        return (
            "reference-not-upstream",
            f"task {key!r} is not upstream of this task, so its values are not known yet",
            f"add {key!r} to depends_on (directly or through another task)",
        )
    return None


def walk_strings(obj: object, loc: str) -> Iterator[tuple[str, str]]:
    """Yield ``(loc, string)`` for every string value inside nested dicts and lists.

    Args:
        obj: a string, dict, list or anything else (ignored).
        loc: the location of ``obj``, e.g. ``tasks[2]``; "" at the top.

    Yields:
        Pairs like ``("tasks[2].shell_task.command[1]", "{{job.id}}")``. Dict keys are not
        visited, only values.
    """
    if isinstance(obj, str):
        yield loc, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from walk_strings(value, f"{loc}.{key}" if loc else str(key))
    elif isinstance(obj, list | tuple):
        for index, value in enumerate(obj):
            yield from walk_strings(value, f"{loc}[{index}]")
