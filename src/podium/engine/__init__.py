"""The engine: drives runs recorded in the store to their end, surviving crashes."""

from __future__ import annotations

from podium.engine import paths
from podium.engine.liveness import STALE_AFTER, engine_alive, this_engine_id, utcnow
from podium.engine.loop import Engine, RunEvent
from podium.engine.queueing import cancel_queued
from podium.engine.serve import Dispatcher
from podium.engine.starts import start_run

__all__ = ["STALE_AFTER", "Dispatcher", "Engine", "RunEvent", "cancel_queued", "engine_alive",
           "paths", "start_run", "this_engine_id", "utcnow"]
