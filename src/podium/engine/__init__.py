"""The engine: drives runs recorded in the store to their end, surviving crashes."""

from __future__ import annotations

from podium.engine import paths
from podium.engine.liveness import STALE_AFTER, engine_alive, utcnow
from podium.engine.loop import Engine, RunEvent

__all__ = ["STALE_AFTER", "Engine", "RunEvent", "engine_alive", "paths", "utcnow"]
