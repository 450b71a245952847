"""``podium server``: the API and an engine in one process, on one PODIUM_HOME."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI

from podium.api.app import create_app
from podium.engine import Dispatcher
from podium.services import open_podium
from podium.settings import Settings


def serve(settings: Settings, host: str, port: int, public_url: str | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly: the engine's transitions are
    committed, and runs it was driving resume on the next start."""
    podium = open_podium(settings)
    dispatcher = Dispatcher(podium.sessions, settings)
    public = public_url or f"http://{host}:{port}"

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        engine_task = asyncio.create_task(dispatcher.run())
        logging.getLogger("podium").info("Podium serving %s on %s", settings.home, public)
        try:
            yield
        finally:
            engine_task.cancel()
            await asyncio.gather(engine_task, return_exceptions=True)
            await dispatcher.stop()
            podium.close()

    app = create_app(podium, dispatcher.wake, public, lifespan=lifespan)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
