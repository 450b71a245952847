"""When schedules, periodic triggers and continuous jobs fire: pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from podium.core import (
    Fire,
    Plan,
    backoff,
    continuous_plan,
    pause_settings,
    periodic_interval,
    periodic_plan,
    schedule_plan,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


HOURLY = "0 0 * * * ?"
CREATED = at("2026-01-01T09:30:00")


def test_a_new_schedule_waits_for_its_first_time() -> None:
    plan = schedule_plan(HOURLY, "UTC", None, CREATED, at("2026-01-01T09:59:59"))
    assert plan == Plan(None, at("2026-01-01T10:00:00"))


def test_a_schedule_fires_at_its_time_and_names_the_next() -> None:
    plan = schedule_plan(HOURLY, "UTC", None, CREATED, at("2026-01-01T10:00:00.040"))
    assert plan == Plan(Fire(at("2026-01-01T10:00"), at("2026-01-01T10:00")),
                        at("2026-01-01T11:00"))


def test_a_recorded_fire_is_not_fired_again() -> None:
    plan = schedule_plan(HOURLY, "UTC", at("2026-01-01T10:00"), CREATED,
                         at("2026-01-01T10:00:00.500"))
    assert plan == Plan(None, at("2026-01-01T11:00"))


def test_missed_fires_give_one_catch_up() -> None:
    now = at("2026-01-01T15:20")
    plan = schedule_plan(HOURLY, "UTC", at("2026-01-01T10:00"), CREATED, now)
    assert plan.fire == Fire(at("2026-01-01T11:00"), now, catch_up=True)
    assert plan.next_at == at("2026-01-01T16:00")
    # After recording it, nothing more is due until the next time.
    assert schedule_plan(HOURLY, "UTC", now, CREATED, now + timedelta(seconds=1)) == Plan(
        None, at("2026-01-01T16:00"))


def test_one_missed_fire_is_an_ordinary_late_fire() -> None:
    plan = schedule_plan(HOURLY, "UTC", at("2026-01-01T10:00"), CREATED, at("2026-01-01T11:30"))
    assert plan.fire == Fire(at("2026-01-01T11:00"), at("2026-01-01T11:00"))


def test_times_before_a_settings_change_do_not_fire() -> None:
    # Unpaused at 14:30 after a pause since 10:00: nothing until 15:00.
    plan = schedule_plan(HOURLY, "UTC", at("2026-01-01T10:00"), at("2026-01-01T14:30"),
                         at("2026-01-01T14:31"))
    assert plan == Plan(None, at("2026-01-01T15:00"))


def test_schedule_in_a_zone() -> None:
    plan = schedule_plan("0 0 9 * * ?", "America/New_York", None, CREATED,
                         at("2026-01-01T14:00:01"))
    assert plan.fire is not None
    assert plan.fire.fire_at == at("2026-01-01T14:00")  # 09:00 EST


def test_periodic_intervals() -> None:
    assert periodic_interval(3, "HOURS") == timedelta(hours=3)
    assert periodic_interval(2, "WEEKS") == timedelta(days=14)
    assert periodic_interval(5, "MINUTES") == timedelta(minutes=5)


def test_periodic_counts_from_the_last_fire() -> None:
    every = timedelta(hours=1)
    assert periodic_plan(every, None, CREATED, at("2026-01-01T10:00")) == Plan(
        None, at("2026-01-01T10:30"))
    assert periodic_plan(every, None, CREATED, at("2026-01-01T10:30:00.010")) == Plan(
        Fire(at("2026-01-01T10:30"), at("2026-01-01T10:30")), at("2026-01-01T11:30"))
    now = at("2026-01-01T18:00")
    assert periodic_plan(every, at("2026-01-01T10:30"), CREATED, now) == Plan(
        Fire(at("2026-01-01T11:30"), now, catch_up=True), at("2026-01-01T19:00"))


def test_backoff_doubles_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(9)] == [
        0, 10, 20, 40, 80, 160, 320, 600, 600]
    assert backoff(10_000) == timedelta(minutes=10)


def test_continuous() -> None:
    now = at("2026-01-01T12:00")
    assert continuous_plan(True, None, 0, now) == Plan(None, None)
    assert continuous_plan(False, None, 0, now) == Plan(Fire(now, now), None)
    assert continuous_plan(False, now - timedelta(seconds=1), 0, now).fire is not None
    assert continuous_plan(False, now - timedelta(seconds=5), 2, now) == Plan(
        None, now + timedelta(seconds=15))
    assert continuous_plan(False, now - timedelta(seconds=20), 2, now).fire is not None


def test_pause_settings() -> None:
    settings = {"name": "j", "schedule": {"quartz_cron_expression": "0 0 * * * ?"}}
    assert pause_settings(settings, "PAUSED") == {
        "schedule": {"quartz_cron_expression": "0 0 * * * ?", "pause_status": "PAUSED"}}
    assert pause_settings({"continuous": {"pause_status": "PAUSED"}}, "UNPAUSED") == {
        "continuous": {"pause_status": "UNPAUSED"}}
    assert pause_settings({"name": "j"}, "PAUSED") == {}
