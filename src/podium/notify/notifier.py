"""The notifier: turns committed run events into notifications, records each once, and
delivers them with retries, never holding up a run.

``on_event`` runs on the engine's loop thread and only enqueues. ``run`` (a loop the
server runs beside its engine) records what the queued events cause (decided by
``podium.core.notify``), checks the health rules of running runs every
``health_seconds``, and delivers PENDING notifications: mail through the stdlib smtplib
in a thread, webhooks with httpx2. A failed delivery is retried after 1, 2, 4, ... times
``backoff_seconds`` until ``max_attempts``; then it is FAILED with its error, logged and
shown in ``runs/get``. PENDING rows left by a crash are delivered after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from podium.core import TERMINAL
from podium.core.notify import (
    INSIGHT_EVENTS,
    duration_warnings,
    has_health_rules,
    insight_notices,
    notices_for_change,
    wanted_insight_events,
)
from podium.engine import RunEvent, utcnow
from podium.insights import run_alerts, shape_of
from podium.log_lines import strip
from podium.notify.config import (
    Destination,
    SmtpConfig,
    destinations,
    find_destination,
    smtp_config,
)
from podium.notify.content import (
    LOG_TAIL_LINES,
    Message,
    RunFacts,
    TaskFacts,
    render,
    run_page_url,
)
from podium.notify.send import Undeliverable, post_webhook, send_mail
from podium.settings import Settings
from podium.spec.models import JobSpec
from podium.store import RunRow
from podium.store import notifications as nq
from podium.store import runs as q
from podium.store.history import job_history

if TYPE_CHECKING:
    import httpx2

logger = logging.getLogger(__name__)
ALERT_HISTORY_RUNS = 30  # the runs an insight alert compares a run with


@dataclass(frozen=True, slots=True)
class _Pending:
    id: int
    run_id: int
    task_key: str
    event: str
    channel: str
    destination: str
    attempts: int


class Notifier:
    """Sends the email and webhook notifications of runs.

    Args:
        sessions: session factory of the metadata database.
        settings: ``[smtp]`` and ``[destinations]`` are read from them (once).
        public_url: the server's address, for links to run pages (None: no server).
        clock: the current UTC time (health rules are checked against it).
        max_attempts: delivery attempts before a notification is FAILED.
        backoff_seconds: the wait after the first failed attempt; it doubles after each.
        health_seconds: how often running runs are checked against health rules.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        public_url: str | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 4,
        backoff_seconds: float = 2.0,
        health_seconds: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.public_url = public_url
        self.clock = clock
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.health_seconds = health_seconds
        self.smtp: SmtpConfig = smtp_config(settings)
        self.destinations: dict[str, Destination] = destinations(settings)
        self.host = socket.gethostname()
        self._events: queue.SimpleQueue[RunEvent] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None
        self._due: dict[int, float] = {}  # notification id -> loop time of its next try
        self._delivering: dict[int, asyncio.Task[None]] = {}
        self._warned: set[tuple[int, str, str]] = set()  # (run, task_key, destination)
        self._last_health = float("-inf")
        self._recording = False

    # ---- the engine's side -----------------------------------------------------------
    def on_event(self, event: RunEvent) -> None:
        """Take a committed event; never blocks (the engine's loop calls it)."""
        self._events.put(event)
        self.wake()

    def wake(self) -> None:
        """Look at events and pending notifications now; callable from any thread."""
        if self._loop is not None and self._woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._woken.set)

    def settled(self) -> bool:
        """Whether every event taken so far is recorded and every notification recorded
        is delivered or FAILED (for tests and a clean stop)."""
        if not self._events.empty() or self._recording or self._delivering:
            return False
        with self.sessions() as session:
            return not nq.unfinished(session)

    # ---- the loop --------------------------------------------------------------------
    async def run(self) -> None:
        """Record, check and deliver until cancelled."""
        import httpx2

        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        async with httpx2.AsyncClient(timeout=30, follow_redirects=False) as client:
            try:
                while True:
                    try:
                        await self.step(client)
                    except Exception:  # a database hiccup must not stop notifications
                        logger.exception("the notifier failed a step; trying again")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._woken.wait(), self._sleep())
                    self._woken.clear()
            finally:
                for task in self._delivering.values():
                    task.cancel()
                await asyncio.gather(*self._delivering.values(), return_exceptions=True)

    async def close(self) -> None:
        """Record the events still queued (their notifications are then sent by the next
        notifier to run); call once the engine has stopped."""
        await asyncio.to_thread(self._record_events, self._drain())

    def _drain(self) -> list[RunEvent]:
        events: list[RunEvent] = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    async def step(self, client: httpx2.AsyncClient) -> None:
        """Record queued events, check health rules when due, start due deliveries."""
        events = self._drain()
        if events:
            self._recording = True
            try:
                await asyncio.to_thread(self._record_events, events)
            finally:
                self._recording = False
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_health >= self.health_seconds:
            self._last_health = loop.time()
            await asyncio.to_thread(self._check_health)
        rows = await asyncio.to_thread(self._pending)
        now = loop.time()
        for row in rows:
            if row.id in self._delivering or self._due.get(row.id, 0.0) > now:
                continue
            task = asyncio.create_task(self._deliver(client, row))
            self._delivering[row.id] = task
            task.add_done_callback(functools.partial(self._delivered, row.id))

    def _delivered(self, notification_id: int, _task: asyncio.Task[None]) -> None:
        self._delivering.pop(notification_id, None)

    def _sleep(self) -> float:
        """How long to wait when nothing wakes the loop: until the next retry or health
        check."""
        assert self._loop is not None
        now = self._loop.time()
        soonest = min((t for t in self._due.values() if t > now), default=now + 60)
        return max(0.01, min(self.health_seconds, soonest - now))

    # ---- recording (in a thread) -----------------------------------------------------
    def _record_events(self, events: list[RunEvent]) -> None:
        if not events:
            return
        now = self.clock()
        with self.sessions.begin() as session:
            runs: dict[int, tuple[JobSpec, int] | None] = {}
            items: list[nq.NewNotification] = []
            for event in events:
                if event.run_id not in runs:
                    runs[event.run_id] = self._spec_of(session, event.run_id)
                found = runs[event.run_id]
                if found is None:
                    continue
                spec, repair_count = found
                notices = notices_for_change(spec, event.task_key, event.life_cycle_state,
                                             event.result_state)
                if event.task_key is None and event.life_cycle_state in TERMINAL:
                    wanted = wanted_insight_events(spec)
                    if wanted:
                        alerts = self._alerts(session, event.run_id, spec)
                        notices += insight_notices(spec, [e for e in wanted if alerts[e]])
                items += [
                    nq.NewNotification(event.run_id, n.task_key, n.event, n.channel,
                                       n.destination, repair_count)
                    for n in notices
                ]
            nq.record(session, items, now)

    def _alerts(self, session: Session, run_id: int, spec: JobSpec) -> dict[str, list[str]]:
        """The evidence of the insight alerts of the ended run ``run_id`` (the same at
        recording and at delivery: only the run and those before it count)."""
        run = session.get(RunRow, run_id)
        if run is None:
            return {e: [] for e in INSIGHT_EVENTS}
        history = job_history(session, run.job_id, ALERT_HISTORY_RUNS, up_to_run_id=run_id)
        return run_alerts(shape_of(spec), history, run_id, self.clock())

    @staticmethod
    def _spec_of(session: Session, run_id: int) -> tuple[JobSpec, int] | None:
        """The run's spec and repair count; None for a for_each iteration: its for_each
        task notifies once for all of them (a run_job_task's run notifies as its job
        says)."""
        row = session.get(RunRow, run_id)
        if row is None or row.iteration is not None:
            return None
        return _parse(row.spec_json), row.repair_count

    def _check_health(self) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            runs = [(r, _parse(r.spec_json)) for r in nq.running_runs(session)]
            runs = [(r, s) for r, s in runs if has_health_rules(s)]
            running = {r.run_id for r, _ in runs}
            self._warned = {w for w in self._warned if w[0] in running}
            if not runs:
                return
            tasks = nq.running_tasks(session, [r.run_id for r, _ in runs])
            items = []
            for run, spec in runs:
                for notice in duration_warnings(spec, run.started_at,
                                                tasks.get(run.run_id, {}), now):
                    items.append(nq.NewNotification(run.run_id, notice.task_key, notice.event,
                                                    notice.channel, notice.destination,
                                                    run.repair_count))
            items = [n for n in items if (n.run_id, n.task_key, n.destination) not in
                     self._warned]
            nq.record(session, items, now)
            self._warned.update((n.run_id, n.task_key, n.destination) for n in items)

    def _pending(self) -> list[_Pending]:
        with self.sessions() as session:
            return [_Pending(r.id, r.run_id, r.task_key, r.event, r.channel, r.destination,
                             r.attempts) for r in nq.pending(session, self.clock())]

    # ---- delivery --------------------------------------------------------------------
    async def _deliver(self, client: httpx2.AsyncClient, row: _Pending) -> None:
        attempts = row.attempts + 1
        if not await asyncio.to_thread(self._claim, row):
            return  # sent, or being sent, already
        try:
            message = await asyncio.to_thread(self._message, row)
            if row.channel == "email":
                await asyncio.to_thread(send_mail, self.smtp, row.destination, message)
            else:
                destination = find_destination(self.destinations, row.destination)
                if destination is None:
                    raise Undeliverable(
                        f"no webhook destination {row.destination!r}; configure "
                        f"[destinations.{row.destination}] url in podium.toml or "
                        f"PODIUM_DESTINATIONS__{row.destination.upper()}=<url> "
                        "(`podium destinations` lists them)"
                    )
                await post_webhook(client, destination, message)
        except asyncio.CancelledError:
            # The server is stopping: leave it for the next one to send, at once (rather
            # than after the lease of a notifier that died).
            with contextlib.suppress(Exception):
                self._mark(row.id, nq.PENDING, row.attempts, "", None)
            raise
        except Exception as exc:
            error = _describe(exc)
            final = isinstance(exc, Undeliverable) or attempts >= self.max_attempts
            state = nq.FAILED if final else nq.PENDING
            await asyncio.to_thread(self._mark, row.id, state, attempts, error, None)
            if final:
                self._due.pop(row.id, None)
                logger.warning("notification %s (%s of run %s to %s %s) failed after %s "
                               "attempt(s): %s", row.id, row.event, row.run_id, row.channel,
                               row.destination, attempts, error)
            else:
                delay = self.backoff_seconds * 2 ** (attempts - 1)
                assert self._loop is not None
                self._due[row.id] = self._loop.time() + delay
                logger.info("notification %s to %s failed (attempt %s), retrying in %.1f s: "
                            "%s", row.id, row.destination, attempts, delay, error)
            return
        self._due.pop(row.id, None)
        await asyncio.to_thread(self._mark, row.id, nq.SENT, attempts, "", self.clock())

    def _claim(self, row: _Pending) -> bool:
        with self.sessions.begin() as session:
            return nq.claim(session, row.id, row.attempts, self.clock())

    def _mark(self, notification_id: int, state: str, attempts: int, error: str,
              sent_at: datetime | None) -> None:
        with self.sessions.begin() as session:
            nq.mark(session, notification_id, state=state, attempts=attempts, error=error,
                    sent_at=sent_at)

    def _message(self, row: _Pending) -> Message:
        now = self.clock()
        with self.sessions() as session:
            facts = self._facts(session, row.run_id)
            details = (self._alerts(session, row.run_id, _parse(q.get_run(
                session, row.run_id).spec_json))[row.event]
                if row.event in INSIGHT_EVENTS else [])
        return render(facts, row.task_key, row.event, run_page_url(self.public_url, row.run_id),
                      now, row.id, details)

    def _facts(self, session: Session, run_id: int) -> RunFacts:
        run = q.get_run(session, run_id)
        spec = _parse(run.spec_json)
        records = q.get_task_runs(session, run_id)
        attempts = q.get_attempts(session, run_id)
        tasks = []
        for key in (t.task_key for t in spec.tasks):
            record = records.get(key)
            if record is None:
                continue
            state = record.state
            mine = [a for a in attempts if a.task_key == key]
            bad = [a for a in mine if a.result_state in _FAILED
                   or a.life_cycle_state == "INTERNAL_ERROR"]
            worst = bad[-1] if bad else None
            tasks.append(TaskFacts(
                task_key=key,
                life_cycle_state=state.life_cycle_state.value,
                result_state=state.result_state.value if state.result_state else None,
                message=state.message,
                attempts=len(mine),
                failed_attempt=worst.attempt_number if worst else None,
                failed_result=(worst.result_state or worst.life_cycle_state) if worst else None,
                failed_message=worst.state_message if worst else "",
                log_path=worst.log_path if worst else "",
                log_tail=_tail(worst.log_path) if worst else [],
            ))
        return RunFacts(
            run_id=run.run_id, job_id=run.job_id, job_name=spec.name, run_name=run.run_name,
            life_cycle_state=run.life_cycle_state, result_state=run.result_state,
            message=run.state_message, started_at=run.started_at, ended_at=run.ended_at,
            trigger=run.trigger, tasks=tasks, host=self.host, home=str(self.settings.home),
        )


_FAILED = ("FAILED", "TIMEDOUT")


@functools.lru_cache(maxsize=256)
def _parse(spec_json: str) -> JobSpec:
    return JobSpec.model_validate_json(spec_json)


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log, without their stamps (secrets were masked when
    the log was written)."""
    try:
        with open(Path(path), "rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - 64 * 1024))
            text = log.read().decode(errors="replace")
    except OSError:
        return []
    return [strip(line) for line in text.splitlines()[-lines:]]


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, Undeliverable) else f"{type(exc).__name__}: {text}"
