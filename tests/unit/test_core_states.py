"""Tests for podium.core.states: status.state and termination_details for every state."""

from __future__ import annotations

import pytest

from podium.core.states import (
    CANCELED,
    FAILED,
    IDLE,
    REPAIRABLE,
    SUCCEEDED,
    TERMINAL,
    LifeCycleState,
    ResultState,
    StatusState,
    TerminationCode,
    TerminationType,
    status_state,
    termination_for,
)

L = LifeCycleState
R = ResultState
S = StatusState
C = TerminationCode
T = TerminationType

STATUS = {
    L.QUEUED: S.QUEUED,
    L.BLOCKED: S.BLOCKED,
    L.PENDING: S.PENDING,
    L.RUNNING: S.RUNNING,
    L.WAITING_FOR_RETRY: S.WAITING,
    L.TERMINATING: S.TERMINATING,
    L.TERMINATED: S.TERMINATED,
    L.SKIPPED: S.TERMINATED,
    L.INTERNAL_ERROR: S.TERMINATED,
}

TERMINATION = {
    R.SUCCESS: (C.SUCCESS, T.SUCCESS),
    R.SUCCESS_WITH_FAILURES: (C.SUCCESS_WITH_FAILURES, T.SUCCESS),
    R.FAILED: (C.RUN_EXECUTION_ERROR, T.CLIENT_ERROR),
    R.TIMEDOUT: (C.TIMEDOUT, T.CLIENT_ERROR),
    R.CANCELED: (C.CANCELED, T.SUCCESS),
    R.UPSTREAM_FAILED: (C.RUN_EXECUTION_ERROR, T.CLIENT_ERROR),
    R.UPSTREAM_CANCELED: (C.CANCELED, T.SUCCESS),
    R.EXCLUDED: (C.SUCCESS, T.SUCCESS),
    R.DISABLED: (C.DISABLED, T.SUCCESS),
    R.MAXIMUM_CONCURRENT_RUNS_REACHED: (C.MAX_CONCURRENT_RUNS_EXCEEDED, T.CLIENT_ERROR),
}


def test_tables_cover_every_enum_member() -> None:
    assert set(STATUS) == set(LifeCycleState)
    assert set(TERMINATION) == set(ResultState)


@pytest.mark.parametrize(("life_cycle_state", "expected"), STATUS.items())
def test_status_state(life_cycle_state: LifeCycleState, expected: StatusState) -> None:
    assert status_state(life_cycle_state) is expected


@pytest.mark.parametrize("life_cycle_state", sorted(TERMINAL))
def test_terminal_states_have_terminated_status(life_cycle_state: LifeCycleState) -> None:
    assert status_state(life_cycle_state) is S.TERMINATED


@pytest.mark.parametrize(("result", "expected"), TERMINATION.items())
def test_termination_for(
    result: ResultState, expected: tuple[TerminationCode, TerminationType]
) -> None:
    assert termination_for(result) == expected


@pytest.mark.parametrize("result", [R.CANCELED, R.UPSTREAM_CANCELED])
def test_termination_for_user_cancel(result: ResultState) -> None:
    assert termination_for(result, canceled_by_user=True) == (C.USER_CANCELED, T.SUCCESS)


@pytest.mark.parametrize("result", sorted(set(ResultState) - CANCELED))
def test_canceled_by_user_only_changes_canceled_results(result: ResultState) -> None:
    assert termination_for(result, canceled_by_user=True) == TERMINATION[result]


def test_termination_for_no_result_is_internal_error() -> None:
    assert termination_for(None) == (C.INTERNAL_ERROR, T.INTERNAL_ERROR)
    assert termination_for(None, canceled_by_user=True) == (C.INTERNAL_ERROR, T.INTERNAL_ERROR)


def test_state_groups() -> None:
    assert frozenset({L.TERMINATED, L.SKIPPED, L.INTERNAL_ERROR}) == TERMINAL
    assert frozenset({L.BLOCKED, L.PENDING, L.WAITING_FOR_RETRY}) == IDLE
    assert frozenset({R.SUCCESS, R.SUCCESS_WITH_FAILURES, R.DISABLED}) == SUCCEEDED
    assert frozenset({R.FAILED, R.TIMEDOUT, R.UPSTREAM_FAILED}) == FAILED
    assert frozenset({R.CANCELED, R.UPSTREAM_CANCELED}) == CANCELED
    assert REPAIRABLE == FAILED | CANCELED
    assert not SUCCEEDED & REPAIRABLE
    assert not TERMINAL & IDLE
