"""Who hears about what: the notifications a committed state change causes, and the runs
and tasks whose ``health`` rules are broken at ``now``. Pure: the notifier records and
delivers what these functions decide.

Events, as in the Jobs API (``email_notifications`` / ``webhook_notifications``):

- ``on_start``: a run, or a task, starts running.
- ``on_success``: it ends TERMINATED with SUCCESS.
- ``on_failure``: it ends FAILED, TIMEDOUT or INTERNAL_ERROR (a run also when it
  ends SUCCESS_WITH_FAILURES: someone should hear that a task failed); CANCELED unless
  ``no_alert_for_canceled_runs``; SKIPPED (a run over ``max_concurrent_runs``, a task
  whose upstream failed or was canceled) unless ``no_alert_for_skipped_runs``.
  A task's failed attempt that is retried notifies at once, unless
  ``alert_on_last_attempt`` asks to wait for the attempt after which no retry follows.
  Either way a task's failure notifies each destination once per run.
- ``on_duration_warning_threshold_exceeded``: a ``RUN_DURATION_SECONDS GREATER_THAN``
  health rule is broken while the run (or task) is still running.
- ``on_anomaly`` and ``on_flaky`` (Podium extensions, job level): the ended run was
  unusual against the job's history, or one of its tasks passed only on a retry and is
  flaky in the job's history (``podium.insights.run_alerts`` decides).

A task's notifications follow the task's own ``notification_settings``, else the job's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from podium.core.states import LifeCycleState, ResultState
from podium.spec.automation import (
    EmailNotifications,
    Health,
    NotificationSettings,
    WebhookNotifications,
)
from podium.spec.models import JobSpec

Event = Literal[
    "on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded",
    "on_anomaly", "on_flaky",
]
INSIGHT_EVENTS: tuple[Event, ...] = ("on_anomaly", "on_flaky")
Channel = Literal["email", "webhook"]

L = LifeCycleState
R = ResultState

_FAILED = frozenset({R.FAILED, R.TIMEDOUT})
_SKIPPED = frozenset({R.UPSTREAM_FAILED, R.UPSTREAM_CANCELED,
                      R.MAXIMUM_CONCURRENT_RUNS_REACHED})


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification to send: ``event`` of the run (``task_key`` "") or of one task,
    to one email address or webhook destination id."""

    task_key: str
    event: Event
    channel: Channel
    destination: str


def notices_for_change(
    spec: JobSpec,
    task_key: str | None,
    life_cycle_state: LifeCycleState,
    result_state: ResultState | None,
) -> list[Notice]:
    """The notifications that one committed state change of a run (``task_key`` None)
    or of one of its tasks causes. A change into WAITING_FOR_RETRY carries the failed
    attempt's result."""
    if task_key is None:
        email, webhook, settings = (spec.email_notifications, spec.webhook_notifications,
                                    spec.notification_settings)
    else:
        task = next((t for t in spec.tasks if t.task_key == task_key), None)
        if task is None:
            return []
        email, webhook = task.email_notifications, task.webhook_notifications
        settings = task.notification_settings or spec.notification_settings
    if email is None and webhook is None:
        return []
    settings = settings or NotificationSettings()
    kind = _kind(task_key is not None, life_cycle_state, result_state, settings)
    if kind is None:
        return []
    event, skipped = kind
    mute_email = skipped and email is not None and email.no_alert_for_skipped_runs
    return _to(task_key or "", event, None if mute_email else email, webhook)


def _kind(
    is_task: bool, life: LifeCycleState, result: ResultState | None,
    settings: NotificationSettings,
) -> tuple[Event, bool] | None:
    """The event of a state change and whether it is a skip; None for no event."""
    if life is L.RUNNING:
        return "on_start", False
    if life is L.WAITING_FOR_RETRY:
        if is_task and result in _FAILED and not settings.alert_on_last_attempt:
            return "on_failure", False
        return None
    if life is L.INTERNAL_ERROR:
        return "on_failure", False
    if life is L.SKIPPED or result in _SKIPPED:
        return (None if settings.no_alert_for_skipped_runs else ("on_failure", True))
    if life is not L.TERMINATED or result is None:
        return None
    if result is R.SUCCESS:
        return "on_success", False
    if result in _FAILED or (result is R.SUCCESS_WITH_FAILURES and not is_task):
        return "on_failure", False
    if result is R.CANCELED:
        return None if settings.no_alert_for_canceled_runs else ("on_failure", False)
    return None  # EXCLUDED, DISABLED: nothing went wrong


def _to(
    task_key: str, event: Event, email: EmailNotifications | None,
    webhook: WebhookNotifications | None,
) -> list[Notice]:
    out: list[Notice] = []
    if email is not None:
        out += [Notice(task_key, event, "email", a) for a in dict.fromkeys(getattr(email, event))]
    if webhook is not None:
        ids = dict.fromkeys(w.id for w in getattr(webhook, event))
        out += [Notice(task_key, event, "webhook", i) for i in ids]
    return out


def wanted_insight_events(spec: JobSpec) -> list[Event]:
    """The insight alerts the job opted into (someone to tell about them)."""
    return [e for e in INSIGHT_EVENTS
            if _to("", e, spec.email_notifications, spec.webhook_notifications)]


def insight_notices(spec: JobSpec, events: list[Event]) -> list[Notice]:
    """The run-level notifications of the insight ``events`` that happened."""
    return [n for e in events
            for n in _to("", e, spec.email_notifications, spec.webhook_notifications)]


def duration_limit(health: Health | None) -> float | None:
    """The smallest ``RUN_DURATION_SECONDS GREATER_THAN`` value of ``health``, if any."""
    values = [r.value for r in (health.rules if health else [])
              if r.metric == "RUN_DURATION_SECONDS" and r.op == "GREATER_THAN"]
    return min(values) if values else None


def duration_warnings(
    spec: JobSpec,
    run_started_at: datetime | None,
    tasks_started_at: dict[str, datetime],
    now: datetime,
) -> list[Notice]:
    """The duration warnings due at ``now`` for a run still running, started at
    ``run_started_at``, whose running tasks started at ``tasks_started_at``. The caller
    sends each once (it may be asked again every second)."""
    out: list[Notice] = []
    event: Event = "on_duration_warning_threshold_exceeded"
    limit = duration_limit(spec.health)
    if limit is not None and run_started_at is not None and (
        (now - run_started_at).total_seconds() > limit
    ):
        out += _to("", event, spec.email_notifications, spec.webhook_notifications)
    for task in spec.tasks:
        started = tasks_started_at.get(task.task_key)
        limit = duration_limit(task.health)
        if limit is not None and started is not None and (now - started).total_seconds() > limit:
            out += _to(task.task_key, event, task.email_notifications,
                       task.webhook_notifications)
    return out


def has_health_rules(spec: JobSpec) -> bool:
    """Whether any duration rule of the run or its tasks could ever warn."""
    return duration_limit(spec.health) is not None or any(
        duration_limit(t.health) is not None for t in spec.tasks
    )


def notifies_anyone(spec: JobSpec) -> bool:
    """Whether the job or any of its tasks names someone to notify."""
    return any(
        e is not None or w is not None
        for e, w in [(spec.email_notifications, spec.webhook_notifications),
                     *((t.email_notifications, t.webhook_notifications) for t in spec.tasks)]
    )
