"""Quartz cron arithmetic: the Quartz documentation's examples with their next fire
times (worked out by hand on a 2026 calendar: Jan 1 2026 is a Thursday), daylight
saving days, and the errors bad expressions get."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.core.cron import CronError, next_fire, parse_quartz
from podium.errors import InvalidJobSpec
from podium.spec import parse_job


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


NEW_YEAR = "2026-01-01T00:00:00"

QUARTZ_EXAMPLES = [
    # expression, after (UTC), the next fire (UTC)
    ("0 0 12 * * ?", NEW_YEAR, "2026-01-01T12:00:00"),  # noon every day
    ("0 0 12 * * ?", "2026-01-01T12:00:00", "2026-01-02T12:00:00"),  # strictly after
    ("0 15 10 ? * *", NEW_YEAR, "2026-01-01T10:15:00"),
    ("0 15 10 * * ? 2027", NEW_YEAR, "2027-01-01T10:15:00"),  # only in 2027
    ("0 15 10 ? * MON-FRI", NEW_YEAR, "2026-01-01T10:15:00"),  # Thursday
    ("0 15 10 ? * MON-FRI", "2026-01-02T11:00:00", "2026-01-05T10:15:00"),  # Fri -> Mon
    ("0 15 10 15 * ?", NEW_YEAR, "2026-01-15T10:15:00"),
    ("0 15 10 L * ?", NEW_YEAR, "2026-01-31T10:15:00"),  # the last day of the month
    ("0 15 10 L * ?", "2026-02-01T00:00:00", "2026-02-28T10:15:00"),
    ("0 15 10 L-2 * ?", NEW_YEAR, "2026-01-29T10:15:00"),  # two days before the last
    ("0 15 10 ? * 6L", NEW_YEAR, "2026-01-30T10:15:00"),  # the last Friday
    ("0 15 10 ? * 6L 2027", NEW_YEAR, "2027-01-29T10:15:00"),
    ("0 15 10 ? * 6#3", NEW_YEAR, "2026-01-16T10:15:00"),  # the third Friday
    ("0 0 12 ? JAN,JUL SUN#1", NEW_YEAR, "2026-01-04T12:00:00"),  # the first Sunday
    ("0 * 14 * * ?", "2026-01-01T14:59:30", "2026-01-02T14:00:00"),  # each minute 14:xx
    ("0 0/5 14 * * ?", NEW_YEAR, "2026-01-01T14:00:00"),  # every 5 minutes, 14:00-14:55
    ("0 0/5 14 * * ?", "2026-01-01T14:02:00", "2026-01-01T14:05:00"),
    ("0 0/5 14 * * ?", "2026-01-01T14:55:00", "2026-01-02T14:00:00"),
    ("0 0/5 14,18 * * ?", "2026-01-01T14:56:00", "2026-01-01T18:00:00"),
    ("0 0-5 14 * * ?", "2026-01-01T14:03:30", "2026-01-01T14:04:00"),
    ("0 10,44 14 ? 3 WED", NEW_YEAR, "2026-03-04T14:10:00"),  # Wednesdays in March
    ("0 0 12 1W * ?", NEW_YEAR, "2026-01-01T12:00:00"),  # the 1st is a Thursday
    ("0 0 12 1W * ?", "2026-01-02T00:00:00", "2026-02-02T12:00:00"),  # Sun 1st -> Mon
    ("0 0 12 1W * ?", "2026-07-15T00:00:00", "2026-08-03T12:00:00"),  # Sat 1st -> Mon 3rd
    ("0 0 12 15W * ?", "2026-02-01T00:00:00", "2026-02-16T12:00:00"),  # Sun 15th -> Mon
    ("0 0 12 31W * ?", "2026-05-01T00:00:00", "2026-05-29T12:00:00"),  # Sun 31st -> Fri
    ("0 0 12 LW * ?", NEW_YEAR, "2026-01-30T12:00:00"),  # last weekday (31st: Sat)
    ("0 11 11 11 11 ?", NEW_YEAR, "2026-11-11T11:11:00"),
    ("0 0 12 29 2 ?", NEW_YEAR, "2028-02-29T12:00:00"),  # the next leap day
    ("0 0 0 ? * 1", NEW_YEAR, "2026-01-04T00:00:00"),  # 1 is Sunday in Quartz
    ("0 0 0 ? * 7", NEW_YEAR, "2026-01-03T00:00:00"),  # 7 is Saturday
    ("0 0 0 ? * L", NEW_YEAR, "2026-01-03T00:00:00"),  # L alone: Saturday
    ("0 15 10 ? * SAT-MON", "2026-01-03T11:00:00", "2026-01-04T10:15:00"),  # wraps
    ("0 0 22-2 * * ?", "2026-01-01T02:30:00", "2026-01-01T22:00:00"),  # 22, 23, 0, 1, 2
    ("*/1 * * * * ?", "2026-01-01T10:00:00.500000", "2026-01-01T10:00:01"),
    ("30 * * * * ?", "2026-01-01T23:59:31", "2026-01-02T00:00:30"),
    ("0 0 12 * * ? 2025", NEW_YEAR, None),  # never again
]


@pytest.mark.parametrize(("expression", "after", "expected"), QUARTZ_EXAMPLES)
def test_quartz_examples(expression: str, after: str, expected: str | None) -> None:
    found = next_fire(expression, "UTC", utc(after))
    assert found == (utc(expected) if expected else None)


def fires(expression: str, zone: str, after: str, count: int) -> list[datetime]:
    out, at = [], utc(after)
    for _ in range(count):
        found = next_fire(expression, zone, at)
        assert found is not None
        out.append(found)
        at = found
    return out


def test_wall_time_in_a_zone() -> None:
    assert next_fire("0 0 9 * * ?", "Europe/Berlin", utc(NEW_YEAR)) == utc("2026-01-01T08:00")
    assert next_fire("0 0 9 * * ?", "Europe/Berlin", utc("2026-07-01")) == utc("2026-07-01T07:00")


def test_new_york_spring_forward_fires_the_missing_time_once_shifted() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist; it fires at 03:30 EDT.
    assert fires("0 30 2 * * ?", "America/New_York", "2026-03-06T12:00", 3) == [
        utc("2026-03-07T07:30"),  # 02:30 EST
        utc("2026-03-08T07:30"),  # 03:30 EDT, once
        utc("2026-03-09T06:30"),  # 02:30 EDT
    ]


def test_new_york_spring_forward_hourly_neither_skips_nor_doubles() -> None:
    assert fires("0 0 * * * ?", "America/New_York", "2026-03-08T05:30", 3) == [
        utc("2026-03-08T06:00"),  # 01:00 EST
        utc("2026-03-08T07:00"),  # 02:00 shifted = 03:00 EDT (03:00 itself: the same)
        utc("2026-03-08T08:00"),  # 04:00 EDT
    ]


def test_new_york_fall_back_fires_a_repeated_time_once() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice and fires the first time.
    assert fires("0 30 1 * * ?", "America/New_York", "2026-10-31T12:00", 2) == [
        utc("2026-11-01T05:30"),  # 01:30 EDT
        utc("2026-11-02T06:30"),  # 01:30 EST the next day; not 2026-11-01T06:30
    ]
    assert fires("0 0 * * * ?", "America/New_York", "2026-11-01T03:30", 3) == [
        utc("2026-11-01T04:00"),  # 00:00 EDT
        utc("2026-11-01T05:00"),  # 01:00 EDT; 01:00 EST (06:00Z) is the same wall time
        utc("2026-11-01T07:00"),  # 02:00 EST
    ]


def test_new_york_fall_back_from_inside_the_repeated_hour() -> None:
    # During the second 01:xx (EST), the 01:30 already fired in EDT is not fired again.
    assert next_fire("0 30 1 * * ?", "America/New_York",
                     utc("2026-11-01T06:10")) == utc("2026-11-02T06:30")


def test_berlin_transitions() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    assert fires("0 30 2 * * ?", "Europe/Berlin", "2026-03-28T12:00", 2) == [
        utc("2026-03-29T01:30"),  # 03:30 CEST
        utc("2026-03-30T00:30"),  # 02:30 CEST
    ]
    assert fires("0 30 2 * * ?", "Europe/Berlin", "2026-10-24T12:00", 2) == [
        utc("2026-10-25T00:30"),  # 02:30 CEST, the first of two
        utc("2026-10-26T01:30"),  # 02:30 CET
    ]


def test_every_second_is_fast_and_exact() -> None:
    at = utc("2026-01-01T23:59:59.250000")
    assert next_fire("* * * * * ?", "UTC", at) == utc("2026-01-02T00:00:00")


@pytest.mark.parametrize(
    ("expression", "message", "hint"),
    [
        ("0 12 * * 1", "has 5 fields", "Unix cron"),
        ("0 0 12 ? * ?", "both '?'", "give one"),
        ("0 0 12 1 * MON", "are both given", "put '?' in one"),
        ("0 60 * * * ?", "minutes: 60 is out of range", "0 to 59"),
        ("0 0 12 ? * 0", "day-of-week: 0 is out of range", "1=SUN"),
        ("0 0 12 ? * FRY", "'FRY' is not a value", "did you mean 'FRI'"),
        ("0 0 12 ? * 6#6", "#6 is not in 1-5", "third Friday"),
        ("0 0 12 1,L * ?", "stand alone", "'L-3'"),
        ("0 */0 * * * ?", "not a positive number", "'*/15'"),
        ("0 0 12 ? * 6L,2", "stand alone", "'6L'"),
        ("0 0 ? * * ?", "'?' is not a value", "only in day-of-month"),
    ],
)
def test_bad_expressions(expression: str, message: str, hint: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_quartz(expression)
    assert message in caught.value.msg
    assert hint in caught.value.hint


def spec_problems(**fields: object) -> list[str]:
    data = {"name": "j", "tasks": [{"task_key": "a", "shell_task": {"command": ["true"]}}],
            **fields}
    with pytest.raises(InvalidJobSpec) as caught:
        parse_job(data)
    return [str(p) for p in caught.value.problems]


def test_validation_names_the_field_and_hints() -> None:
    problems = spec_problems(schedule={"quartz_cron_expression": "0 0 12 * *"})
    assert len(problems) == 1
    assert problems[0].startswith("schedule.quartz_cron_expression: '0 0 12 * *' has 5")
    assert problems[0].endswith("[bad-cron]")


def test_validation_suggests_a_close_time_zone() -> None:
    problems = spec_problems(schedule={"quartz_cron_expression": "0 0 12 * * ?",
                                       "timezone_id": "Europe/Berln"})
    assert problems == [
        "schedule.timezone_id: unknown time zone 'Europe/Berln'; did you mean "
        "'Europe/Berlin' or 'Europe/Belfast'?  [unknown-timezone]"
    ]
    (problem,) = spec_problems(schedule={"quartz_cron_expression": "0 0 12 * * ?",
                                         "timezone_id": "Berlin"})
    assert "'Europe/Berlin'" in problem


def test_validation_refuses_two_ways_to_start() -> None:
    (problem,) = spec_problems(schedule={"quartz_cron_expression": "0 0 12 * * ?"},
                               continuous={})
    assert problem.startswith("continuous: a job starts by one of schedule")


def test_good_schedule_validates() -> None:
    spec, _ = parse_job({
        "name": "j", "tasks": [{"task_key": "a", "shell_task": {"command": ["true"]}}],
        "schedule": {"quartz_cron_expression": "0 15 10 ? * 6#3",
                     "timezone_id": "America/New_York", "pause_status": "PAUSED"},
    })
    assert spec.schedule is not None
    assert spec.schedule.pause_status == "PAUSED"


# ---- properties: against a brute-force walk over the minutes ---------------------------


def _field(values: list[int]) -> str:
    return ",".join(str(v) for v in sorted(set(values)))


@st.composite
def simple_crons(draw: st.DrawFn) -> tuple[str, set[int], set[int], set[int], set[int] | None]:
    minutes = draw(st.lists(st.integers(0, 59), min_size=1, max_size=4))
    hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=3))
    if draw(st.booleans()):
        days = draw(st.lists(st.integers(1, 31), min_size=1, max_size=3))
        expr = f"0 {_field(minutes)} {_field(hours)} {_field(days)} * ?"
        return expr, set(minutes), set(hours), set(days), None
    weekdays = draw(st.lists(st.integers(1, 7), min_size=1, max_size=3))
    expr = f"0 {_field(minutes)} {_field(hours)} ? * {_field(weekdays)}"
    return expr, set(minutes), set(hours), set(), set(weekdays)


@settings(max_examples=60, deadline=None)
@given(simple_crons(),
       st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)))
def test_next_fire_is_the_first_matching_minute(
    cron: tuple[str, set[int], set[int], set[int], set[int] | None], start: datetime,
) -> None:
    expr, minutes, hours, days, weekdays = cron
    after = start.replace(tzinfo=UTC)
    found = next_fire(expr, "UTC", after)
    at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while True:  # every expression drawn fires within ~4 months (the 31st, e.g.)
        day_ok = (at.day in days) if weekdays is None else ((at.weekday() + 1) % 7 + 1
                                                             in weekdays)
        if at.minute in minutes and at.hour in hours and day_ok:
            break
        at += timedelta(minutes=1)
    assert found == at


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["America/New_York", "Europe/Berlin", "Australia/Sydney",
                        "Australia/Lord_Howe"]),
       st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)))
def test_every_quarter_hour_never_skips_nor_doubles_a_wall_time(zone: str, start: datetime) -> None:
    tz = ZoneInfo(zone)
    at = start.replace(tzinfo=UTC)
    walls: list[datetime] = []
    for _ in range(4 * 24 * 3):  # three days
        found = next_fire("0 0/15 * * * ?", zone, at)
        assert found is not None and found > at
        walls.append(found.astimezone(tz).replace(tzinfo=None))
        at = found
    # Each wall time fires once; a fire stands for each quarter hour (a skipped one is
    # fired shifted, so the wall times seen may jump, but never repeat).
    assert len(walls) == len(set(walls))
    assert all(b - a <= timedelta(minutes=90) for a, b in itertools.pairwise(walls))
