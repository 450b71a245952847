"""The engine of a long-running server: it takes up every unfinished top-level run of
the store that no live engine drives — runs started through the API, repaired runs,
and runs whose engine died — and drives them side by side.

Several servers may share one database: each looks for the same runs, but taking one
is a compare-and-set on its holder (``liveness``), so exactly one server drives it and
the others leave it alone; a server that dies (even by SIGKILL) leaves its runs to the
others once its heartbeats stop — at once on the same host, where its pid is checked,
else after ``STALE_AFTER`` — and the one that takes a run over records its running
attempts as lost and retries them, keeping what succeeded. Servers on one host should
share one PODIUM_HOME (logs, work folders): a takeover then finds and kills the
processes the dead server left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from podium.core import LifeCycleState as L
from podium.engine import queueing
from podium.engine.liveness import LeaseLost, engine_alive, utcnow
from podium.engine.loop import Engine, RunEvent
from podium.errors import Conflict
from podium.settings import Settings
from podium.store import runs as q

logger = logging.getLogger(__name__)


class Dispatcher:
    """Finds runs to drive when woken (a run was started here) or every ``poll_seconds``
    (one was started elsewhere, or an engine died)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 poll_seconds: float = 1.0,
                 on_event: Callable[[RunEvent], None] | None = None) -> None:
        self.sessions = sessions
        self.engine = Engine(sessions, settings, on_event=on_event)
        self.poll_seconds = poll_seconds
        self.driving: dict[int, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None
        self._stopping = False

    def wake(self) -> None:
        """Look for runs now; callable from any thread."""
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)

    async def run(self) -> None:
        """Take up runs until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        while True:
            try:
                await asyncio.to_thread(self._take_up)
            except Exception:  # a database hiccup must not stop the server's engine
                logger.exception("looking for runs to drive failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.poll_seconds)
            self._woken.clear()

    def _take_up(self) -> None:
        now = utcnow()
        with self.sessions() as session:
            found = [(r.run_id, r.engine_id, r.heartbeat_at)
                     for r in q.runs_to_drive(session) if r.life_cycle_state != L.QUEUED]
            queued_jobs = sorted({r.job_id for r in q.queued_runs(session)})
        assert self._loop is not None
        for run_id, engine_id, heartbeat_at in found:
            if run_id in self.driving or engine_alive(engine_id, heartbeat_at, now, run_id):
                continue
            self._loop.call_soon_threadsafe(self._start, run_id)
        # Queued runs start, oldest first, as their jobs have room (queueing.py).
        for job_id in queued_jobs:
            for run_id in queueing.take_from_queue(self.sessions, job_id, now):
                self._loop.call_soon_threadsafe(self._start, run_id)

    def _start(self, run_id: int) -> None:
        # A look for runs still under way when the server began to stop may hand one in
        # late: leave it for the next server rather than start what nobody will stop.
        if run_id not in self.driving and not self._stopping:
            self.driving[run_id] = asyncio.create_task(self._drive(run_id))

    async def _drive(self, run_id: int) -> None:
        try:
            await self.engine.execute(run_id)
        except LeaseLost as exc:
            logger.warning("stopped driving run %s: %s (this server was stalled for longer "
                           "than a heartbeat lasts)", run_id, exc)
        except Conflict:
            pass  # another engine took it up first
        except Exception:
            logger.exception("the engine failed driving run %s; it is taken up again on the "
                             "next look for runs", run_id)
        finally:
            self.driving.pop(run_id, None)
            if self._woken is not None:  # a place is free: a queued run may start
                self._woken.set()

    async def stop(self) -> None:
        """Stop driving: running attempts are stopped and, as lost attempts, re-run when
        a server starts again; every transition made so far is committed."""
        self._stopping = True
        for task in self.driving.values():
            task.cancel()
        await asyncio.gather(*self.driving.values(), return_exceptions=True)
        await self.engine.close()
