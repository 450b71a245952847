"""Copy a task process's stdout and stderr into its attempt log as they arrive, each
line stamped with its time and stream (``podium.log_lines``)."""

from __future__ import annotations

import asyncio
import functools
import subprocess
from pathlib import Path
from typing import BinaryIO

from podium.log_lines import Stamper

# After the process exits, how long its pipes may stay open (a grandchild holding them)
# before the log is closed anyway.
DRAIN_SECONDS = 5.0


class _Pipe(asyncio.Protocol):
    def __init__(self, log: BinaryIO, stream: str, closed: asyncio.Future[None]) -> None:
        self.log = log
        self.stamper = Stamper(stream)
        self.closed = closed

    def data_received(self, data: bytes) -> None:
        self.log.write(self.stamper.feed(data))
        self.log.flush()  # so `podium runs logs --follow` sees it now

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class LogPump:
    """The two pipes of one process, feeding one log file."""

    def __init__(self, log: BinaryIO, closed: list[asyncio.Future[None]]) -> None:
        self.log = log
        self.closed = closed

    @classmethod
    async def attach(cls, proc: subprocess.Popen[bytes], log: BinaryIO) -> LogPump:
        """Start copying ``proc``'s stdout and stderr (opened as pipes) into ``log``."""
        loop = asyncio.get_running_loop()
        closed: list[asyncio.Future[None]] = []
        for pipe, stream in ((proc.stdout, "out"), (proc.stderr, "err")):
            done: asyncio.Future[None] = loop.create_future()
            closed.append(done)
            await loop.connect_read_pipe(functools.partial(_Pipe, log, stream, done), pipe)
        return cls(log, closed)

    async def close(self) -> None:
        """Wait (a bounded time) for the pipes to drain, then close the log."""
        try:
            await asyncio.wait_for(asyncio.gather(*self.closed), DRAIN_SECONDS)
        except TimeoutError:
            pass
        finally:
            self.log.close()


def append_line(log_path: Path, text: str) -> None:
    """Write one stamped line of Podium's own into an attempt log (e.g. a start error)."""
    with open(log_path, "ab") as log:
        log.write(Stamper("err").feed(f"{text}\n".encode()))
