"""File-arrival decisions: which listed files are new, when a batch of them has settled,
and when it may start a run. Pure: the watcher (``podium.triggers.file_arrival``) lists
the directory and reads the store; ``now`` is a parameter.

The rules, as Databricks' file-arrival triggers:

- Only new files count. A file is new if the job has not seen its path; a file already
  seen that is rewritten or grows does not trigger again.
- Files already in the directory when the trigger was set up are not new: a file whose
  last change (the later of its mtime and ctime; a rename into the directory changes
  its ctime) is at or before ``cutoff_ns`` is recorded as seen without a run.
- ``wait_after_last_change_seconds``: the batch starts a run only once no new file has
  appeared or changed (size or mtime) for that long, as observed by the watcher.
- ``min_time_between_triggers_seconds``: and no sooner than that after the previous
  file-arrival run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file as a directory listing shows it."""

    size: int
    mtime_ns: int
    changed_ns: int  # max(mtime, ctime): when it last changed or arrived


@dataclass(frozen=True, slots=True)
class PendingFile:
    """A new file waiting to start a run."""

    size: int
    mtime_ns: int
    changed_at: datetime  # when the watcher first saw this size and mtime


def observe(
    pending: Mapping[str, PendingFile], listing: Mapping[str, ListedFile],
    seen: Collection[str], cutoff_ns: int, now: datetime,
) -> tuple[dict[str, PendingFile], dict[str, ListedFile]]:
    """Fold one listing into the pending files.

    Args:
        pending: the new files known before this listing.
        listing: every file in the watched directory now, by absolute path.
        seen: the paths the job has already seen.
        cutoff_ns: when the trigger was set up (epoch ns); files last changed at or
            before it were there already.
        now: the time of the listing.

    Returns:
        The new files now pending (a file that is gone is dropped; one whose size or
        mtime changed is seen as changed ``now``), and the files that were there before
        the trigger, to be recorded as seen without a run.
    """
    new_pending: dict[str, PendingFile] = {}
    baseline: dict[str, ListedFile] = {}
    for path, listed in listing.items():
        if path in seen:
            continue
        before = pending.get(path)
        if before is None and listed.changed_ns <= cutoff_ns:
            baseline[path] = listed
        elif before is not None and (before.size, before.mtime_ns) == (
            listed.size, listed.mtime_ns
        ):
            new_pending[path] = before
        else:
            new_pending[path] = PendingFile(listed.size, listed.mtime_ns, now)
    return new_pending, baseline


def due_at(
    pending: Mapping[str, PendingFile], *, wait_after_last_change_seconds: int,
    min_time_between_triggers_seconds: int, last_triggered_at: datetime | None,
) -> datetime | None:
    """When the pending files may start a run (at or before ``now``: at once); None when
    no file is pending."""
    if not pending:
        return None
    last_change = max(f.changed_at for f in pending.values())
    due = last_change + timedelta(seconds=wait_after_last_change_seconds)
    if last_triggered_at is not None:
        due = max(due, last_triggered_at + timedelta(seconds=min_time_between_triggers_seconds))
    return due
