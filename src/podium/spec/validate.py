"""Turn untrusted job-spec data into a JobSpec, reporting every problem at once.

Each problem has a path (``tasks[3].depends_on[0].task_key``), a stable code and a fix.
Whole-job checks run on the raw dicts, so they still run when a task fails its model.
"""

from __future__ import annotations

import graphlib
import re
import types
import typing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from podium.errors import InvalidJobSpec, Problem
from podium.spec.automation import file_arrival_path
from podium.spec.cron import check_automation
from podium.spec.models import TASK_TYPE_FIELDS, JobSpec, Task
from podium.spec.refs import (
    SECRET_PREFIX,
    check_reference,
    did_you_mean,
    iter_references,
    walk_strings,
)

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

# Databricks fields Podium accepts and ignores until it implements them: an empty value
# (null, "", [], {}; what SDK clients often send) silently, any other with a warning.
# Kept in step with databricks-sdk's JobSettings and Task (tests/unit/test_spec_sdk_fields.py).
IGNORED_JOB_FIELDS: tuple[str, ...] = (
    "job_clusters", "run_as", "access_control_list", "budget_policy_id",
    "usage_policy_id", "deployment", "edit_mode", "format", "performance_target",
    "duration_target", "environment_variables", "parent_path", "triggers",
)  # fmt: skip
IGNORED_TASK_FIELDS: tuple[str, ...] = (
    "existing_cluster_id", "new_cluster", "compute",
    "disable_auto_optimization", "environment_variables_key",
)  # fmt: skip
# Every task type Databricks or Podium knows. Those Podium cannot run (yet) are an error,
# since ignoring one would silently drop the work.
KNOWN_TASK_TYPES: tuple[str, ...] = (
    "spark_python_task", "python_function_task", "shell_task", "condition_task",
    "notebook_task", "spark_jar_task", "python_wheel_task", "sql_task", "for_each_task",
    "run_job_task", "http_task", "drift_check_task", "spark_submit_task", "pipeline_task",
    "dbt_task", "clean_rooms_notebook_task", "dashboard_task", "power_bi_task",
    "gen_ai_compute_task", "ai_function_task", "ai_runtime_task", "alert_task",
    "dbt_cloud_task", "dbt_platform_task", "python_operator_task",
)  # fmt: skip
UNSUPPORTED_TASK_TYPES: tuple[str, ...] = tuple(
    t for t in KNOWN_TASK_TYPES if t not in TASK_TYPE_FIELDS
)
ALL_TASK_TYPES: tuple[str, ...] = TASK_TYPE_FIELDS + UNSUPPORTED_TASK_TYPES

Loc = tuple[int | str, ...]
Tasks = dict[int, dict[Any, Any]]  # index in the spec's task list -> the raw task mapping


def parse_job(data: object, source: str = "job spec") -> tuple[JobSpec, list[str]]:
    """Validate job-spec data (as read from YAML, JSON or the SDK) into a JobSpec.

    Args:
        data: the parsed document; must be a mapping in the Jobs API 2.2 shape.
        source: names the spec in the error message (a path, ``Job('name')``, ...).

    Returns:
        The JobSpec and warnings about fields that were ignored.

    Raises:
        InvalidJobSpec: with every problem found, each with its code and location.
    """
    if not isinstance(data, dict):
        kind = _describe(data)
        problem = Problem("not-a-mapping", "", f"a job spec must be a mapping, got {kind}")
        raise InvalidJobSpec([problem], source)
    cleaned, warnings = _strip_ignored(data)
    problems = check_job(cleaned)
    try:
        spec = JobSpec.model_validate(_strip_unsupported_types(cleaned))
    except ValidationError as exc:
        problems += [p for p in problems_from_validation_error(exc) if p not in problems]
    if problems:
        raise InvalidJobSpec(_in_document_order(problems), source)
    return spec, warnings


def _strip_ignored(data: dict[Any, Any]) -> tuple[dict[Any, Any], list[str]]:
    """Drop the ignored Databricks fields; return the copy and one warning per field
    that had a value."""
    warnings = [_ignored(k) for k, v in data.items() if k in IGNORED_JOB_FIELDS and _has_value(v)]
    warnings += _streaming_warnings(data, "")
    cleaned = {k: v for k, v in data.items() if k not in IGNORED_JOB_FIELDS}
    tasks = cleaned.get("tasks")
    if isinstance(tasks, list):
        cleaned["tasks"] = [_strip_task(t, f"tasks[{i}]", warnings) for i, t in enumerate(tasks)]
    return cleaned, warnings


def _strip_task(task: object, loc: str, warnings: list[str]) -> object:
    """A task without its ignored fields (nor a for-each task's nested task's); warnings
    about them are appended to ``warnings``."""
    if not isinstance(task, dict):
        return task
    ignored = [k for k, v in task.items() if k in IGNORED_TASK_FIELDS and _has_value(v)]
    warnings += [_ignored(f"{loc}.{k}") for k in ignored]
    warnings += _streaming_warnings(task, f"{loc}.")
    unused = _unused_libraries(task, loc)
    warnings += unused
    dropped = (*IGNORED_TASK_FIELDS, *(["libraries"] if unused else []))
    cleaned = {k: v for k, v in task.items() if k not in dropped}
    for_each = cleaned.get("for_each_task")
    if isinstance(for_each, dict) and "task" in for_each:
        nested = _strip_task(for_each["task"], f"{loc}.for_each_task.task", warnings)
        cleaned["for_each_task"] = {**for_each, "task": nested}
    return cleaned


def _has_value(value: object) -> bool:
    """False for null, "" and lists or mappings holding nothing but such empty values."""
    if isinstance(value, dict):
        return any(_has_value(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_value(v) for v in value)
    return value is not None and value != ""


def _streaming_warnings(data: dict[Any, Any], prefix: str) -> list[str]:
    """``on_streaming_backlog_exceeded`` is accepted (SDK clients send it) but Podium runs
    no streams: one warning where it names someone."""
    out = []
    for field in ("email_notifications", "webhook_notifications"):
        block = data.get(field)
        if isinstance(block, dict) and _has_value(block.get("on_streaming_backlog_exceeded")):
            out.append(f"{prefix}{field}.on_streaming_backlog_exceeded: Podium runs no "
                       "streams; ignored")
    return out


def _ignored(loc: str) -> str:
    return f"{loc}: not implemented by Podium yet; ignored"


# The task types that use their `libraries` (jars, wheels); on others they do nothing.
LIBRARY_TASK_TYPES: tuple[str, ...] = ("spark_jar_task", "python_wheel_task")


def _unused_libraries(task: dict[Any, Any], loc: str) -> list[str]:
    if not task.get("libraries") or any(task.get(t) is not None for t in LIBRARY_TASK_TYPES):
        return []
    return [
        f"{loc}.libraries: only spark_jar_task and python_wheel_task use libraries; "
        "ignored (for Python packages, declare an environment and name it with "
        "environment_key)"
    ]


def _strip_unsupported_types(data: dict[Any, Any]) -> dict[Any, Any]:
    """Drop unsupported task types so the model reports no unknown field for them."""
    tasks = data.get("tasks")
    if not isinstance(tasks, list):
        return data
    stripped = [
        {k: v for k, v in t.items() if k not in UNSUPPORTED_TASK_TYPES}
        if isinstance(t, dict)
        else t
        for t in tasks
    ]
    return {**data, "tasks": stripped}


def check_job(data: dict[Any, Any]) -> list[Problem]:
    """Run the whole-job checks on raw spec data (ignored fields already removed).

    Args:
        data: the job mapping; malformed parts are skipped (the model reports them).

    Returns:
        Every problem found: task types, keys, dependencies, cycles, parameters, references.
    """
    parameters, problems = _parameter_names(data.get("parameters"))
    problems += check_automation(data)
    problems += _check_file_arrival(data.get("trigger"))
    tasks = data.get("tasks")
    if not isinstance(tasks, list):
        return problems
    if not tasks:
        return [*problems, Problem("empty-job", "tasks", "the job has no tasks", "add a task")]
    indexed = {i: t for i, t in enumerate(tasks) if isinstance(t, dict)}
    for i, task in indexed.items():
        problems += _check_task_type(i, task)
    keys, key_problems = _task_keys(indexed)
    problems += key_problems
    problems += _check_dependencies(indexed, keys)
    problems += _check_environments(data.get("environments"), indexed)
    problems += _check_git_sources(data.get("git_source"), indexed)
    problems += _check_nested_tasks(indexed)
    graph = _upstream_graph(indexed, keys)
    problems += [Problem("cycle", "tasks", "cycle " + " -> ".join(c)) for c in find_cycles(graph)]
    problems += _check_references(indexed, graph, parameters)
    return problems


def _task_key(task: dict[Any, Any]) -> str | None:
    key = task.get("task_key")
    return key if isinstance(key, str) else None


def _check_task_type(i: int, task: dict[Any, Any]) -> list[Problem]:
    present = [name for name in ALL_TASK_TYPES if task.get(name) is not None]
    problems = [
        Problem(
            "unsupported-task-type",
            f"tasks[{i}].{name}",
            f"task type {name!r} is not supported yet",
            "supported task types: " + ", ".join(TASK_TYPE_FIELDS),
        )
        for name in present
        if name in UNSUPPORTED_TASK_TYPES
    ]
    label = f"task {_task_key(task)!r}" if _task_key(task) else "this task"
    if not present:
        hint = "set exactly one of: " + ", ".join(TASK_TYPE_FIELDS)
        problems.append(Problem("no-task-type", f"tasks[{i}]", f"{label} has no task type", hint))
    elif len(present) > 1:
        msg = f"{label} has {len(present)} task types: {', '.join(present)}"
        problems.append(Problem("multiple-task-types", f"tasks[{i}]", msg, "keep exactly one"))
    return problems


def _task_keys(indexed: Tasks) -> tuple[dict[str, int], list[Problem]]:
    """Map each task key to the index of its first task; report duplicates."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for i, task in indexed.items():
        key = _task_key(task)
        if key is None:
            continue
        if key in first:
            msg = f"task_key {key!r} is already used by tasks[{first[key]}]"
            problems.append(
                Problem(
                    "duplicate-task-key", f"tasks[{i}].task_key", msg, "task keys must be unique"
                )
            )
        else:
            first[key] = i
    return first, problems


def _dependencies(task: dict[Any, Any]) -> Iterator[tuple[int, str, dict[Any, Any]]]:
    """Yield ``(index, upstream key, dependency)`` for each well-formed dependency."""
    depends_on = task.get("depends_on")
    if not isinstance(depends_on, list):
        return
    for j, dep in enumerate(depends_on):
        if isinstance(dep, dict) and isinstance(dep.get("task_key"), str):
            yield j, dep["task_key"], dep


def _check_dependencies(indexed: Tasks, keys: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    for i, task in indexed.items():
        own = _task_key(task)
        for j, upstream, dep in _dependencies(task):
            loc = f"tasks[{i}].depends_on[{j}]"
            if upstream == own:
                msg = f"task {own!r} depends on itself"
                problems.append(Problem("self-dependency", f"{loc}.task_key", msg, "remove it"))
            elif upstream not in keys:
                hint = did_you_mean(upstream, keys)
                problems.append(
                    Problem("unknown-task", f"{loc}.task_key", f"no task {upstream!r}", hint)
                )
            elif dep.get("outcome") is not None and not _is_condition(indexed[keys[upstream]]):
                msg = f"outcome is set but task {upstream!r} is not a condition_task"
                hint = "remove outcome, or depend on a condition_task"
                problems.append(Problem("outcome-without-condition", f"{loc}.outcome", msg, hint))
    return problems


def _is_condition(task: dict[Any, Any]) -> bool:
    return task.get("condition_task") is not None


def _upstream_graph(indexed: Tasks, keys: dict[str, int]) -> dict[str, list[str]]:
    """Map each task key to the keys it depends on (known keys only, no self-loops)."""
    graph: dict[str, list[str]] = {key: [] for key in keys}
    for task in indexed.values():
        own = _task_key(task)
        if own is None:
            continue
        for _, upstream, _ in _dependencies(task):
            if upstream in keys and upstream != own and upstream not in graph[own]:
                graph[own].append(upstream)
    return graph


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Find dependency cycles, each as a path in run order that ends where it starts.

    Every cycle returned exists in ``graph``; after one is found its closing edge is set
    aside and the search repeats, so separate cycles are each reported.

    Args:
        graph: task key -> keys it depends on.

    Returns:
        Paths like ``["match", "build_features", "match"]`` (match runs before
        build_features), or ``[]`` when the graph is acyclic.
    """
    remaining = {node: list(ups) for node, ups in graph.items()}
    order = {node: n for n, node in enumerate(graph)}
    cycles: list[list[str]] = []
    while True:
        try:
            graphlib.TopologicalSorter(remaining).prepare()
        except graphlib.CycleError as exc:
            # graphlib walks from each task to its dependents, so the path is in run order.
            path = list(exc.args[1])[:-1]
            start = min(range(len(path)), key=lambda n: order.get(path[n], 0))
            path = path[start:] + path[:start]
            cycles.append([*path, path[0]])
            remaining[path[0]].remove(path[-1])
        else:
            return cycles


def _parameter_names(parameters: object) -> tuple[set[str], list[Problem]]:
    names: set[str] = set()
    problems: list[Problem] = []
    if not isinstance(parameters, list):
        return names, problems
    for i, parameter in enumerate(parameters):
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str):
            continue
        if name in names:
            msg = f"job parameter {name!r} is defined more than once"
            problems.append(Problem("duplicate-parameter", f"parameters[{i}].name", msg))
        names.add(name)
    return names, problems


def _transitive_upstream(graph: dict[str, list[str]], key: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph.get(key, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, []))
    return seen


def _check_references(
    indexed: Tasks, graph: dict[str, list[str]], parameters: set[str]
) -> list[Problem]:
    problems: list[Problem] = []
    task_keys = set(graph)
    for i, task in indexed.items():
        key = _task_key(task)
        upstream: set[str] | None = None  # computed only for tasks that name other tasks
        for loc, text in walk_strings(task, f"tasks[{i}]"):
            for ref in iter_references(text):
                if ref.expr == "input" and ".for_each_task.task." in loc:
                    continue  # a for-each iteration's own input
                if ref.expr.startswith(SECRET_PREFIX) and ".run_job_task.job_parameters" in loc:
                    problems.append(Problem(
                        "secret-in-job-parameters", loc,
                        "a run_job_task's job_parameters are kept with the child run and "
                        "shown in clear, so they cannot hold a secret",
                        "reference the secret in the tasks of the job it runs instead",
                    ))
                    continue
                if upstream is None and ref.expr.startswith("tasks"):
                    upstream = _transitive_upstream(graph, key) if key else set()
                found = check_reference(
                    ref.expr, task_keys=task_keys, upstream=upstream or set(),
                    parameters=parameters,
                )
                if found:
                    problems.append(Problem(found[0], loc, found[1], found[2]))
    return problems


# ---- pydantic errors -> problems -------------------------------------------------------

_EXPECTED_TYPES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "none_required": "null",
}
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


def problems_from_validation_error(exc: ValidationError) -> list[Problem]:
    """Convert a pydantic ValidationError about a JobSpec into Problems (the one place).

    Args:
        exc: raised by ``JobSpec.model_validate``.

    Returns:
        One Problem per pydantic error, except ones the whole-job checks report better
        (an empty ``tasks`` list is ``empty-job``).
    """
    problems = []
    for error in exc.errors():
        if error["type"] == "too_short" and tuple(error["loc"]) == ("tasks",):
            continue
        problems.append(_problem_from_error(error))
    return problems


def _problem_from_error(error: ErrorDetails) -> Problem:
    kind, loc, value = error["type"], tuple(error["loc"]), error["input"]
    ctx = error.get("ctx", {})
    where = format_loc(loc)
    if kind == "missing":
        return Problem("missing-field", where, f"required field {str(loc[-1])!r} is missing")
    if kind == "extra_forbidden":
        return _unknown_field(loc)
    if kind in _EXPECTED_TYPES:
        return Problem(
            "wrong-type", where, f"expected {_EXPECTED_TYPES[kind]}, got {_describe(value)}"
        )
    if kind in ("enum", "literal_error"):
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        msg = f"{value!r} is not one of: {', '.join(allowed)}"
        return Problem("bad-value", where, msg, did_you_mean(str(value), allowed))
    if kind == "string_pattern_mismatch":
        msg = f"{value!r} does not match the pattern {ctx.get('pattern')}"
        return Problem("bad-value", where, msg, _pattern_hint(loc, value))
    if kind in ("string_too_short", "too_short"):
        return Problem("bad-value", where, _too_short(kind, ctx.get("min_length", 1)))
    if kind in ("string_too_long", "too_long"):
        unit = "characters" if kind == "string_too_long" else "items"
        return Problem("bad-value", where, f"must have at most {ctx.get('max_length')} {unit}")
    if kind in _BOUNDS:
        symbol, name = _BOUNDS[kind]
        return Problem("bad-value", where, f"must be {symbol} {ctx.get(name)}, got {value!r}")
    return Problem("bad-value", where, str(error["msg"]))


def _too_short(kind: str, minimum: object) -> str:
    if kind == "string_too_short":
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} characters"
    return f"must have at least {minimum} item" + ("" if minimum == 1 else "s")


def _pattern_hint(loc: Loc, value: object) -> str:
    if loc and loc[-1] == "task_key":
        return "use letters, digits, '_' and '-' only"
    if loc and loc[-1] == "function":
        if "<locals>" in str(value):
            return "define the function at module level, so a worker process can import it"
        return "write it as 'module:callable', e.g. 'mypkg.jobs:ingest'"
    return ""


def _unknown_field(loc: Loc) -> Problem:
    name = str(loc[-1])
    model = _model_at(loc[:-1])
    choices = list(model.model_fields) if model else []
    if model is JobSpec:
        choices += IGNORED_JOB_FIELDS
    elif model is Task:
        choices += IGNORED_TASK_FIELDS + UNSUPPORTED_TASK_TYPES
    return Problem(
        "unknown-field", format_loc(loc), f"unknown field {name!r}", did_you_mean(name, choices)
    )


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class validating the mapping at ``loc`` (list indexes are skipped)."""
    model: type[BaseModel] | None = JobSpec
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: object) -> type[BaseModel] | None:
    """Find the model in an annotation like ``list[Task]`` or ``ShellTask | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found:
                return found
    return None


def format_loc(loc: Loc) -> str:
    """Format a pydantic location as ``tasks[3].depends_on[0].task_key``.

    Args:
        loc: field names and list indexes from the top of the spec.
    """
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _in_document_order(problems: list[Problem]) -> list[Problem]:
    """Group problems by top-level field and task; whole-list problems (cycles) go last."""

    def key(problem: Problem) -> tuple[str, float]:
        match = re.match(r"^([^.\[]*)(?:\[(\d+)\])?", problem.loc)
        head, index = (match.group(1), match.group(2)) if match else ("", None)
        return head, int(index) if index is not None else float("inf")

    return sorted(problems, key=key)


# Task types that run with a Python interpreter, and so can run in a job environment.
ENVIRONMENT_TASK_TYPES: tuple[str, ...] = (
    "spark_python_task", "python_wheel_task", "python_function_task",
)  # fmt: skip


def _environment_keys(environments: object) -> tuple[dict[str, int], list[Problem]]:
    """Map each environment key to the index of its first environment; report duplicates."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for j, env in enumerate(environments if isinstance(environments, list) else []):
        key = env.get("environment_key") if isinstance(env, dict) else None
        if not isinstance(key, str):
            continue  # the model reports it
        if key in first:
            msg = f"environment_key {key!r} is already used by environments[{first[key]}]"
            loc = f"environments[{j}].environment_key"
            problems.append(Problem("duplicate-environment-key", loc, msg, "keys must be unique"))
        else:
            first[key] = j
    return first, problems


def _check_environments(environments: object, indexed: Tasks) -> list[Problem]:
    """Each task's environment_key names a declared environment, on a Python task."""
    keys, problems = _environment_keys(environments)
    for i, task in indexed.items():
        key, loc = task.get("environment_key"), f"tasks[{i}].environment_key"
        if not isinstance(key, str):
            continue  # absent, or the model reports the wrong type
        if key not in keys:
            hint = did_you_mean(key, keys) or "declare it under the job's environments"
            problems.append(Problem("unknown-environment", loc, f"no environment {key!r}", hint))
        elif not any(task.get(t) is not None for t in ENVIRONMENT_TASK_TYPES):
            msg = "environment_key applies to Python tasks only"
            hint = "use it on " + ", ".join(ENVIRONMENT_TASK_TYPES)
            problems.append(Problem("environment-key-unsupported", loc, msg, hint))
    return problems


GIT_SOURCED = (("spark_python_task", "source"), ("notebook_task", "source"),
               ("sql_task", "file", "source"))


def _check_git_sources(git_source: object, indexed: Tasks) -> list[Problem]:
    """A task whose files come from GIT needs the job's git_source."""
    if git_source is not None:
        return []
    problems: list[Problem] = []
    for i, task in indexed.items():
        for path in GIT_SOURCED:
            found: Any = task
            for part in path:
                found = found.get(part) if isinstance(found, dict) else None
            if found == "GIT":
                loc = f"tasks[{i}].{'.'.join(path)}"
                problems.append(Problem(
                    "git-source-missing", loc, "source GIT needs the job's git_source",
                    "add git_source: {git_url: ..., git_branch: main} to the job, or use "
                    "source: WORKSPACE"))
    return problems


def _check_nested_tasks(indexed: Tasks) -> list[Problem]:
    """A for-each task's nested task runs once per input: it has no dependencies of its
    own and is not itself a for-each task."""
    problems: list[Problem] = []
    for i, task in indexed.items():
        for_each = task.get("for_each_task")
        nested = for_each.get("task") if isinstance(for_each, dict) else None
        if not isinstance(nested, dict):
            continue
        loc = f"tasks[{i}].for_each_task.task"
        if nested.get("depends_on"):
            problems.append(Problem(
                "nested-dependency", f"{loc}.depends_on",
                "the nested task of a for_each_task cannot have dependencies",
                "put depends_on on the for_each task itself",
            ))
        if nested.get("for_each_task") is not None:
            problems.append(Problem(
                "nested-for-each", f"{loc}.for_each_task",
                "a for_each_task cannot nest another for_each_task",
                "use a run_job_task whose job has the inner for_each_task",
            ))
    return problems


def _check_file_arrival(trigger: object) -> list[Problem]:
    """A file-arrival trigger's url names a local directory (``file_arrival_path``)."""
    file_arrival = trigger.get("file_arrival") if isinstance(trigger, dict) else None
    url = file_arrival.get("url") if isinstance(file_arrival, dict) else None
    if not isinstance(url, str) or not url:
        return []  # the model reports a missing or mistyped url
    try:
        file_arrival_path(url)
    except ValueError as exc:
        return [Problem(
            "bad-file-arrival-url", "trigger.file_arrival.url", str(exc),
            "give a local directory: an absolute path, a path relative to the job's folder, "
            "or a file:///absolute/path URL",
        )]
    return []
