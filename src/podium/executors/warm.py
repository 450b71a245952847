"""The executor's side of the function zygote (``podium.function_zygote``): start a
python_function_task attempt by forking a warm interpreter instead of a fresh one."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any


class WarmPythonLost(Exception):
    """The zygote stopped; the attempts it had started can no longer be waited for."""


class WarmPython:
    """A lazily started zygote and the futures of the children it reports on."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starts: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._next_id = 0

    async def start(self, call: str, cwd: Path, env: dict[str, str], log: Path) -> int:
        """Fork a child that runs ``call`` (function_worker's JSON); returns its pid.

        Raises:
            WarmPythonLost: the zygote is gone (a new one starts on the next call).
            OSError: the child could not be started (e.g. the log cannot be opened).
        """
        proc = await self._ensure()
        assert proc.stdin is not None
        self._next_id += 1
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._starts[self._next_id] = started
        request = {"id": self._next_id, "call": call, "cwd": str(cwd), "env": env,
                   "log": str(log)}
        proc.stdin.write((json.dumps(request) + "\n").encode())
        return await started

    async def wait(self, pid: int) -> int:
        """The exit code of child ``pid`` (negative: killed by that signal)."""
        try:
            return await self._exits[pid]
        finally:
            del self._exits[pid]

    async def close(self) -> None:
        """Stop the zygote (children already started run on to their end)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            await proc.wait()
        if self._reader is not None:
            await self._reader

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._proc is not None:
            return self._proc
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "podium.function_zygote",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C meant for the engine must not reach it
        )
        self._reader = asyncio.ensure_future(self._read(self._proc))
        return self._proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        loop = asyncio.get_running_loop()
        while line := await proc.stdout.readline():
            message: dict[str, Any] = json.loads(line)
            if "id" in message:
                started = self._starts.pop(message["id"])
                if "error" in message:
                    started.set_exception(OSError(message["error"]))
                else:
                    # Registered before anyone awaits, so an early exit is never missed.
                    self._exits[message["pid"]] = loop.create_future()
                    started.set_result(message["pid"])
            elif message["pid"] in self._exits:
                self._exits[message["pid"]].set_result(message["exit"])
        # A new zygote serves the next start: this one's answers can no longer arrive
        # (its exit may not be reaped yet, so its returncode cannot tell).
        if self._proc is proc:
            self._proc = None
        lost = WarmPythonLost("the warm Python worker stopped")
        for future in [*self._starts.values(), *self._exits.values()]:
            if not future.done():
                future.set_exception(lost)
        self._starts.clear()
