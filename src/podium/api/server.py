"""``podium server``: the API and an engine in one process, on one PODIUM_HOME."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType

import uvicorn
from fastapi import FastAPI

from podium import __version__
from podium.api.app import create_app
from podium.engine import Dispatcher, RunEvent
from podium.errors import InvalidArgument
from podium.notify import Notifier
from podium.services import open_podium
from podium.settings import Settings
from podium.triggers import FileArrivals, Scheduler


def serve(
    settings: Settings, host: str, port: int, public_url: str | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then stop cleanly: the engine's transitions are
    committed, and runs it was driving resume on the next start.

    Args:
        announce: told, before serving, what a user needs to know (address, home,
            how to get a token).

    Raises:
        InvalidArgument: ``host``:``port`` cannot be listened on (e.g. the port is in use).
    """
    check_port(host, port)
    podium = open_podium(settings)
    public = public_url or f"http://{f'[{host}]' if ':' in host else host}:{port}"
    notifier = Notifier(podium.sessions, settings, public)
    scheduler = Scheduler(podium.sessions, on_start=lambda _run_id: dispatcher.wake())

    def on_event(event: RunEvent) -> None:
        notifier.on_event(event)
        scheduler.on_event(event)  # a continuous job's next run starts when one ends

    dispatcher = Dispatcher(podium.sessions, settings, on_event=on_event)
    arrivals = FileArrivals(podium.sessions, wake=dispatcher.wake)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        engine_task = asyncio.create_task(dispatcher.run())
        notifier_task = asyncio.create_task(notifier.run())
        arrivals_task = asyncio.create_task(arrivals.run())
        scheduler_task = asyncio.create_task(scheduler.run())
        try:
            yield
        finally:
            arrivals_task.cancel()  # first: no run is started while the engine stops
            scheduler_task.cancel()
            await asyncio.gather(arrivals_task, scheduler_task, return_exceptions=True)
            engine_task.cancel()
            await asyncio.gather(engine_task, return_exceptions=True)
            await dispatcher.stop()
            notifier_task.cancel()  # what it had not sent yet is sent after a restart
            await asyncio.gather(notifier_task, return_exceptions=True)
            await notifier.close()
            podium.close()

    app = create_app(podium, dispatcher.wake, public, lifespan=lifespan)
    if announce is not None:
        announce(
            f"Podium {__version__}: the Jobs API on {public}, home {settings.home}\n"
            f"  relative task paths of jobs made through the API start in "
            f"{settings.workspace}\n"
            "  every call needs a token: `podium token create` prints one; send it as "
            "'Authorization: Bearer TOKEN'. Ctrl-C stops."
        )
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    with _exit_cleanly_on_signals():
        uvicorn.Server(config).run()


def check_port(host: str, port: int) -> None:
    """Fail with a clear message, before anything starts, if ``host``:``port`` cannot be
    listened on (uvicorn would start the engine first and print an errno)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family) as sock:
            # As uvicorn binds: a port left in TIME_WAIT is free, one listened on is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InvalidArgument(
                f"port {port} on {host} is in use; pick another with --port"
            ) from None
        raise InvalidArgument(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host and --port"
        ) from None


@contextlib.contextmanager
def _exit_cleanly_on_signals() -> Iterator[None]:
    """uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the handler it
    found, so that Python's defaults kill the process (exit -15) or raise
    KeyboardInterrupt. The stop was clean: these handlers make it exit 0. (A signal in
    the instant before uvicorn installs its own handlers ends the process at once, with
    nothing yet started.)"""

    def stopped(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
