"""What starts a job's runs without a person (``schedule``, ``trigger``, ``continuous``),
what holds them back (``queue``), and who hears about them (``email_notifications``,
``webhook_notifications``, ``notification_settings``, ``health``), in the Jobs API 2.2
shape. Expressions are checked in ``podium.spec.validate`` (cron: ``podium.spec.cron``;
when it fires: ``podium.core.cron``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from urllib.parse import unquote

from pydantic import Field, model_validator

from podium.spec.base import SpecModel


class PauseStatus(StrEnum):
    PAUSED = "PAUSED"
    UNPAUSED = "UNPAUSED"


class CronSchedule(SpecModel):
    """``schedule``: Quartz cron (seconds first; ``?``, ``L``, ``W``, ``#``) in a zone."""

    quartz_cron_expression: str = Field(min_length=1)
    timezone_id: str = "UTC"
    pause_status: PauseStatus = PauseStatus.UNPAUSED


class PeriodicTrigger(SpecModel):
    """Every ``interval`` ``unit`` (MINUTES is a Podium extension)."""

    interval: int = Field(ge=1)
    unit: Literal["MINUTES", "HOURS", "DAYS", "WEEKS"]


class FileArrivalTrigger(SpecModel):
    """A run when new files land in the local directory ``url`` (``file://`` or a path)."""

    url: str = Field(min_length=1)
    min_time_between_triggers_seconds: int = Field(default=0, ge=0)
    wait_after_last_change_seconds: int = Field(default=0, ge=0)


def file_arrival_path(url: str) -> str:
    """The local directory a file-arrival ``url`` names: a path (absolute, or relative to
    the job's folder, i.e. where its relative task paths start) or a ``file:`` URL
    (``file:///data/in``, ``file://localhost/data/in``); percent escapes are decoded.

    Raises:
        ValueError: the url names no local directory (another scheme or host, a wildcard).
    """
    path = url
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme.lower() == "file":
        rest = url[len("file:"):]
        if rest.startswith("//"):
            host, _, tail = rest[2:].partition("/")
            if host not in ("", "localhost"):
                raise ValueError(f"{url!r} names the host {host!r}; Podium watches local "
                                 "directories only")
            rest = "/" + tail
        if not rest.startswith("/"):
            raise ValueError(f"{url!r} is not an absolute file: URL")
        path = unquote(rest)
    elif len(scheme) > 1 and scheme.replace("+", "").replace("-", "").isalnum() and (
        "/" not in scheme
    ):
        raise ValueError(f"{url!r} is a {scheme}: URL; Podium watches local directories only")
    if any(c in path for c in "*?["):
        raise ValueError(f"{url!r} holds a wildcard; name one directory")
    return path


class Trigger(SpecModel):
    pause_status: PauseStatus = PauseStatus.UNPAUSED
    periodic: PeriodicTrigger | None = None
    file_arrival: FileArrivalTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.periodic is None) == (self.file_arrival is None):
            raise ValueError("give exactly one of periodic and file_arrival")
        return self


class Continuous(SpecModel):
    """A new run as soon as the previous one ends (with back-off after failures)."""

    pause_status: PauseStatus = PauseStatus.UNPAUSED


class Queue(SpecModel):
    """Whether a run over ``max_concurrent_runs`` waits (QUEUED) instead of being skipped."""

    enabled: bool = False


class EmailNotifications(SpecModel):
    on_start: list[str] = []
    on_success: list[str] = []
    on_failure: list[str] = []
    on_duration_warning_threshold_exceeded: list[str] = []
    on_streaming_backlog_exceeded: list[str] = []  # accepted; Podium has no streams
    # Podium extensions (opt-in insight alerts): a run unusual against the job's history,
    # a task that failed and passed on a retry and does so often.
    on_anomaly: list[str] = []
    on_flaky: list[str] = []
    no_alert_for_skipped_runs: bool = False


class Webhook(SpecModel):
    """A notification destination by id (``podium destinations`` / the API)."""

    id: str = Field(min_length=1)


class WebhookNotifications(SpecModel):
    on_start: list[Webhook] = []
    on_success: list[Webhook] = []
    on_failure: list[Webhook] = []
    on_duration_warning_threshold_exceeded: list[Webhook] = []
    on_streaming_backlog_exceeded: list[Webhook] = []
    on_anomaly: list[Webhook] = []  # Podium extensions, as in EmailNotifications
    on_flaky: list[Webhook] = []


class NotificationSettings(SpecModel):
    no_alert_for_skipped_runs: bool = False
    no_alert_for_canceled_runs: bool = False
    alert_on_last_attempt: bool = False  # a task's failure mail only once it retries no more


class HealthRule(SpecModel):
    metric: Literal["RUN_DURATION_SECONDS"]
    op: Literal["GREATER_THAN"]
    value: int = Field(ge=0)


class Health(SpecModel):
    rules: list[HealthRule] = []
