"""File-arrival triggers: a run of a job when new files land in its watched directory.

``FileArrivals`` lists every directory named by an UNPAUSED ``trigger.file_arrival`` —
on each change watchfiles reports (prompt), and every ``rescan_seconds`` (the source of
truth: it catches what arrived while no server ran, or on file systems without change
notifications). The decisions are ``podium.core.arrivals``'. A batch of new files starts
one run (trigger ``FILE_ARRIVAL``); the files are recorded in ``seen_files`` with its
run_id in the same transaction, so across a restart nothing triggers twice and nothing
is missed. Directories are watched recursively; names starting with "." (hidden files,
temporary files of writers that rename into place) are skipped.

Several servers on one database all watch the same directories; ``seen_files``' primary
key (job, path) lets exactly one of them record a file, so a batch starts one run: the
others' transactions fail on it, roll back (their runs with them) and see the files as
seen on their next look. (The directory must be the same path on every server: a
shared file system mounted alike.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from watchfiles import awatch

from podium.core.arrivals import ListedFile, PendingFile, due_at, observe
from podium.engine import start_run, utcnow
from podium.engine.starts import active_runs
from podium.errors import Conflict
from podium.spec import JobSpec
from podium.spec.automation import FileArrivalTrigger, PauseStatus, file_arrival_path
from podium.store import JobRow, files
from podium.store import jobs as job_queries

logger = logging.getLogger(__name__)
# watchfiles logs every batch of changes at INFO; the runs they start say enough.
logging.getLogger("watchfiles").setLevel(logging.WARNING)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Watch:
    """One job's file-arrival trigger, as its stored settings say."""

    job_id: int
    stamp: tuple[int, str | None]  # the job's version and folder it was read from
    spec: JobSpec
    trigger: FileArrivalTrigger
    url: str
    directory: str  # absolute
    cutoff_ns: int  # when the trigger was set up on this url (epoch ns)
    paused: bool


def list_files(directory: str) -> dict[str, ListedFile] | None:
    """Every regular file under ``directory`` (recursively, skipping names that start
    with "."), by absolute path; None when the directory cannot be listed."""
    found: dict[str, ListedFile] = {}
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file():
                            st = entry.stat()
                            found[entry.path] = ListedFile(
                                st.st_size, st.st_mtime_ns, max(st.st_mtime_ns, st.st_ctime_ns)
                            )
                    except OSError:
                        continue  # removed while listing, or unreadable: next time
        except OSError:
            if current == directory:
                return None
    return found


class FileArrivals:
    """Starts runs of the jobs whose file-arrival triggers see new files.

    Args:
        sessions: the store.
        wake: called after a run was started (the dispatcher's ``wake``).
        clock: the time (tests pass a fake one and call ``tick`` themselves).
        rescan_seconds: how often every directory is listed even without a change event.
        poll_seconds: how often the store is asked whether file-arrival jobs changed (a
            new trigger is watched within this).
        slack: how long before the trigger was set up a file may have changed and still
            count as new: file times come from a coarser clock (a kernel tick, or one or
            two seconds on some file systems), and missing a file is worse than taking
            one written just before.
    """

    def __init__(
        self, sessions: sessionmaker[Session], *, wake: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow, rescan_seconds: float = 5.0,
        poll_seconds: float = 1.0,
        slack: timedelta = timedelta(seconds=2),
    ) -> None:
        self.slack_ns = slack // timedelta(microseconds=1) * 1000
        self.sessions = sessions
        self.wake = wake or (lambda: None)
        self.clock = clock
        self.rescan_seconds = rescan_seconds
        self.poll_seconds = poll_seconds
        self.directories: set[str] = set()  # watched now (unpaused triggers)
        self.looks = 0  # how many times ``tick`` ran
        self._pending: dict[int, dict[str, PendingFile]] = {}
        self._watches: dict[int, Watch] = {}
        self._unusable: dict[int, tuple[int, str | None]] = {}  # job -> its stamp
        self._unlistable: set[tuple[int, str]] = set()  # warned about once
        self._watchers: dict[str, tuple[asyncio.Task[None], threading.Event]] = {}
        self._woken: asyncio.Event | None = None

    # ---- one look -------------------------------------------------------------------
    def tick(self) -> datetime | None:
        """Look at every watched directory once and start the runs that are due.

        Returns:
            When a pending batch falls due (look again then at the latest), or None.
        """
        now = self.clock()
        self.looks += 1
        with self.sessions() as session:
            watches = self._load(session)
        self.directories = {w.directory for w in watches if not w.paused}
        active = {w.job_id for w in watches if not w.paused}
        for job_id in set(self._pending) - active:
            del self._pending[job_id]  # paused or gone: what is unseen is looked at anew
        next_at: datetime | None = None
        for watch in watches:
            if watch.paused:
                continue
            try:
                due = self._look(watch, now)
            except Conflict as exc:  # another server started the run: nothing is lost
                logger.info("file arrival: %s", exc)
                continue
            except Exception:  # one job's trouble must not stop the others
                logger.exception("file arrival: looking at %s for job %s failed",
                                 watch.directory, watch.job_id)
                continue
            if due is not None and (next_at is None or due < next_at):
                next_at = due
        return next_at

    def _load(self, session: Session) -> list[Watch]:
        """The file-arrival triggers of the stored jobs (parsed once per job version)."""
        watches: list[Watch] = []
        for job in files.file_arrival_jobs(session):
            stamp = (job.version, job.source_dir)
            known = self._watches.get(job.job_id)
            if known is None or known.stamp != stamp:
                self._watches.pop(job.job_id, None)
                if self._unusable.get(job.job_id) == stamp:
                    continue  # no trigger in it, or told once already
                try:
                    known = self._watch_of(session, job)
                except ValueError as exc:  # a spec or url stored before it was checked
                    logger.warning("file arrival: job %s is not watched: %s", job.job_id, exc)
                    known = None
                if known is None:
                    self._unusable[job.job_id] = stamp
                    continue
                self._watches[job.job_id] = known
            watches.append(known)
        for job_id in set(self._watches) - {w.job_id for w in watches}:
            del self._watches[job_id]  # deleted, or no file-arrival trigger any more
        return watches

    def _watch_of(self, session: Session, job: JobRow) -> Watch | None:
        spec = JobSpec.model_validate_json(job.spec_json)
        trigger = spec.trigger
        if trigger is None or trigger.file_arrival is None:
            return None
        url = trigger.file_arrival.url
        base = Path(job.source_dir or ".")
        directory = os.path.abspath(base / file_arrival_path(url))
        # The trigger was set up when the job's versions began to name this url.
        since = job.created_at
        for version in reversed(job_queries.get_versions(session, job.job_id)):
            if _file_arrival_url(version.spec_json) != url:
                break
            since = version.created_at
        cutoff_ns = (since - _EPOCH) // timedelta(microseconds=1) * 1000 - self.slack_ns
        return Watch(job.job_id, (job.version, job.source_dir), spec, trigger.file_arrival,
                     url, directory, cutoff_ns, trigger.pause_status is PauseStatus.PAUSED)

    def _look(self, watch: Watch, now: datetime) -> datetime | None:
        listing = list_files(watch.directory)
        if listing is None:
            if (watch.job_id, watch.directory) not in self._unlistable:
                self._unlistable.add((watch.job_id, watch.directory))
                logger.warning("file arrival: job %s watches %s, which is not a readable "
                               "directory (yet)", watch.job_id, watch.directory)
            self._pending.pop(watch.job_id, None)
            return None
        self._unlistable.discard((watch.job_id, watch.directory))
        run_id = None
        with self.sessions.begin() as session:
            seen = files.seen_paths(session, watch.job_id, watch.directory)
            # A file that is gone is forgotten: one written again under its name is new.
            files.forget(session, watch.job_id, seen - listing.keys())
            pending, baseline = observe(self._pending.get(watch.job_id, {}), listing, seen,
                                        watch.cutoff_ns, now)
            files.record_seen(session, watch.job_id,
                              [(p, f.size, f.mtime_ns) for p, f in sorted(baseline.items())], now)
            due = due_at(
                pending,
                wait_after_last_change_seconds=watch.trigger.wait_after_last_change_seconds,
                min_time_between_triggers_seconds=watch.trigger.min_time_between_triggers_seconds,
                last_triggered_at=files.last_triggered_at(session, watch.job_id),
            )
            if due is not None and due <= now:
                run_id = self._start(session, watch, pending, now)
                due = None if run_id is not None else now + timedelta(
                    seconds=self.rescan_seconds)
        self._pending[watch.job_id] = {} if run_id is not None else pending
        if run_id is not None:
            logger.info("file arrival: %d new file(s) in %s started run %s of job %s",
                        len(pending), watch.directory, run_id, watch.job_id)
            self.wake()
        return due

    def _start(self, session: Session, watch: Watch, pending: dict[str, PendingFile],
               now: datetime) -> int | None:
        """Start a run for ``pending`` and record them with it; None when the job changed
        under us or is busy (the batch waits: it is not dropped as a skipped run)."""
        job = job_queries.find_job(session, watch.job_id)
        if job is None or (job.version, job.source_dir) != watch.stamp:
            return None
        spec = watch.spec
        queueing = spec.queue is not None and spec.queue.enabled
        if not queueing and active_runs(session, job.job_id, now) >= spec.max_concurrent_runs:
            return None
        paths = sorted(pending)
        info: dict[str, Any] = {"location": watch.url, "directory": watch.directory,
                                "files": paths}
        run_id = start_run(session, job, spec, spec.parameter_defaults(),
                           job.creator or "podium", now, trigger="FILE_ARRIVAL",
                           trigger_info=info)
        files.record_seen(session, job.job_id,
                          [(p, pending[p].size, pending[p].mtime_ns) for p in paths], now, run_id)
        return run_id

    # ---- the loop -------------------------------------------------------------------
    async def run(self) -> None:
        """Watch and start runs until cancelled: a look at every directory on a change
        event, when a batch falls due, when the file-arrival jobs change (checked every
        ``poll_seconds``, cheaply) and every ``rescan_seconds`` in any case."""
        self._woken = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            while True:
                next_at, looked_at = None, loop.time()
                try:
                    next_at = await asyncio.to_thread(self.tick)
                except Exception:  # a database hiccup must not stop the watcher
                    logger.exception("file arrival: looking for new files failed; trying again")
                await self._follow(self.directories)
                await self._until_next_look(next_at, looked_at)
        finally:
            await self._follow(set())

    async def _until_next_look(self, next_at: datetime | None, looked_at: float) -> None:
        assert self._woken is not None
        loop = asyncio.get_running_loop()
        stamp = await asyncio.to_thread(self._jobs_stamp)
        while True:
            timeout = min(self.poll_seconds, looked_at + self.rescan_seconds - loop.time())
            if next_at is not None:
                timeout = min(timeout, (next_at - self.clock()).total_seconds() + 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), max(timeout, 0.0))
            if self._woken.is_set() or loop.time() - looked_at >= self.rescan_seconds or (
                next_at is not None and self.clock() >= next_at
            ):
                self._woken.clear()
                return
            try:
                if await asyncio.to_thread(self._jobs_stamp) != stamp:
                    return
            except Exception:
                logger.exception("file arrival: looking for changed jobs failed")

    def _jobs_stamp(self) -> tuple[Any, ...]:
        with self.sessions() as session:
            return files.file_arrival_jobs_stamp(session)

    async def _follow(self, directories: set[str]) -> None:
        """Have a change watcher on each of ``directories`` (that exists), and no other."""
        for directory, (task, stop) in list(self._watchers.items()):
            if directory not in directories or task.done():
                del self._watchers[directory]
                stop.set()  # ends watchfiles' thread within a step, then the task
                await asyncio.gather(task, return_exceptions=True)
        for directory in directories - self._watchers.keys():
            if os.path.isdir(directory):
                stop = threading.Event()
                self._watchers[directory] = (
                    asyncio.create_task(self._watch_changes(directory, stop)), stop)

    async def _watch_changes(self, directory: str, stop: threading.Event) -> None:
        try:
            async for _changes in awatch(directory, watch_filter=None, debounce=100, step=50,
                                         stop_event=stop, ignore_permission_denied=True):
                if self._woken is not None:
                    self._woken.set()
        except Exception as exc:  # the rescans still see every file
            logger.warning("file arrival: cannot watch %s for changes (%s); relying on "
                           "rescans every %s s", directory, exc, self.rescan_seconds)


def _file_arrival_url(spec_json: str) -> str | None:
    trigger = json.loads(spec_json).get("trigger") or {}
    file_arrival = trigger.get("file_arrival") if isinstance(trigger, dict) else None
    url = file_arrival.get("url") if isinstance(file_arrival, dict) else None
    return url if isinstance(url, str) else None
