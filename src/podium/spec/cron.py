"""Quartz cron expressions, as ``schedule.quartz_cron_expression`` holds them, parsed into
the sets of values each field allows.

    seconds minutes hours day-of-month month day-of-week [year]

Each field takes ``*``, a number or name, ranges ``a-b`` (wrapping, e.g. ``FRI-MON``),
lists ``a,b``, steps ``a/n``, ``*/n`` and ``a-b/n``. Day-of-week counts Quartz's way,
1=SUN .. 7=SAT. One of day-of-month and day-of-week is ``?`` (no specific value). Day of
month also takes ``L`` (last day), ``L-n`` (n days before it), ``nW`` (the weekday nearest
day n, within the month) and ``LW`` (the last weekday); day of week ``L`` (Saturday),
``nL`` (the last day n of the month) and ``n#k`` (the k-th day n).

This is the syntax (what validation checks); when an expression fires is arithmetic,
in ``podium.core.cron``. Pure: no clock, no IO.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from podium.errors import Problem

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Quartz 1..7
EXAMPLE = "e.g. '0 0 12 * * ?' (every day at noon) or '0 15 10 ? * MON-FRI'"

DayKind = Literal["dom", "last", "last_weekday", "nearest_weekday", "dow", "last_dow", "nth_dow"]


class CronError(ValueError):
    """A Quartz expression that cannot be parsed: ``str()`` says what, ``hint`` how to
    fix it."""

    def __init__(self, msg: str, hint: str = "") -> None:
        super().__init__(msg)
        self.msg, self.hint = msg, hint


@dataclass(frozen=True, slots=True)
class DayRule:
    """Which days of a month fire.

    kind:
        ``dom``: the days of month in ``values``; ``last``: the last day minus ``n``;
        ``last_weekday``: the last Monday-to-Friday; ``nearest_weekday``: the weekday
        nearest day ``n``; ``dow``: the Quartz weekdays (1=SUN) in ``values``;
        ``last_dow``: the last weekday ``n``; ``nth_dow``: the ``k``-th weekday ``n``.
    """

    kind: DayKind
    values: frozenset[int] = frozenset()
    n: int = 0
    k: int = 0


@dataclass(frozen=True, slots=True)
class QuartzCron:
    """A parsed expression: each field's allowed values, sorted; ``years`` None: any."""

    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days: DayRule
    years: tuple[int, ...] | None


_FIELDS = ("seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year")
_BOUNDS = {
    "seconds": (0, 59), "minutes": (0, 59), "hours": (0, 23), "day-of-month": (1, 31),
    "month": (1, 12), "day-of-week": (1, 7), "year": (1970, 2199),
}  # fmt: skip
_NAMES = {"month": MONTHS, "day-of-week": WEEKDAYS}


@cache
def parse_quartz(expression: str) -> QuartzCron:
    """Parse a Quartz cron expression.

    Raises:
        CronError: naming the field and what is wrong with it.
    """
    parts = expression.split()
    if len(parts) not in (6, 7):
        hint = (
            "Quartz expressions have 6 or 7 fields: seconds minutes hours day-of-month "
            f"month day-of-week [year], {EXAMPLE}"
        )
        if len(parts) == 5:
            hint = ("this looks like a 5-field Unix cron; Quartz puts seconds first and "
                    f"'?' in day-of-month or day-of-week, {EXAMPLE}")
        raise CronError(f"{expression!r} has {len(parts)} fields, not 6 or 7", hint)
    seconds, minutes, hours = (_values(parts[i], _FIELDS[i]) for i in range(3))
    months = _values(parts[4], "month")
    years = _values(parts[6], "year") if len(parts) == 7 and parts[6] != "*" else None
    days = _day_rule(parts[3], parts[5])
    return QuartzCron(expression, seconds, minutes, hours, months, days, years)


def check_timezone(name: str) -> str | None:
    """None if ``name`` is an IANA time zone; else a hint naming the closest ones."""
    if _known_zone(name):
        return None
    zones = sorted(zoneinfo.available_timezones())
    by_lower = {z.lower(): z for z in zones}
    if name.lower() in by_lower:
        return f"did you mean {by_lower[name.lower()]!r}?"
    close = difflib.get_close_matches(name, zones, n=2, cutoff=0.6)
    if not close:  # "Berlin" -> "Europe/Berlin"
        close = [z for z in zones if z.rsplit("/", 1)[-1].lower() == name.lower()][:2]
    if close:
        return "did you mean " + " or ".join(repr(z) for z in close) + "?"
    return "use an IANA time zone name, e.g. 'UTC', 'Europe/Berlin', 'America/New_York'"


def _known_zone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _day_rule(dom: str, dow: str) -> DayRule:
    dom_u, dow_u = dom.upper(), dow.upper()
    if dom_u == "?" and dow_u == "?":
        raise CronError("day-of-month and day-of-week are both '?'",
                        "give one of them, e.g. '*' in day-of-month")
    if dom_u != "?" and dow_u != "?":
        if dow_u == "*":  # '0 0 12 * * *': Quartz refuses it; the intent is plain
            dow_u = "?"
        elif dom_u == "*":
            dom_u = "?"
        else:
            raise CronError(
                f"day-of-month {dom!r} and day-of-week {dow!r} are both given",
                "Quartz does not combine them: put '?' in one, e.g. '0 0 12 ? * MON'",
            )
    if dow_u == "?":
        return _dom_rule(dom_u)
    return _dow_rule(dow_u)


def _dom_rule(text: str) -> DayRule:
    if text == "L":
        return DayRule("last")
    if text == "LW":
        return DayRule("last_weekday")
    if m := re.fullmatch(r"L-(\d+)", text):
        if int(m[1]) > 30:
            raise CronError(f"day-of-month {text!r}: at most L-30", "e.g. 'L-3'")
        return DayRule("last", n=int(m[1]))
    if m := re.fullmatch(r"(\d+)W", text):
        day = int(m[1])
        if not 1 <= day <= 31:
            raise CronError(f"day-of-month {text!r}: day {day} is not in 1-31", "e.g. '15W'")
        return DayRule("nearest_weekday", n=day)
    if "L" in text or "W" in text:
        raise CronError(f"day-of-month {text!r}: 'L' and 'W' stand alone",
                        "use 'L', 'L-3', 'LW' or '15W' without lists or ranges")
    return DayRule("dom", frozenset(_values(text, "day-of-month")))


def _dow_rule(text: str) -> DayRule:
    if text == "L":
        return DayRule("dow", frozenset({7}))
    if m := re.fullmatch(r"(\w+)L", text):
        return DayRule("last_dow", n=_number(m[1], "day-of-week"))
    if m := re.fullmatch(r"(\w+)#(\d+)", text):
        k = int(m[2])
        if not 1 <= k <= 5:
            raise CronError(f"day-of-week {text!r}: #{k} is not in 1-5",
                            "'6#3' is the third Friday of the month")
        return DayRule("nth_dow", n=_number(m[1], "day-of-week"), k=k)
    if "#" in text or "L" in text:
        raise CronError(f"day-of-week {text!r}: 'L' and '#' stand alone",
                        "use '6L' (the last Friday) or '6#3' (the third Friday) by itself")
    return DayRule("dow", frozenset(_values(text, "day-of-week")))


def _values(text: str, field: str) -> tuple[int, ...]:
    """The sorted values a plain field (``*``, lists, ranges, steps) allows."""
    low, high = _BOUNDS[field]
    found: set[int] = set()
    for item in text.upper().split(","):
        if not item:
            raise CronError(f"{field} {text!r}: an empty item in the list",
                            "separate values with single commas, e.g. '1,15'")
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field} {item!r}: the step {step_text!r} is not a "
                                "positive number", "e.g. '0/15' or '*/15'")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field), _number(last, field)
        else:
            start = _number(base, field)
            end = high if step_text else start
        found.update(_span(start, end, step, low, high))
    return tuple(sorted(found))


def _span(start: int, end: int, step: int, low: int, high: int) -> list[int]:
    if start <= end:
        return list(range(start, end + 1, step))
    size = high - low + 1  # a range that wraps, e.g. 22-2 hours or FRI-MON
    return [low + (v - low) % size for v in range(start, end + size + 1, step)]


def _number(text: str, field: str) -> int:
    low, high = _BOUNDS[field]
    names = _NAMES.get(field, ())
    if text in names:
        return names.index(text) + 1
    if not text.isdigit():
        hint = f"use numbers {low}-{high}"
        if names:
            hint += f" or names {names[0]}-{names[-1]}"
            close = difflib.get_close_matches(text, names, n=1, cutoff=0.5)
            if close:
                hint = f"did you mean {close[0]!r}? ({hint})"
        if text == "?":
            hint = "'?' is allowed only in day-of-month or day-of-week"
        raise CronError(f"{field}: {text!r} is not a value", hint)
    value = int(text)
    if not low <= value <= high:
        hint = f"{field} runs from {low} to {high}"
        if field == "day-of-week" and value == 0:
            hint += " (Quartz counts 1=SUN .. 7=SAT, not Unix cron's 0=SUN)"
        raise CronError(f"{field}: {value} is out of range", hint)
    return value


def check_automation(data: dict[Any, Any]) -> list[Problem]:
    """Problems with a raw job spec's ``schedule`` (its cron expression and zone) and
    with giving more than one of ``schedule``, ``trigger`` and ``continuous``."""
    problems: list[Problem] = []
    given = [k for k in ("schedule", "trigger", "continuous") if data.get(k) is not None]
    if len(given) > 1:
        problems.append(Problem(
            "conflicting-triggers", given[1],
            f"a job starts by one of schedule, trigger and continuous; it gives "
            f"{' and '.join(given)}", f"keep one of {', '.join(given)}",
        ))
    schedule = data.get("schedule")
    if not isinstance(schedule, dict):
        return problems
    expression = schedule.get("quartz_cron_expression")
    if isinstance(expression, str) and expression.strip():
        try:
            parse_quartz(expression.strip())
        except CronError as exc:
            problems.append(Problem("bad-cron", "schedule.quartz_cron_expression",
                                    exc.msg, exc.hint))
    zone = schedule.get("timezone_id")
    if isinstance(zone, str):
        hint = check_timezone(zone)
        if hint is not None:
            problems.append(Problem("unknown-timezone", "schedule.timezone_id",
                                    f"unknown time zone {zone!r}", hint))
    return problems
