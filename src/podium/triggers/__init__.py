"""What starts runs without a person: schedules, periodic and file-arrival triggers,
continuous jobs. Decisions are ``podium.core``'s; the loops and their effects live here."""

from __future__ import annotations

from podium.triggers.file_arrival import FileArrivals
from podium.triggers.scheduler import Scheduler

__all__ = ["FileArrivals", "Scheduler"]
