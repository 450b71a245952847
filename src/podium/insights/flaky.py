"""Flaky tasks: tasks that fail and then succeed when tried again in the same run (a
retry, or a repair that re-ran them unchanged), ranked, with the errors that came
before the retries grouped by their text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from podium.insights.records import FAILURES, SUCCESS, History, PastAttempt

# Numbers, hex ids and quoted names vary between otherwise identical errors.
_VARYING = [(re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-f]{8,}\b"), "<id>"),
            (re.compile(r"\d+(\.\d+)?"), "<n>")]
MAX_MESSAGE = 200


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Errors with the same text once numbers and ids are left out."""

    pattern: str
    count: int
    example: str
    run_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlakyTask:
    """A task that failed and then succeeded on a retry in ``flaky_runs`` of ``runs``."""

    task_key: str
    runs: int
    flaky_runs: int
    failed_runs: int  # runs where it failed and no retry saved it
    most_retries_needed: int
    errors: tuple[ErrorGroup, ...]
    basis: str

    @property
    def rate(self) -> float:
        return self.flaky_runs / self.runs if self.runs else 0.0


def error_pattern(message: str) -> str:
    """The text errors are grouped by: the first line, numbers and ids left out."""
    line = message.strip().splitlines()[0] if message.strip() else "(no message)"
    for pattern, stand_in in _VARYING:
        line = pattern.sub(stand_in, line)
    return line[:MAX_MESSAGE]


def flaky_tasks(history: History) -> list[FlakyTask]:
    """Every task that was flaky at least once, the most often flaky first (then the
    highest share of its runs, then by key)."""
    tries: dict[tuple[str, int], list[PastAttempt]] = {}
    for a in history.attempts:
        tries.setdefault((a.task_key, a.run_id), []).append(a)
    found: dict[str, dict[str, int]] = {}
    errors: dict[str, dict[str, list[PastAttempt]]] = {}
    for (key, _run), attempts in sorted(tries.items()):
        attempts.sort(key=lambda a: (a.repair_count, a.attempt_number))
        finished = [a for a in attempts if a.result_state is not None]
        if not finished:
            continue
        counts = found.setdefault(key, {"runs": 0, "flaky": 0, "failed": 0, "most": 0})
        counts["runs"] += 1
        failed_first = [a for a in finished[:-1] if a.result_state in FAILURES]
        if finished[-1].result_state == SUCCESS and failed_first:
            counts["flaky"] += 1
            counts["most"] = max(counts["most"], len(failed_first))
        elif finished[-1].result_state in FAILURES:
            counts["failed"] += 1
        for a in failed_first:  # each was followed by another try
            errors.setdefault(key, {}).setdefault(error_pattern(a.message), []).append(a)
    out = []
    for key, counts in found.items():
        if counts["flaky"] == 0:
            continue
        groups = sorted(
            (ErrorGroup(pattern, len(hits), hits[0].message.strip()[:MAX_MESSAGE],
                        tuple(sorted({a.run_id for a in hits})))
             for pattern, hits in errors.get(key, {}).items()),
            key=lambda g: (-g.count, g.pattern),
        )
        out.append(FlakyTask(
            key, counts["runs"], counts["flaky"], counts["failed"], counts["most"],
            tuple(groups),
            f"failed, then succeeded when tried again, in {counts['flaky']} of the last "
            f"{counts['runs']} runs of task {key}",
        ))
    return sorted(out, key=lambda f: (-f.flaky_runs, -f.rate, f.task_key))
