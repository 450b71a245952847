"""``Job``: a Python way to write a job spec; it builds the same data a YAML spec holds.

Every task method only records a dict; ``to_spec`` validates the whole job with
``parse_job``, so errors are the very ones a YAML spec with the same content gets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any, TypeVar, overload

from podium.spec import ConditionOp, JobSpec, Task, TaskDependency, parse_job

F = TypeVar("F", bound=Callable[..., Any])


class Job:
    """A job being defined in Python.

    Example::

        job = Job("seed_pipeline", parameters={"run_date": "2026-01-01"})

        @job.task(max_retries=1)
        def clicks_ingest() -> None: ...

        @job.task(depends_on=[clicks_ingest])
        def match() -> None: ...
    """

    def __init__(
        self,
        name: str,
        *,
        parameters: Mapping[str, str | int | float | bool] | None = None,
        tags: Mapping[str, str] | None = None,
        timeout_seconds: int = 0,
        max_concurrent_runs: int = 1,
        description: str | None = None,
        environments: Sequence[Mapping[str, Any]] | None = None,
        **settings: Any,
    ) -> None:
        """Start a job with no tasks; the arguments are the JobSpec's job-level fields
        (``environments`` as in the YAML: ``[{environment_key, spec: {dependencies}}]``;
        any other, e.g. ``schedule={"quartz_cron_expression": ...}``, as in the YAML)."""
        self.name = name
        self._job: dict[str, Any] = {"name": name}
        if description is not None:
            self._job["description"] = description
        if parameters:
            self._job["parameters"] = [{"name": k, "default": v} for k, v in parameters.items()]
        if tags:
            self._job["tags"] = dict(tags)
        if timeout_seconds != 0:
            self._job["timeout_seconds"] = timeout_seconds
        if max_concurrent_runs != 1:
            self._job["max_concurrent_runs"] = max_concurrent_runs
        if environments:
            self._job["environments"] = [dict(e) for e in environments]
        self._job.update(settings)
        self._tasks: list[dict[str, Any]] = []
        self._keys: dict[Callable[..., Any], str] = {}

    def __repr__(self) -> str:
        return f"Job({self.name!r})"

    @overload
    def task(self, fn: F, /) -> F: ...
    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        key: str | None = None,
        parameters: Sequence[Any] | None = None,
        named_parameters: Mapping[str, Any] | None = None,
        **task_options: Any,
    ) -> Callable[[F], F]: ...
    def task(
        self,
        fn: F | None = None,
        /,
        *,
        key: str | None = None,
        parameters: Sequence[Any] | None = None,
        named_parameters: Mapping[str, Any] | None = None,
        **task_options: Any,
    ) -> F | Callable[[F], F]:
        """Decorator: make the function a ``python_function_task`` of this job.

        Usable bare (``@job.task``) or with arguments (``@job.task(depends_on=[a])``).
        The function is returned unchanged; its task key is remembered, so other tasks
        may name it in ``depends_on``.

        Args:
            fn: the function, when used bare.
            key: the task key; defaults to the function's ``__name__``.
            parameters: positional arguments for the call.
            named_parameters: keyword arguments for the call.
            **task_options: Task fields (depends_on, run_if, max_retries, ...).
        """

        def decorate(func: F) -> F:
            self.function_task(
                key or func.__name__,
                func,
                parameters=parameters,
                named_parameters=named_parameters,
                **task_options,
            )
            return func

        return decorate(fn) if fn is not None else decorate

    def function_task(
        self,
        key: str,
        fn: Callable[..., Any] | str,
        *,
        parameters: Sequence[Any] | None = None,
        named_parameters: Mapping[str, Any] | None = None,
        **task_options: Any,
    ) -> None:
        """Add a ``python_function_task`` calling ``fn`` (a function or ``"module:callable"``).

        Args:
            key: the task key.
            fn: the function to call in a worker process, or its ``module:callable`` name.
            parameters: positional arguments for the call.
            named_parameters: keyword arguments for the call.
            **task_options: Task fields (depends_on, run_if, max_retries, ...).
        """
        if callable(fn):
            self._keys[fn] = key
            function = f"{fn.__module__}:{fn.__qualname__}"
        else:
            function = fn
        body: dict[str, Any] = {"function": function}
        if parameters is not None:
            body["parameters"] = list(parameters)
        if named_parameters is not None:
            body["named_parameters"] = dict(named_parameters)
        self._add(key, "python_function_task", body, task_options)

    def python_file_task(
        self,
        key: str,
        python_file: str,
        *,
        parameters: Sequence[str] | None = None,
        **task_options: Any,
    ) -> None:
        """Add a ``spark_python_task`` running ``python_file`` with ``parameters`` as argv.

        Args:
            key: the task key.
            python_file: the script, relative to the job spec's folder or absolute.
            parameters: command-line arguments.
            **task_options: Task fields (depends_on, run_if, max_retries, ...).
        """
        body: dict[str, Any] = {"python_file": python_file}
        if parameters is not None:
            body["parameters"] = list(parameters)
        self._add(key, "spark_python_task", body, task_options)

    def shell_task(
        self,
        key: str,
        command: Sequence[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        **task_options: Any,
    ) -> None:
        """Add a ``shell_task`` running ``command`` (an argv list, never through a shell).

        Args:
            key: the task key.
            command: the program and its arguments.
            cwd: the working directory.
            env: extra environment variables for the command.
            **task_options: Task fields (depends_on, run_if, max_retries, ...).
        """
        body: dict[str, Any] = {"command": list(command)}
        if cwd is not None:
            body["cwd"] = cwd
        if env is not None:
            body["env"] = dict(env)
        self._add(key, "shell_task", body, task_options)

    def condition_task(
        self, key: str, left: str, op: ConditionOp | str, right: str, **task_options: Any
    ) -> None:
        """Add a ``condition_task`` comparing ``left`` and ``right`` with ``op``.

        Args:
            key: the task key.
            left: the left operand, often a reference like ``{{tasks.a.values.rows}}``.
            op: a ConditionOp or its name, e.g. ``"GREATER_THAN"``.
            right: the right operand.
            **task_options: Task fields (depends_on, run_if, ...).
        """
        op_name = op.value if isinstance(op, Enum) else op
        self._add(
            key, "condition_task", {"op": op_name, "left": left, "right": right}, task_options
        )

    def add_task(self, task: Task | Mapping[str, Any]) -> None:
        """Add a task given as a Task model or as a mapping in the job-spec shape.

        Args:
            task: the task; a mapping may use the SDK's ``depends_on`` shortcuts.
        """
        if isinstance(task, Task):
            data = task.model_dump(mode="json", exclude_defaults=True)
        else:
            data = dict(task)
        if "depends_on" in data:
            data["depends_on"] = self._dependencies(data["depends_on"])
        self._tasks.append(data)

    def to_dict(self) -> dict[str, Any]:
        """Return the job as job-spec data (what the equivalent YAML file would hold)."""
        return copy.deepcopy({**self._job, "tasks": self._tasks})

    def to_spec(self) -> JobSpec:
        """Validate the job and return its JobSpec.

        Raises:
            InvalidJobSpec: with every problem, named as for a YAML spec.
        """
        spec, _warnings = parse_job(self.to_dict(), source=repr(self))
        return spec

    def _add(
        self, key: str, type_field: str, body: dict[str, Any], options: dict[str, Any]
    ) -> None:
        task: dict[str, Any] = {"task_key": key}
        task.update({k: v.value if isinstance(v, Enum) else v for k, v in options.items()})
        task[type_field] = body
        self.add_task(task)

    def _dependencies(self, depends_on: object) -> object:
        """Turn SDK dependency shortcuts into ``{"task_key": ..., "outcome": ...}`` dicts."""
        if not isinstance(depends_on, list | tuple):
            return depends_on  # parse_job reports the wrong type, as for YAML
        return [self._dependency(dep) for dep in depends_on]

    def _dependency(self, dep: object) -> object:
        if isinstance(dep, tuple) and len(dep) == 2:
            return {"task_key": self._key_of(dep[0]), "outcome": dep[1]}
        if isinstance(dep, Mapping):
            return dict(dep)
        if isinstance(dep, TaskDependency):
            return dep.model_dump(mode="json", exclude_none=True)
        return {"task_key": self._key_of(dep)}

    def _key_of(self, ref: object) -> object:
        if callable(ref):
            return self._keys.get(ref, getattr(ref, "__name__", ref))
        return ref
