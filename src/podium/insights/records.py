"""The history rows insights are computed from, filled by ``podium.store.history``, and
the shape of the job they belong to (its graph and the settings suggestions touch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podium.spec import JobSpec

# Result states that count as a failure: a cancel is a person's decision, not one.
FAILURES = frozenset({"FAILED", "TIMEDOUT", "INTERNAL_ERROR"})
SUCCESS = "SUCCESS"


def _seconds(started_at: datetime | None, ended_at: datetime | None) -> float | None:
    if started_at is None or ended_at is None:
        return None
    return (ended_at - started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class PastRun:
    """One top-level run of the job."""

    run_id: int
    life_cycle_state: str
    result_state: str | None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)


@dataclass(frozen=True, slots=True)
class PastTaskRun:
    """A task within a run, from its first attempt's start to its last one's end."""

    run_id: int
    task_key: str
    result_state: str | None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)


@dataclass(frozen=True, slots=True)
class PastAttempt:
    """One try of a task; ``repair_count`` tells the repair of the run it belongs to."""

    run_id: int
    task_key: str
    attempt_number: int
    result_state: str | None
    started_at: datetime
    ended_at: datetime | None = None
    message: str = ""
    repair_count: int = 0

    @property
    def seconds(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)


@dataclass(frozen=True, slots=True)
class PastValue:
    """A numeric task value a task set in a run (row counts, metrics, ...)."""

    run_id: int
    task_key: str
    key: str
    value: float


@dataclass(frozen=True, slots=True)
class History:
    """What happened to a job: its runs newest first, and their task runs, attempts and
    numeric task values (in any order)."""

    runs: tuple[PastRun, ...] = ()
    task_runs: tuple[PastTaskRun, ...] = ()
    attempts: tuple[PastAttempt, ...] = ()
    values: tuple[PastValue, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskShape:
    """A task's place in the graph and the settings suggestions may change."""

    task_key: str
    depends_on: tuple[str, ...] = ()
    timeout_seconds: int = 0  # 0: none, as in the Jobs API
    max_retries: int = 0


@dataclass(frozen=True, slots=True)
class JobShape:
    tasks: tuple[TaskShape, ...]
    max_concurrent_runs: int = 1
    duration_rule_seconds: int | None = None  # its health RUN_DURATION_SECONDS rule

    @property
    def deps(self) -> dict[str, tuple[str, ...]]:
        return {t.task_key: t.depends_on for t in self.tasks}


def shape_of(spec: JobSpec) -> JobShape:
    """The graph and the settings insights look at, from a job spec."""
    rules = [r.value for r in (spec.health.rules if spec.health else [])
             if r.metric == "RUN_DURATION_SECONDS"]
    return JobShape(
        tuple(TaskShape(t.task_key, tuple(t.upstream_keys), t.timeout_seconds, t.max_retries)
              for t in spec.tasks),
        spec.max_concurrent_runs, min(rules) if rules else None,
    )
