"""Which notifications a state change causes, and when health rules warn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from podium.core import LifeCycleState as L
from podium.core import ResultState as R
from podium.core.notify import Notice, duration_warnings, has_health_rules, notices_for_change
from podium.spec import parse_job

ALL = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded")


def spec_with(settings: dict[str, Any] | None = None, task: dict[str, Any] | None = None,
              **job: Any) -> Any:
    data: dict[str, Any] = {
        "name": "j",
        "email_notifications": {e: [f"{e}@x"] for e in ALL},
        "webhook_notifications": {"on_failure": [{"id": "hook"}]},
        "tasks": [{"task_key": "t", "shell_task": {"command": ["true"]},
                   "email_notifications": {e: [f"t.{e}@x"] for e in ALL}, **(task or {})}],
        **job,
    }
    if settings is not None:
        data["notification_settings"] = settings
    return parse_job(data)[0]


def events(notices: list[Notice]) -> set[tuple[str, str, str]]:
    return {(n.event, n.channel, n.destination) for n in notices}


@pytest.mark.parametrize(("life", "result", "expected"), [
    (L.RUNNING, None, "on_start"),
    (L.TERMINATED, R.SUCCESS, "on_success"),
    (L.TERMINATED, R.FAILED, "on_failure"),
    (L.TERMINATED, R.TIMEDOUT, "on_failure"),
    (L.TERMINATED, R.SUCCESS_WITH_FAILURES, "on_failure"),
    (L.INTERNAL_ERROR, None, "on_failure"),
    (L.TERMINATED, R.CANCELED, "on_failure"),
    (L.SKIPPED, R.MAXIMUM_CONCURRENT_RUNS_REACHED, "on_failure"),
    (L.PENDING, None, None),
    (L.TERMINATING, None, None),
])
def test_run_changes_map_to_events(life: L, result: R | None, expected: str | None) -> None:
    found = notices_for_change(spec_with(), None, life, result)
    if expected is None:
        assert found == []
    else:
        assert {n.event for n in found} == {expected}
        assert all(n.task_key == "" for n in found)


def test_failure_goes_to_every_channel_once() -> None:
    found = notices_for_change(spec_with(), None, L.TERMINATED, R.FAILED)
    assert events(found) == {("on_failure", "email", "on_failure@x"),
                             ("on_failure", "webhook", "hook")}


@pytest.mark.parametrize("flag", ["no_alert_for_canceled_runs", "no_alert_for_skipped_runs"])
def test_canceled_and_skipped_runs_can_be_muted(flag: str) -> None:
    spec = spec_with({flag: True})
    canceled = notices_for_change(spec, None, L.TERMINATED, R.CANCELED)
    skipped = notices_for_change(spec, None, L.SKIPPED, R.MAXIMUM_CONCURRENT_RUNS_REACHED)
    assert (canceled == []) is (flag == "no_alert_for_canceled_runs")
    assert (skipped == []) is (flag == "no_alert_for_skipped_runs")


def test_the_email_flag_mutes_skipped_runs_for_email_only() -> None:
    spec = spec_with(email_notifications={"on_failure": ["a@x"], "no_alert_for_skipped_runs":
                                          True})
    found = notices_for_change(spec, None, L.SKIPPED, R.MAXIMUM_CONCURRENT_RUNS_REACHED)
    assert events(found) == {("on_failure", "webhook", "hook")}


def test_a_retried_task_failure_notifies_unless_only_the_last_attempt_should() -> None:
    now = notices_for_change(spec_with(), "t", L.WAITING_FOR_RETRY, R.FAILED)
    assert events(now) == {("on_failure", "email", "t.on_failure@x")}
    assert now[0].task_key == "t"
    later = spec_with(task={"notification_settings": {"alert_on_last_attempt": True}})
    assert notices_for_change(later, "t", L.WAITING_FOR_RETRY, R.FAILED) == []
    assert events(notices_for_change(later, "t", L.TERMINATED, R.FAILED)) == {
        ("on_failure", "email", "t.on_failure@x")}
    # The job's settings count for a task that has none of its own.
    assert notices_for_change(spec_with({"alert_on_last_attempt": True}), "t",
                              L.WAITING_FOR_RETRY, R.FAILED) == []


def test_a_lost_attempt_and_an_excluded_task_notify_nobody() -> None:
    assert notices_for_change(spec_with(), "t", L.WAITING_FOR_RETRY, None) == []
    assert notices_for_change(spec_with(), "t", L.TERMINATED, R.EXCLUDED) == []
    assert notices_for_change(spec_with(), "nope", L.TERMINATED, R.FAILED) == []


def test_upstream_failures_are_skips() -> None:
    spec = spec_with(task={"notification_settings": {"no_alert_for_skipped_runs": True}})
    assert notices_for_change(spec, "t", L.TERMINATED, R.UPSTREAM_FAILED) == []
    assert {n.event for n in notices_for_change(spec_with(), "t", L.TERMINATED,
                                                 R.UPSTREAM_FAILED)} == {"on_failure"}


def test_duration_warnings_fire_past_the_threshold_only() -> None:
    rule = {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 60}]}
    spec = spec_with(health=rule, task={"health": {"rules": [
        {"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 10}]}})
    assert has_health_rules(spec) and not has_health_rules(spec_with())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    at = lambda s: start + timedelta(seconds=s)  # noqa: E731
    assert duration_warnings(spec, start, {"t": start}, at(10)) == []
    found = duration_warnings(spec, start, {"t": start}, at(11))
    assert {(n.task_key, n.event) for n in found} == {
        ("t", "on_duration_warning_threshold_exceeded")}
    found = duration_warnings(spec, start, {}, at(61))  # the task is no longer running
    assert {(n.task_key, n.destination) for n in found} == {
        ("", "on_duration_warning_threshold_exceeded@x")}
    assert duration_warnings(spec, None, {}, at(100)) == []
