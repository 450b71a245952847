"""Pure decisions of Podium: the DAG, states, run_if, retries, values, repair.

No IO, no clock (``now`` is a parameter), no environment.
"""

from __future__ import annotations

from podium.core.automation import (
    Fire,
    Plan,
    backoff,
    continuous_plan,
    pause_settings,
    periodic_interval,
    periodic_plan,
    schedule_plan,
)
from podium.core.condition import evaluate_condition
from podium.core.cron import CronError, next_fire
from podium.core.dag import Graph, downstream_of, leaves, topological_order, upstream_of
from podium.core.plan import Decision, TaskRunState, advance, next_wakeup, run_result
from podium.core.repair import plan_repair
from podium.core.retry import retry_delay_millis, should_retry
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
from podium.core.values import UnresolvedReference, ValueContext, resolve_obj, resolve_text

__all__ = [
    "CANCELED",
    "FAILED",
    "IDLE",
    "REPAIRABLE",
    "SUCCEEDED",
    "TERMINAL",
    "CronError",
    "Decision",
    "Fire",
    "Graph",
    "LifeCycleState",
    "Plan",
    "ResultState",
    "StatusState",
    "TaskRunState",
    "TerminationCode",
    "TerminationType",
    "UnresolvedReference",
    "ValueContext",
    "advance",
    "backoff",
    "continuous_plan",
    "downstream_of",
    "evaluate_condition",
    "leaves",
    "next_fire",
    "next_wakeup",
    "pause_settings",
    "periodic_interval",
    "periodic_plan",
    "plan_repair",
    "resolve_obj",
    "resolve_text",
    "retry_delay_millis",
    "run_result",
    "schedule_plan",
    "should_retry",
    "status_state",
    "termination_for",
    "topological_order",
    "upstream_of",
]
