"""One watch over every run an engine drives: a single query per poll finds the runs
someone asked to cancel, and a single update refreshes their heartbeats. (A poll per
run, twice a second each, would keep SQLite busy with a few hundred runs at once.)

The heartbeat is the engine's lease on a run: only runs it still holds are refreshed,
and a run another engine took over (this one was stalled past ``STALE_AFTER``: paused,
cut off from the database) is reported, so that its driver stops at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from podium.engine.liveness import STALE_AFTER, this_engine_id
from podium.store import runs as q

logger = logging.getLogger(__name__)

# Well inside STALE_AFTER, so a live engine's runs never look abandoned.
HEARTBEAT_SECONDS = STALE_AFTER.total_seconds() / 5


class RunWatch:
    """Calls a run's ``on_cancel`` once someone asks to cancel it, keeps the heartbeat
    of every watched run fresh, and calls its ``on_lost`` once another engine holds it;
    runs only while some run is watched."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime],
                 poll_seconds: float) -> None:
        self.sessions = sessions
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.engine_id = this_engine_id()
        self._watched: dict[int, Callable[[], None] | None] = {}  # None: told already
        self._on_lost: dict[int, Callable[[], None]] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, run_id: int, on_cancel: Callable[[], None],
            on_lost: Callable[[], None] | None = None) -> None:
        self._watched[run_id] = on_cancel
        if on_lost is not None:
            self._on_lost[run_id] = on_lost
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._watch())

    def discard(self, run_id: int) -> None:
        self._watched.pop(run_id, None)
        self._on_lost.pop(run_id, None)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        last_beat = loop.time()
        while self._watched:
            await asyncio.sleep(self.poll_seconds)
            ids = list(self._watched)
            if not ids:
                return
            beat = loop.time() - last_beat >= HEARTBEAT_SECONDS
            try:
                with self.sessions.begin() as session:
                    canceled = q.cancel_requested_among(session, ids)
                    lost = q.beat(session, ids, self.engine_id, self.clock()) if beat else []
            except Exception:  # a database hiccup: the next poll tries again
                logger.exception("polling the runs being driven failed; trying again")
                continue
            if beat:
                last_beat = loop.time()
            for run_id in lost:
                on_lost = self._on_lost.pop(run_id, None)
                if on_lost is not None:
                    on_lost()
            for run_id in canceled:
                on_cancel = self._watched.get(run_id)
                if on_cancel is not None:
                    self._watched[run_id] = None  # still watched: its heartbeat goes on
                    on_cancel()
