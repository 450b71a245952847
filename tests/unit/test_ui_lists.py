"""The pure helpers of the UI's list pages: trigger summaries, durations, date filters."""

from __future__ import annotations

import pytest

from podium.errors import InvalidArgument
from podium.ui.pages import day_millis, duration, state_of, trigger_summary


def test_trigger_summary() -> None:
    assert trigger_summary({}) == ("manual", None)
    cron = {"schedule": {"quartz_cron_expression": "0 0 5 * * ?", "timezone_id": "UTC"}}
    assert trigger_summary(cron) == ("cron 0 0 5 * * ? (UTC)", "UNPAUSED")
    paused = {"trigger": {"periodic": {"interval": 2, "unit": "HOURS"},
                          "pause_status": "PAUSED"}}
    assert trigger_summary(paused) == ("every 2 hours", "PAUSED")
    both = {"continuous": {}, "trigger": {"file_arrival": {"url": "/in/"}}}
    assert trigger_summary(both) == ("file arrival at /in/; continuous", "UNPAUSED")


def test_duration() -> None:
    assert duration(0) == "" and duration(None) == ""
    assert duration(1500) == "1.5 s"
    assert duration(125_000) == "2 min 5 s"
    assert duration(3_725_000) == "1 h 2 min"


def test_state_of() -> None:
    assert state_of({"state": {"life_cycle_state": "RUNNING"}}) == "RUNNING"
    assert state_of({"state": {"life_cycle_state": "TERMINATED",
                               "result_state": "FAILED"}}) == "FAILED"
    assert state_of({}) == "PENDING"


def test_day_bounds_are_utc_and_inclusive() -> None:
    assert day_millis("", "from") is None
    assert day_millis("1970-01-02", "from") == 86_400_000
    assert day_millis("1970-01-01", "to", end=True) == 86_400_000 - 1
    with pytest.raises(InvalidArgument, match="YYYY-MM-DD"):
        day_millis("tomorrow", "from")
