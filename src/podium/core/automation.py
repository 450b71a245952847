"""When a job's schedule, periodic trigger or continuous setting starts its next run:
pure decisions over what the store remembers (the last fire) and ``now``.

The one-catch-up rule: a schedule or periodic trigger whose fire times passed while no
server ran starts ONE run for all of them, then keeps to its times again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from podium.core.cron import QuartzCron, next_fire

UNIT_SECONDS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400, "WEEKS": 7 * 86400}
BACKOFF_FIRST = timedelta(seconds=10)
BACKOFF_MAX = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Fire:
    """A run to start now.

    Attributes:
        fire_at: the fire time it stands for (for a catch-up, the first one missed).
        record_as: what the store keeps as the last fire; the next fire follows it.
        catch_up: it stands for more than one missed fire time.
    """

    fire_at: datetime
    record_as: datetime
    catch_up: bool = False

    def info(self) -> dict[str, Any]:
        """What the run's ``trigger_info`` says about it."""
        info: dict[str, Any] = {"fire_time": self.fire_at.isoformat()}
        if self.catch_up:
            info["catch_up"] = True
        return info


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do for one job now: ``fire`` (None: nothing yet), and when to look again
    (``next_at``; None: nothing known to come, e.g. while a continuous run is active)."""

    fire: Fire | None
    next_at: datetime | None


def schedule_plan(cron: str | QuartzCron, zone: str, last_fire_at: datetime | None,
                  since: datetime, now: datetime) -> Plan:
    """A cron schedule's plan.

    Args:
        last_fire_at: the last fire recorded, if any.
        since: when the job's settings last changed: fire times before it (while the
            schedule was paused, or before it existed) never fire.
    """
    base = max(last_fire_at, since) if last_fire_at is not None else since
    due = next_fire(cron, zone, base)
    if due is None or due > now:
        return Plan(None, due)
    following = next_fire(cron, zone, due)
    if following is None or following > now:
        return Plan(Fire(due, due), following)
    return Plan(Fire(due, now, catch_up=True), next_fire(cron, zone, now))


def periodic_interval(interval: int, unit: str) -> timedelta:
    """``trigger.periodic``'s interval."""
    return timedelta(seconds=interval * UNIT_SECONDS[unit])


def periodic_plan(every: timedelta, last_fire_at: datetime | None, since: datetime,
                  now: datetime) -> Plan:
    """A periodic trigger's plan: every ``every`` from the last fire (or from ``since``,
    when the settings last changed, if that is later)."""
    base = max(last_fire_at, since) if last_fire_at is not None else since
    due = base + every
    if due > now:
        return Plan(None, due)
    if due + every > now:
        return Plan(Fire(due, due), due + every)
    return Plan(Fire(due, now, catch_up=True), now + every)


def backoff(failures: int) -> timedelta:
    """The wait before a continuous job's next run after ``failures`` failed runs in a
    row: none, then 10 s doubling up to 10 minutes."""
    if failures <= 0:
        return timedelta(0)
    return min(BACKOFF_FIRST * (1 << min(failures - 1, 32)), BACKOFF_MAX)


def continuous_plan(active: bool, last_ended_at: datetime | None, failures: int,
                    now: datetime) -> Plan:
    """A continuous job's plan: a new run once none is active, ``backoff(failures)``
    after the last one ended (``last_ended_at`` None: there was none)."""
    if active:
        return Plan(None, None)
    due = now if last_ended_at is None else last_ended_at + backoff(failures)
    if due > now:
        return Plan(None, due)
    return Plan(Fire(now, now), None)


def pause_settings(settings: dict[str, Any], status: str) -> dict[str, Any]:
    """The ``new_settings`` that give every one of the job's ``schedule``, ``trigger``
    and ``continuous`` the ``pause_status`` ``status``; empty when it has none."""
    return {
        key: {**settings[key], "pause_status": status}
        for key in ("schedule", "trigger", "continuous")
        if isinstance(settings.get(key), dict)
    }
