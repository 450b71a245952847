"""Pydantic models of a job spec, in the Databricks Jobs API 2.2 shape.

Podium extensions (``shell_task``, ``python_function_task``, ``drift_check_task``,
``environment_variables``, ``retry_backoff_multiplier``, ``max_retry_interval_millis``,
``pool``) follow the same naming style.
Models forbid unknown fields; ``podium.spec.validate`` turns that into "did you mean".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from podium.spec.automation import (
    Continuous,
    CronSchedule,
    EmailNotifications,
    Health,
    NotificationSettings,
    Queue,
    Trigger,
    WebhookNotifications,
)
from podium.spec.base import TASK_KEY_PATTERN, RunIf, SpecModel
from podium.spec.task_types import (
    ConditionTask,
    DriftCheckTask,
    Environment,
    GitSource,
    HttpTask,
    Library,
    NotebookTask,
    PythonFunctionTask,
    PythonWheelTask,
    RunJobTask,
    ShellTask,
    SparkJarTask,
    SparkPythonTask,
    SqlTask,
)


class TaskDependency(SpecModel):
    task_key: str
    outcome: Literal["true", "false"] | None = None


# The task-type fields Podium runs today. A type modelled here but not listed is refused
# by validation as "not supported yet".
TASK_TYPE_FIELDS: tuple[str, ...] = (
    "spark_python_task",
    "python_function_task",
    "shell_task",
    "condition_task",
    "notebook_task",
    "spark_jar_task",
    "python_wheel_task",
    "sql_task",
    "http_task",
    "drift_check_task",
    "for_each_task",
    "run_job_task",
)


class ForEachTask(SpecModel):
    """Run ``task`` once per element of the JSON array ``inputs`` (``{{input}}`` in it)."""

    inputs: str = Field(min_length=1)
    concurrency: int = Field(default=1, ge=1, le=100)
    task: Task


class Task(SpecModel):
    task_key: str = Field(min_length=1, max_length=100, pattern=TASK_KEY_PATTERN)
    description: str | None = None
    depends_on: list[TaskDependency] = []
    run_if: RunIf = RunIf.ALL_SUCCESS
    max_retries: int = Field(default=0, ge=0, le=1000)
    min_retry_interval_millis: int = Field(default=0, ge=0)
    retry_on_timeout: bool = False
    timeout_seconds: int = Field(default=0, ge=0)
    disabled: bool = False
    environment_variables: dict[str, str] = {}
    email_notifications: EmailNotifications | None = None
    webhook_notifications: WebhookNotifications | None = None
    notification_settings: NotificationSettings | None = None
    health: Health | None = None
    retry_backoff_multiplier: float = Field(default=1.0, ge=1.0, le=100.0)
    max_retry_interval_millis: int | None = Field(default=None, ge=0)

    libraries: list[Library] = []
    environment_key: str | None = None
    # Where the task runs on a cluster (the dask executor): Podium's worker pool, else
    # Databricks' job cluster of the same name (both a Dask worker resource pool-NAME).
    pool: str | None = Field(default=None, min_length=1, max_length=100,
                             pattern=TASK_KEY_PATTERN)
    job_cluster_key: str | None = Field(default=None, max_length=100)

    spark_python_task: SparkPythonTask | None = None
    python_function_task: PythonFunctionTask | None = None
    shell_task: ShellTask | None = None
    condition_task: ConditionTask | None = None
    notebook_task: NotebookTask | None = None
    spark_jar_task: SparkJarTask | None = None
    python_wheel_task: PythonWheelTask | None = None
    sql_task: SqlTask | None = None
    http_task: HttpTask | None = None
    drift_check_task: DriftCheckTask | None = None
    for_each_task: ForEachTask | None = None
    run_job_task: RunJobTask | None = None

    @property
    def task_type(self) -> str:
        """The name of the one task-type field that is set (validation guarantees one)."""
        for name in TASK_TYPE_FIELDS:
            if getattr(self, name) is not None:
                return name
        raise ValueError(f"task {self.task_key!r} has no task type")

    @property
    def worker_pool(self) -> str | None:
        """The worker pool the task must run in: ``pool``, else ``job_cluster_key``."""
        return self.pool or self.job_cluster_key or None

    @property
    def upstream_keys(self) -> list[str]:
        return [d.task_key for d in self.depends_on]


class JobParameter(SpecModel):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][\w\-.]*$")
    default: str = ""

    @model_validator(mode="before")
    @classmethod
    def _default_as_text(cls, data: Any) -> Any:
        # Databricks stores parameter defaults as strings; accept YAML numbers and bools.
        if isinstance(data, dict) and isinstance(data.get("default"), int | float | bool):
            value = data["default"]
            data = {
                **data,
                "default": str(value).lower() if isinstance(value, bool) else str(value),
            }
        return data


class JobSpec(SpecModel):
    name: str = Field(min_length=1, max_length=4096)
    description: str | None = None
    tasks: list[Task] = Field(min_length=1)
    parameters: list[JobParameter] = []
    timeout_seconds: int = Field(default=0, ge=0)
    tags: dict[str, str] = {}
    environments: list[Environment] = []
    max_concurrent_runs: int = Field(default=1, ge=1, le=1000)
    schedule: CronSchedule | None = None
    trigger: Trigger | None = None
    continuous: Continuous | None = None
    queue: Queue | None = None
    email_notifications: EmailNotifications | None = None
    webhook_notifications: WebhookNotifications | None = None
    notification_settings: NotificationSettings | None = None
    health: Health | None = None
    git_source: GitSource | None = None

    _by_key: dict[str, Task] = PrivateAttr(default_factory=dict)

    def task(self, task_key: str) -> Task:
        """The task called ``task_key`` (KeyError if none)."""
        if not self._by_key:
            self._by_key.update((t.task_key, t) for t in self.tasks)
        return self._by_key[task_key]

    def parameter_defaults(self) -> dict[str, str]:
        return {p.name: p.default for p in self.parameters}


ForEachTask.model_rebuild()  # its nested task is a Task, defined after it
