"""One model per task type (the ``*_task`` fields of a task), plus libraries and
environments. Podium extensions (``shell_task``, ``python_function_task``,
``http_task``, ``drift_check_task``, ``sql_task.query.query_text``) follow the Jobs API
naming style."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from podium.spec.base import ConditionOp, SpecModel


class SparkPythonTask(SpecModel):
    """Run a Python file with the job's interpreter (PySpark is not needed)."""

    python_file: str = Field(min_length=1)
    parameters: list[str] = []
    source: Literal["WORKSPACE", "GIT"] | None = None


class PythonFunctionTask(SpecModel):
    """Podium extension: call ``module:callable`` in a worker process."""

    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    parameters: list[Any] = []
    named_parameters: dict[str, Any] = {}


class ShellTask(SpecModel):
    """Podium extension: run ``command`` (an argv list, never through a shell)."""

    command: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = {}


class ConditionTask(SpecModel):
    """Compare ``left`` and ``right``; dependents choose a branch by ``outcome``."""

    op: ConditionOp
    left: str
    right: str


class NotebookTask(SpecModel):
    """Execute a Jupyter notebook; ``base_parameters`` fill its ``parameters`` cell."""

    notebook_path: str = Field(min_length=1)
    base_parameters: dict[str, str] = {}
    source: Literal["WORKSPACE", "GIT"] | None = None
    warehouse_id: str | None = None


class SparkJarTask(SpecModel):
    """Run ``main_class_name`` with ``java``; jars come from the task's ``libraries``."""

    main_class_name: str = Field(min_length=1)
    parameters: list[str] = []


class PythonWheelTask(SpecModel):
    """Run entry point ``entry_point`` of package ``package_name``."""

    package_name: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)
    parameters: list[str] = []
    named_parameters: dict[str, str] = {}


class SqlFile(SpecModel):
    path: str = Field(min_length=1)
    source: Literal["WORKSPACE", "GIT"] | None = None


class SqlQuery(SpecModel):
    """``query_text`` is a Podium extension: Databricks names a saved query instead."""

    query_text: str = Field(min_length=1)


class SqlTask(SpecModel):
    """Run SQL from ``file`` or ``query`` on the connection named by ``warehouse_id``."""

    warehouse_id: str = "default"
    file: SqlFile | None = None
    query: SqlQuery | None = None
    parameters: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_source(self) -> SqlTask:
        if (self.file is None) == (self.query is None):
            raise ValueError("give exactly one of 'file' and 'query'")
        return self


class HttpTask(SpecModel):
    """Podium extension: call an HTTP API; the JSON response becomes task values."""

    url: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    body: Any = None
    expected_status: list[int] = []  # empty: any 2xx
    timeout_seconds: float = Field(default=30, gt=0)  # per request
    # Requests made at most: 429 and 5xx answers (and connection errors) are retried,
    # after the server's Retry-After when it gives one.
    max_attempts: int = Field(default=3, ge=1, le=20)
    # Task value name -> JMESPath expression over the JSON response.
    response_values: dict[str, str] = {}


class DriftSource(SpecModel):
    """A dataset for ``drift_check_task``: a ``.parquet`` or ``.csv`` file, or a table of
    the DuckDB connection named by ``warehouse_id``."""

    path: str | None = Field(default=None, min_length=1)
    table: str | None = Field(default=None, min_length=1)
    warehouse_id: str = "default"

    @model_validator(mode="after")
    def _one_source(self) -> DriftSource:
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of 'path' and 'table'")
        return self


class DriftCheckTask(SpecModel):
    """Podium extension: compare ``current`` with ``reference`` column by column (the
    population stability index, and the Kolmogorov-Smirnov test for numeric columns);
    the report is the output, ``drift_detected`` and friends are task values."""

    current: DriftSource
    reference: DriftSource
    columns: list[str] = []  # empty: every numeric or text column present in both
    psi_threshold: float = Field(default=0.2, gt=0)  # PSI >= 0.2: a significant shift
    ks_p_value: float = Field(default=0.05, ge=0, le=1)  # 0 turns the KS test's vote off
    bins: int = Field(default=10, ge=2, le=1000)  # quantile bins of the reference
    # No reference yet: FAIL, or BASELINE (save the current data as the reference and
    # report drift, so that a pipeline gated on drift trains its first model).
    missing_reference: Literal["FAIL", "BASELINE"] = "FAIL"


class RunJobTask(SpecModel):
    """Run another job of this Podium home as a child run and wait for it."""

    job_id: int | None = None
    job_name: str | None = None
    job_parameters: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_job(self) -> RunJobTask:
        if (self.job_id is None) == (self.job_name is None):
            raise ValueError("give exactly one of 'job_id' and 'job_name'")
        return self


class PypiLibrary(SpecModel):
    package: str = Field(min_length=1)
    repo: str | None = None


class Library(SpecModel):
    """One of a task's libraries; Podium uses ``jar``, ``whl`` and ``pypi``."""

    jar: str | None = None
    whl: str | None = None
    pypi: PypiLibrary | None = None
    requirements: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Library:
        if sum(v is not None for v in (self.jar, self.whl, self.pypi, self.requirements)) != 1:
            raise ValueError("give exactly one of 'jar', 'whl', 'pypi' and 'requirements'")
        return self


class EnvironmentSpec(SpecModel):
    client: str | None = None
    dependencies: list[str] = []


class Environment(SpecModel):
    """A Python environment tasks can run in (``environment_key``)."""

    environment_key: str = Field(min_length=1)
    spec: EnvironmentSpec = EnvironmentSpec()


class GitSource(SpecModel):
    """Where tasks with ``source: GIT`` (or no source, when the job has a git_source)
    find their files: a checkout of ``git_url`` at one branch, tag or commit."""

    git_url: str = Field(min_length=1)
    git_provider: str | None = None  # accepted: any git URL the machine can clone
    git_branch: str | None = None
    git_tag: str | None = None
    git_commit: str | None = None

    @model_validator(mode="after")
    def _one_ref(self) -> GitSource:
        refs = [r for r in (self.git_branch, self.git_tag, self.git_commit) if r]
        if len(refs) != 1:
            raise ValueError("give exactly one of git_branch, git_tag and git_commit")
        return self

    @property
    def ref(self) -> tuple[str, str]:
        """(``branch``/``tag``/``commit``, its value)."""
        for kind in ("commit", "tag", "branch"):
            value = getattr(self, f"git_{kind}")
            if value:
                return kind, value
        raise AssertionError("validated: one ref")
