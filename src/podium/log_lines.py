"""The attempt log format: every line of a task's stdout and stderr, stamped with the
UTC time it arrived and the stream it came from.

    2026-11-26T21:50:01.123Z out | loading 20000 rows
    2026-11-26T21:50:01.340Z err | warning: 3 rows dropped

Standard library only: the function zygote imports it.
"""

from __future__ import annotations

import io
import os
import re
import time

_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?:out|err) \| ")


def prefix(stream: str) -> bytes:
    """The stamp that starts a line of ``stream`` ("out" or "err") arriving now."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1000):03d}Z {stream} | ".encode()


def strip(line: str) -> str:
    """``line`` without its stamp (unchanged if it has none)."""
    return _PREFIX.sub("", line, count=1)


class Stamper:
    """Stamps the lines of one stream as its bytes arrive, in chunks of any size.

    A partial line is passed on at once (so a follower sees it live); its rest, when it
    comes, is not stamped again.
    """

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.at_line_start = True

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for piece in data.splitlines(keepends=True):
            if self.at_line_start:
                out.append(prefix(self.stream))
            out.append(piece)
            self.at_line_start = piece.endswith((b"\n", b"\r"))
        return b"".join(out)


class StampedWriter(io.TextIOBase):
    """A text stream over file descriptor ``fd`` that stamps each line (for Python code
    whose sys.stdout / sys.stderr point at a log file)."""

    def __init__(self, fd: int, stream: str) -> None:
        super().__init__()
        self.fd = fd
        self.stamper = Stamper(stream)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = self.stamper.feed(text.encode("utf-8", "backslashreplace"))
        while data:
            data = data[os.write(self.fd, data):]
        return len(text)

    def fileno(self) -> int:
        return self.fd
