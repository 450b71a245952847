"""The Dask worker's side of the Dask executor: one attempt, run by a LocalExecutor of
its own in a scratch folder, its log shipped back as it grows. No dask import here:
``podium.executors.dask`` hands in the worker as a ``WorkerLink``.

The attempt starts only once the engine answers its hello: Dask re-runs a task whose
worker died, and only the engine knows whether this is that second run (which must not
start: the engine records the first as lost and retries it by the task's policy).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from podium.core.states import ResultState
from podium.executors.base import AttemptRequest, Outcome
from podium.executors.local import LocalExecutor
from podium.task_values import VALUES_IN_ENV

# How often the log is shipped (lines are batched over this long) and a cancel looked for.
SHIP_SECONDS = 0.2
# The scheduler keeps a copy of the last 1,000 events of each engine (Dask's
# low-level-log-length): small batches bound what a chatty task makes it hold.
MAX_BATCH_BYTES = 64 * 1024


class WorkerLink(Protocol):
    """What the attempt needs of the Dask worker it runs on."""

    address: str

    def send(self, message: dict[str, Any]) -> None:
        """Send an event to the engine (in order with the attempt's other events)."""

    def released(self) -> bool:
        """The engine no longer wants the attempt (canceled, or its client is gone)."""


@dataclass
class _Attempt:
    """An attempt on this worker, as the engine's answers and stop requests reach it."""

    attempt_id: int
    answered: threading.Event = field(default_factory=threading.Event)
    go: bool = False
    reason: ResultState | None = None  # stop it: CANCELED or TIMEDOUT (read by _watch)


_ATTEMPTS: dict[str, _Attempt] = {}  # Dask key -> attempt running on this worker


def answer(key: str, go: bool) -> None:
    """From the engine (``Client.run``): start the attempt, or drop it unrun."""
    attempt = _ATTEMPTS.get(key)
    if attempt is not None:
        attempt.go = go
        attempt.answered.set()


def stop(key: str, reason: str) -> None:
    """From the engine (``Client.run``): stop the attempt; it reports ``reason``."""
    attempt = _ATTEMPTS.get(key)
    if attempt is None:
        return
    attempt.reason = ResultState(reason)
    attempt.answered.set()  # not started yet: it never will


def run_attempt(link: WorkerLink, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run the attempt of ``payload`` (see ``DaskExecutor``) on this worker.

    Returns:
        ``{"outcome": Outcome, "batches": n}`` (n log batches were sent before), or
        ``{"ran": False}`` when the engine said not to run it.
    """
    request: AttemptRequest = payload["request"]
    attempt = _ATTEMPTS[key] = _Attempt(request.attempt_id)
    try:
        link.send({"kind": "hello", "attempt": request.attempt_id, "key": key,
                   "worker": link.address})
        while not attempt.answered.wait(SHIP_SECONDS):
            if link.released():
                return {"ran": False}
        if not attempt.go or attempt.reason is not None:
            return {"ran": False}
        with tempfile.TemporaryDirectory(prefix="podium-attempt-") as scratch:
            local = _local_request(payload, Path(scratch))
            shipper = _LogShipper(link, request.attempt_id, local.log_path)
            outcome = asyncio.run(_run(attempt, local, shipper, link, payload["grace"]))
        return {"outcome": outcome, "batches": shipper.sent}
    finally:
        del _ATTEMPTS[key]


def _local_request(payload: dict[str, Any], scratch: Path) -> AttemptRequest:
    """The request with its files in ``scratch`` (nothing of the engine's home is needed
    for logs, values or output) and the engine's Python replaced by this worker's."""
    request: AttemptRequest = payload["request"]
    env = {**payload["environment"], **request.env}
    if payload.get("values_in") is not None:
        values_in = scratch / "values-in.json"
        values_in.write_text(json.dumps(payload["values_in"]), encoding="utf-8")
        env[VALUES_IN_ENV] = str(values_in)
    python = payload["python"]
    argv = [sys.executable if arg == python else arg for arg in request.process.argv]
    return replace(request, log_path=scratch / "attempt.log", work_prefix=scratch / "attempt",
                   env=env, process=replace(request.process, argv=argv))


async def _run(attempt: _Attempt, request: AttemptRequest, shipper: _LogShipper,
               link: WorkerLink, grace: float) -> Outcome:
    started: list[int] = []

    def guard(pid: int) -> None:
        started.append(pid)
        _GUARD.tell(f"+{pid}")

    executor = LocalExecutor(grace, warm_python=False, on_started=guard)
    watching = asyncio.ensure_future(_watch(attempt, executor, shipper, link))
    try:
        return await executor.run(request)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        shipper.ship(final=True)
        await executor.close()
        for pid in started:
            _GUARD.tell(f"-{pid}")


async def _watch(attempt: _Attempt, executor: LocalExecutor, shipper: _LogShipper,
                 link: WorkerLink) -> None:
    """Ship the log every SHIP_SECONDS; stop the process when the engine asks, or lets
    go of it (its Dask future was cancelled, its client died). Done here, in the loop
    that owns the process, since a stop may come before the process has started."""
    stopped = False
    while True:
        await asyncio.sleep(SHIP_SECONDS)
        shipper.ship()
        if attempt.reason is None and link.released():
            attempt.reason = ResultState.CANCELED
        if attempt.reason is not None and not stopped and executor.running(attempt.attempt_id):
            executor.terminate(attempt.attempt_id, attempt.reason)
            stopped = True


class _LogShipper:
    """Sends what was appended to the local log since the last time, as one event."""

    def __init__(self, link: WorkerLink, attempt_id: int, path: Path) -> None:
        self.link, self.attempt_id, self.path = link, attempt_id, path
        self.position = 0
        self.sent = 0

    def ship(self, final: bool = False) -> None:
        try:
            with open(self.path, "rb") as log:
                log.seek(self.position)
                while data := log.read(MAX_BATCH_BYTES):
                    self.link.send({"kind": "log", "attempt": self.attempt_id,
                                    "seq": self.sent, "data": data})
                    self.position += len(data)
                    self.sent += 1
                    if not final:
                        break
        except FileNotFoundError:
            pass


# The guard: one small process per worker, told the process group of each attempt as it
# starts and ends. Its input is a pipe from the worker, which closes however the worker
# ends (SIGKILL, out of memory): it then kills the groups still running, so that a lost
# attempt's process cannot go on beside the retry the engine starts elsewhere.
_GUARD_CODE = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    (groups.add if line[0] == "+" else groups.discard)(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class _Guard:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None

    def tell(self, line: str) -> None:
        with self.lock:
            for _ in range(2):  # a guard that died is replaced once
                if self.proc is None or self.proc.poll() is not None:
                    self.proc = subprocess.Popen(
                        [sys.executable, "-I", "-S", "-c", _GUARD_CODE],
                        stdin=subprocess.PIPE, start_new_session=True,
                    )
                assert self.proc.stdin is not None
                try:
                    self.proc.stdin.write(f"{line}\n".encode())
                    self.proc.stdin.flush()
                    return
                except OSError:
                    self.proc = None


_GUARD = _Guard()
