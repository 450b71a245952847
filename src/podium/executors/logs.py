"""Copy a task process's stdout and stderr into its attempt log as they arrive, each
line stamped with its time and stream (``podium.log_lines``), with the secret values the
task was given replaced by ``[REDACTED]``."""

from __future__ import annotations

import asyncio
import functools
import subprocess
from pathlib import Path
from typing import BinaryIO

from podium.core.values import REDACTED
from podium.log_lines import Stamper

# After the process exits, how long its pipes may stay open (a grandchild holding them)
# before the log is closed anyway.
DRAIN_SECONDS = 5.0
# A masked stream holds back an unfinished line up to this size; past it, all but the
# tail that could still be the start of a secret is written.
MAX_HELD_BYTES = 64 * 1024
_MASK = REDACTED.encode()


class LineMasker:
    """Masks secrets in one stream's bytes, arriving in chunks of any size.

    A secret may be split across two reads, so bytes are held back until their line is
    complete (or the line grows past MAX_HELD_BYTES) and masked then.

    Args:
        terms: the texts to mask (``core.values.secret_terms``: longest first).
    """

    def __init__(self, terms: tuple[str, ...]) -> None:
        self.terms = [t.encode() for t in terms if t]
        self.tail = max((len(t) for t in self.terms), default=1) - 1
        self.held = b""

    def feed(self, data: bytes) -> bytes:
        """The bytes now safe to write: whole lines, masked."""
        if not self.terms:
            return data
        held = self.held + data
        end = max(held.rfind(b"\n"), held.rfind(b"\r")) + 1
        if end == 0 and len(held) <= MAX_HELD_BYTES:
            self.held = held
            return b""
        if end == 0:
            # A very long line: mask what is there, and keep back only a tail too short
            # to hold a whole secret, which may be the start of one.
            masked = self.mask(held)
            cut = max(0, len(masked) - self.tail)
            self.held = masked[cut:]
            return masked[:cut]
        self.held = held[end:]
        return self.mask(held[:end])

    def flush(self) -> bytes:
        """The rest of an unfinished last line, masked."""
        held, self.held = self.held, b""
        return self.mask(held)

    def mask(self, data: bytes) -> bytes:
        for term in self.terms:
            if term in data:
                data = data.replace(term, _MASK)
        return data


class _Pipe(asyncio.Protocol):
    def __init__(
        self, log: BinaryIO, stream: str, closed: asyncio.Future[None], redact: tuple[str, ...]
    ) -> None:
        self.log = log
        self.stamper = Stamper(stream)
        self.masker = LineMasker(redact) if redact else None
        self.closed = closed

    def data_received(self, data: bytes) -> None:
        if self.masker is not None:
            data = self.masker.feed(data)
            if not data:
                return
        self.log.write(self.stamper.feed(data))
        self.log.flush()  # so `podium runs logs --follow` sees it now

    def flush(self) -> None:
        """Write what the masker still holds (the stream ended or is abandoned)."""
        if self.masker is not None and not self.log.closed:
            rest = self.masker.flush()
            if rest:
                self.log.write(self.stamper.feed(rest))
                self.log.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.flush()
        if not self.closed.done():
            self.closed.set_result(None)


class LogPump:
    """The two pipes of one process, feeding one log file."""

    def __init__(
        self, log: BinaryIO, closed: list[asyncio.Future[None]], pipes: list[_Pipe] | None = None
    ) -> None:
        self.log = log
        self.closed = closed
        self.pipes = pipes or []

    @classmethod
    async def attach(
        cls, proc: subprocess.Popen[bytes], log: BinaryIO, redact: tuple[str, ...] = ()
    ) -> LogPump:
        """Start copying ``proc``'s stdout and stderr (opened as pipes) into ``log``,
        masking each of ``redact`` as ``[REDACTED]``."""
        loop = asyncio.get_running_loop()
        closed: list[asyncio.Future[None]] = []
        pipes: list[_Pipe] = []
        for pipe, stream in ((proc.stdout, "out"), (proc.stderr, "err")):
            done: asyncio.Future[None] = loop.create_future()
            closed.append(done)
            _, protocol = await loop.connect_read_pipe(
                functools.partial(_Pipe, log, stream, done, redact), pipe
            )
            pipes.append(protocol)
        return cls(log, closed, pipes)

    async def close(self) -> None:
        """Wait (a bounded time) for the pipes to drain, then close the log."""
        try:
            await asyncio.wait_for(asyncio.gather(*self.closed), DRAIN_SECONDS)
        except TimeoutError:
            pass
        finally:
            for pipe in self.pipes:
                pipe.flush()
            self.log.close()


def append_line(log_path: Path, text: str, redact: tuple[str, ...] = ()) -> None:
    """Write one stamped line of Podium's own into an attempt log (e.g. a start error),
    masking each of ``redact``."""
    data = f"{text}\n".encode()
    if redact:
        data = LineMasker(redact).mask(data)
    with open(log_path, "ab") as log:
        log.write(Stamper("err").feed(data))
