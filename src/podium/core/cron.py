"""When a Quartz cron expression fires, in a time zone: pure arithmetic, no clock
(``after`` is a parameter).

Daylight saving time neither skips nor doubles a fire:

- spring forward: a wall time that does not exist that day (02:30 in New York on
  2026-03-08) fires once, shifted by the gap (at 03:30 EDT), as Quartz does;
- fall back: a wall time that happens twice (01:30 on 2026-11-01) fires once, at its
  first occurrence; the repeated hour fires nothing again.

The parser is ``podium.spec.cron`` (validation uses it too); this module walks the
calendar itself (year, month, matching day, then time of day) rather than through
croniter, which has no ``W`` and whose daylight-saving behaviour is not Quartz's.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

from podium.spec.cron import CronError, DayRule, QuartzCron, parse_quartz

__all__ = ["CronError", "QuartzCron", "next_fire", "parse_quartz"]

# Years searched past ``after`` when the expression names none (Feb 29 on a Monday
# recurs within 28 years).
_SEARCH_YEARS = 30
# The most a daylight-saving transition moves wall time (Lord Howe's is 30 minutes,
# most are an hour; a margin for historical double summer time).
_MAX_SHIFT = timedelta(hours=2)


def next_fire(expression: str | QuartzCron, zone: str | tzinfo,
              after: datetime) -> datetime | None:
    """The first fire time strictly after ``after``, in UTC; None if it never fires again.

    Args:
        expression: a Quartz expression or one parsed by ``parse_quartz``.
        zone: the IANA zone (``timezone_id``) its wall times are in.
        after: an aware datetime.

    Raises:
        CronError: the expression does not parse.
        zoneinfo.ZoneInfoNotFoundError: no such zone.
    """
    cron = parse_quartz(expression) if isinstance(expression, str) else expression
    tz = _zone(zone) if isinstance(zone, str) else zone
    after = after.astimezone(UTC)
    start = after.astimezone(tz).replace(tzinfo=None, fold=0)
    last_year = cron.years[-1] if cron.years else start.year + _SEARCH_YEARS
    for day in _days_from(cron, start.date(), last_year):
        shifting = _offset(tz, day) != _offset(tz, day + timedelta(days=1))
        floor = start - _MAX_SHIFT if shifting else start
        found = _first_in_day(cron, tz, day, floor, after, shifting)
        if found is not None:
            return found
    return None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _first_in_day(cron: QuartzCron, tz: tzinfo, day: date, floor: datetime,
                  after: datetime, shifting: bool) -> datetime | None:
    """The earliest fire on ``day`` after ``after``. On a day whose UTC offset changes,
    wall times in a gap map past later ones, so the times within ``_MAX_SHIFT`` of the
    first found are compared too."""
    best: datetime | None = None
    best_wall: datetime | None = None
    for wall in _times(cron, day, floor):
        if best_wall is not None and wall > best_wall + _MAX_SHIFT:
            break
        at = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if at <= after:
            continue
        if not shifting:
            return at
        if best is None or at < best:
            best, best_wall = at, best_wall or wall
    return best


def _times(cron: QuartzCron, day: date, floor: datetime) -> Iterator[datetime]:
    """The wall times of ``day`` the expression names, in order, from ``floor`` on
    (to the second)."""
    low = (floor.hour, floor.minute, floor.second) if floor.date() == day else (0, 0, 0)
    for h in cron.hours:
        if h < low[0]:
            continue
        for m in cron.minutes:
            if (h, m) < low[:2]:
                continue
            for s in cron.seconds:
                if (h, m, s) >= low:
                    yield datetime(day.year, day.month, day.day, h, m, s)


def _days_from(cron: QuartzCron, start: date, last_year: int) -> Iterator[date]:
    years = cron.years or range(start.year, last_year + 1)
    for year in years:
        if year < start.year:
            continue
        for month in cron.months:
            if (year, month) < (start.year, start.month):
                continue
            for d in month_days(cron.days, year, month):
                day = date(year, month, d)
                if day >= start:
                    yield day


def month_days(rule: DayRule, year: int, month: int) -> list[int]:
    """The days of ``year``-``month`` that ``rule`` selects, in order."""
    first_weekday, length = calendar.monthrange(year, month)  # Monday = 0
    quartz_dow = [(first_weekday + i + 1) % 7 + 1 for i in range(length)]  # 1 = SUN
    kind = rule.kind
    if kind == "dom":
        return [d for d in sorted(rule.values) if d <= length]
    if kind == "last":
        return [length - rule.n] if length - rule.n >= 1 else []
    if kind == "last_weekday":
        day = length
        while quartz_dow[day - 1] in (1, 7):
            day -= 1
        return [day]
    if kind == "nearest_weekday":
        return _nearest_weekday(rule.n, length, quartz_dow)
    if kind == "dow":
        return [d + 1 for d, w in enumerate(quartz_dow) if w in rule.values]
    matching = [d + 1 for d, w in enumerate(quartz_dow) if w == rule.n]
    if kind == "last_dow":
        return matching[-1:]
    return matching[rule.k - 1:rule.k]  # nth_dow


def _nearest_weekday(day: int, length: int, quartz_dow: list[int]) -> list[int]:
    """Quartz's ``nW``: the weekday nearest ``day``, never leaving the month."""
    if day > length:
        return []
    weekday = quartz_dow[day - 1]
    if weekday == 7:  # Saturday: Friday, or Monday when the 1st is a Saturday
        return [day - 1] if day > 1 else [day + 2]
    if weekday == 1:  # Sunday: Monday, or Friday when the last day is a Sunday
        return [day + 1] if day < length else [day - 2]
    return [day]


def _offset(tz: tzinfo, day: date) -> timedelta | None:
    return datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
