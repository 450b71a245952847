"""Run and task states with the Databricks Jobs API spellings, and their named groups."""

from __future__ import annotations

from enum import StrEnum


class LifeCycleState(StrEnum):
    """Where a run or a task run is in its life (``state.life_cycle_state``)."""

    QUEUED = "QUEUED"
    BLOCKED = "BLOCKED"  # a task run waiting for its upstream tasks
    PENDING = "PENDING"  # ready to start, waiting for a free slot
    RUNNING = "RUNNING"
    WAITING_FOR_RETRY = "WAITING_FOR_RETRY"
    TERMINATING = "TERMINATING"  # cancel or timeout requested, processes being stopped
    TERMINATED = "TERMINATED"
    SKIPPED = "SKIPPED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class ResultState(StrEnum):
    """How a finished run or task run ended (``state.result_state``)."""

    SUCCESS = "SUCCESS"
    SUCCESS_WITH_FAILURES = "SUCCESS_WITH_FAILURES"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    CANCELED = "CANCELED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    UPSTREAM_CANCELED = "UPSTREAM_CANCELED"
    EXCLUDED = "EXCLUDED"  # its run_if or condition branch was not met
    DISABLED = "DISABLED"
    MAXIMUM_CONCURRENT_RUNS_REACHED = "MAXIMUM_CONCURRENT_RUNS_REACHED"


class StatusState(StrEnum):
    """The newer ``status.state`` of the Jobs API."""

    BLOCKED = "BLOCKED"
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    WAITING = "WAITING"


class TerminationCode(StrEnum):
    """``status.termination_details.code``: why a run or task run terminated."""

    SUCCESS = "SUCCESS"
    SUCCESS_WITH_FAILURES = "SUCCESS_WITH_FAILURES"
    RUN_EXECUTION_ERROR = "RUN_EXECUTION_ERROR"
    USER_CANCELED = "USER_CANCELED"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"
    DISABLED = "DISABLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    INVALID_RUN_CONFIGURATION = "INVALID_RUN_CONFIGURATION"
    TIMEDOUT = "TIMEDOUT"
    MAX_CONCURRENT_RUNS_EXCEEDED = "MAX_CONCURRENT_RUNS_EXCEEDED"


class TerminationType(StrEnum):
    SUCCESS = "SUCCESS"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CLIENT_ERROR = "CLIENT_ERROR"


# A run or task run in one of these never changes again (until a repair reopens it).
TERMINAL: frozenset[LifeCycleState] = frozenset(
    {LifeCycleState.TERMINATED, LifeCycleState.SKIPPED, LifeCycleState.INTERNAL_ERROR}
)
# Task states that hold no process and may be canceled by a state change alone.
IDLE: frozenset[LifeCycleState] = frozenset(
    {LifeCycleState.BLOCKED, LifeCycleState.PENDING, LifeCycleState.WAITING_FOR_RETRY}
)
# Results that let ALL_SUCCESS dependents run. DISABLED counts: a disabled task is
# switched off on purpose and must not block the rest of the job.
SUCCEEDED: frozenset[ResultState] = frozenset(
    {ResultState.SUCCESS, ResultState.SUCCESS_WITH_FAILURES, ResultState.DISABLED}
)
FAILED: frozenset[ResultState] = frozenset(
    {ResultState.FAILED, ResultState.TIMEDOUT, ResultState.UPSTREAM_FAILED}
)
CANCELED: frozenset[ResultState] = frozenset(
    {ResultState.CANCELED, ResultState.UPSTREAM_CANCELED}
)
# What `podium runs repair` re-runs when no task is named.
REPAIRABLE: frozenset[ResultState] = FAILED | CANCELED


def status_state(life_cycle_state: LifeCycleState) -> StatusState:
    """Map a life-cycle state to the newer ``status.state``."""
    return _STATUS[life_cycle_state]


_STATUS: dict[LifeCycleState, StatusState] = {
    LifeCycleState.QUEUED: StatusState.QUEUED,
    LifeCycleState.BLOCKED: StatusState.BLOCKED,
    LifeCycleState.PENDING: StatusState.PENDING,
    LifeCycleState.RUNNING: StatusState.RUNNING,
    LifeCycleState.WAITING_FOR_RETRY: StatusState.WAITING,
    LifeCycleState.TERMINATING: StatusState.TERMINATING,
    LifeCycleState.TERMINATED: StatusState.TERMINATED,
    LifeCycleState.SKIPPED: StatusState.TERMINATED,
    LifeCycleState.INTERNAL_ERROR: StatusState.TERMINATED,
}


def termination_for(result: ResultState | None, canceled_by_user: bool = False) -> tuple[
    TerminationCode, TerminationType
]:
    """The ``termination_details`` (code, type) matching a result state."""
    if result is None:
        return TerminationCode.INTERNAL_ERROR, TerminationType.INTERNAL_ERROR
    if result in (ResultState.SUCCESS, ResultState.DISABLED, ResultState.EXCLUDED):
        disabled = result is ResultState.DISABLED
        return (TerminationCode.DISABLED if disabled else TerminationCode.SUCCESS,
                TerminationType.SUCCESS)
    if result is ResultState.SUCCESS_WITH_FAILURES:
        return TerminationCode.SUCCESS_WITH_FAILURES, TerminationType.SUCCESS
    if result in CANCELED:
        code = TerminationCode.USER_CANCELED if canceled_by_user else TerminationCode.CANCELED
        return code, TerminationType.SUCCESS
    if result is ResultState.TIMEDOUT:
        return TerminationCode.TIMEDOUT, TerminationType.CLIENT_ERROR
    if result is ResultState.MAXIMUM_CONCURRENT_RUNS_REACHED:
        return TerminationCode.MAX_CONCURRENT_RUNS_EXCEEDED, TerminationType.CLIENT_ERROR
    return TerminationCode.RUN_EXECUTION_ERROR, TerminationType.CLIENT_ERROR
