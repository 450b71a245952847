"""The engine: drives runs recorded in the store to their end, surviving crashes."""

from __future__ import annotations

from podium.engine import paths
from podium.engine.loop import STALE_AFTER, Engine, RunEvent, engine_alive, utcnow

__all__ = ["STALE_AFTER", "Engine", "RunEvent", "engine_alive", "paths", "utcnow"]
