"""The Podium error tree. Every error Podium raises on purpose derives from PodiumError.

    PodiumError
    ├─ SpecError ── InvalidJobSpec       .problems: [Problem]       CLI exit 2 / HTTP 400
    ├─ InvalidArgument (ValueError)      a bad CLI/API argument      CLI exit 2 / HTTP 400
    ├─ NotFound (LookupError)            no such run, task, attempt  CLI exit 2 / HTTP 404
    ├─ Unauthenticated                   no or a bad API token       HTTP 401
    ├─ PermissionDenied                  the caller may not do this  CLI exit 2 / HTTP 403
    ├─ TooLarge                          a request body over the limit           HTTP 413
    ├─ Conflict                          the request contradicts the stored state (409)
    │  └─ InvalidTransition              a state change the state machine forbids
    ├─ TaskFailed                        user code raised or exited non-zero
    └─ InternalError                     ours or infrastructure -> INTERNAL_ERROR, never FAILED

This module imports nothing from podium, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass


class PodiumError(Exception):
    """Root of every error Podium raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a job spec.

    Attributes:
        code: stable machine-readable code, e.g. ``unknown-task``.
        loc: where it is, e.g. ``tasks[3].depends_on[0].task_key``.
        msg: what is wrong, in words.
        hint: how to fix it ("" when the message says it all).
    """

    code: str
    loc: str
    msg: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.loc}: {self.msg}" if self.loc else self.msg
        if self.hint:
            text += f"; {self.hint}"
        return f"{text}  [{self.code}]"


class SpecError(PodiumError):
    """A job spec could not be read or is not valid."""


class InvalidJobSpec(SpecError, ValueError):
    """A job spec has one or more problems; nothing was recorded."""

    def __init__(self, problems: list[Problem], source: str = "job spec") -> None:
        self.problems = problems
        self.source = source
        noun = "problem" if len(problems) == 1 else "problems"
        lines = [f"{source}: {len(problems)} {noun}, nothing was recorded"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


class InvalidArgument(PodiumError, ValueError):
    """A command-line or API argument is not acceptable."""


class NotFound(PodiumError, LookupError):
    """The named run, job, task or attempt does not exist."""


class Unauthenticated(PodiumError):
    """The API caller sent no token, or one that is unknown, revoked or expired."""


class PermissionDenied(PodiumError):
    """The caller is known but lacks the permission level this needs."""


class TooLarge(PodiumError):
    """A request body is larger than the server accepts."""


class Conflict(PodiumError):
    """The request contradicts the stored state (e.g. repairing a run that is still running)."""


class InvalidTransition(Conflict):
    """A state change the run or task state machine does not allow."""


class TaskFailed(PodiumError):
    """User code raised an exception or exited non-zero."""


class InternalError(PodiumError):
    """A failure of Podium itself or its infrastructure, not of user code."""
