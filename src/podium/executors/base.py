"""The executor contract: run one attempt, report its outcome, never write the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from podium.core.states import ResultState
from podium.runners.base import ProcessSpec


@dataclass(frozen=True, slots=True)
class AttemptRequest:
    """One attempt to run.

    Attributes:
        attempt_id: the attempt's id, used to terminate it.
        process: what to start.
        log_path: the file stdout and stderr go to (appended).
        work_prefix: path prefix of the attempt's own files (``.pid``, task values).
        timeout_seconds: kill the attempt after this long (0: no limit).
        env: Podium's variables for the task (PODIUM_RUN_ID, ...); PATH and PYTHONPATH
            given here go in front of the inherited ones.
        redact: the secret values the task was given (``core.values.secret_terms``):
            each is replaced by ``[REDACTED]`` in the log, line by line.
        pool: the worker pool the attempt must run in (a cluster executor sends it
            only to workers of that pool; the local executor has one pool, itself).
    """

    attempt_id: int
    process: ProcessSpec
    log_path: Path
    work_prefix: Path
    timeout_seconds: float = 0
    env: dict[str, str] = field(default_factory=dict)
    redact: tuple[str, ...] = ()
    pool: str | None = None


def attempt_file(work_prefix: Path, suffix: str) -> Path:
    """One of an attempt's own files: ``work_prefix`` + ``suffix`` (e.g. ``.pid``)."""
    return work_prefix.with_name(work_prefix.name + suffix)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended.

    Attributes:
        result_state: SUCCESS, FAILED, TIMEDOUT or CANCELED.
        message: for a failure, the last line of the log or what went wrong.
        task_values: the values the attempt set.
        internal_error: the executor failed, not the task (INTERNAL_ERROR, no retry).
        output: what the runner reported (notebook result, SQL rows, ...), for
            ``runs/get-output``.
    """

    attempt_id: int
    result_state: ResultState
    exit_code: int | None = None
    message: str = ""
    task_values: dict[str, Any] = field(default_factory=dict)
    duration_seconds: float = 0.0
    internal_error: bool = False
    output: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Where attempts run. Implementations: LocalExecutor (a local process pool) and
    DaskExecutor (a Dask distributed cluster, ``podium.executors.dask``)."""

    async def run(self, request: AttemptRequest) -> Outcome:
        """Run the attempt to its end and report; never raises for a task's failure."""
        ...

    def terminate(self, attempt_id: int, reason: ResultState) -> None:
        """Stop a running attempt; its ``run`` then reports ``reason`` (CANCELED/TIMEDOUT)."""
        ...

    async def close(self) -> None:
        """Release what the executor holds (its attempts must have ended)."""
        ...
