"""Run attempts on a Dask distributed cluster: the only module that imports dask.

Podium's engine drives the DAG and the retries; Dask runs single attempts. Each attempt
is one Dask task (``pure=False``, ``retries=0``; its future is released as soon as its
result is in): Dask recomputes a finished task whose result lived on a dead worker, which
would run a side effect twice. The life of one attempt:

1. ``run`` submits ``_run_on_worker``; a task with a pool needs the worker resource
   ``pool-NAME`` (``dask worker --resources pool-NAME=N`` runs N of them at once).
2. On a worker it sends a hello event; the first hello of an attempt is answered "go"
   (``Client.run`` of ``dask_worker.answer`` on that worker). Another hello means Dask
   re-ran it after its worker died: the attempt is lost and that run is told "no".
3. Its log comes back as events while it runs (``log_event`` / ``subscribe_topic``);
   its result is the ``Outcome`` (exit code, task values, output) and how many log
   batches were sent, all of which are written before ``run`` returns.
4. ``terminate`` stops the process on its worker, or cancels a task not yet started.
5. A worker leaving the cluster (the scheduler's ``remove-worker`` event) loses the
   attempts it ran: they end FAILED with a "lost:" message, retried by their policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from podium.core.states import ResultState
from podium.executors import dask_worker
from podium.executors.base import AttemptRequest, Outcome
from podium.log_lines import Stamper
from podium.task_values import VALUES_IN_ENV

logger = logging.getLogger(__name__)

POOL_RESOURCE_PREFIX = "pool-"
# After the result, how long the attempt's last log batches may take to arrive.
LOG_DRAIN_SECONDS = 5.0
CONNECT_TIMEOUT = "30s"


def pool_resource(pool: str) -> str:
    """The Dask worker resource a task of ``pool`` needs (``pool-gpu`` for ``gpu``)."""
    return POOL_RESOURCE_PREFIX + pool


def dask_missing() -> bool:
    """Whether distributed is not installed (the optional ``dask`` extra)."""
    import importlib.util

    return importlib.util.find_spec("distributed") is None


@dataclass
class _Remote:
    """One attempt sent to the cluster, as seen from the engine."""

    request: AttemptRequest
    key: str
    log: BinaryIO
    ended: asyncio.Future[Outcome]  # set when it ends without a result (lost, stopped early)
    worker: str | None = None  # the worker it was started on
    waiting: bool = False  # the engine was told it waits for a worker of its pool
    reason: ResultState | None = None
    received: int = 0  # log batches written
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    wanted: int | None = None  # log batches the worker sent in all

    def write(self, data: bytes) -> None:
        self.log.write(data)
        self.log.flush()

    def note(self, text: str) -> None:
        """A line of Podium's own in the attempt's log."""
        self.write(Stamper("err").feed(f"podium: {text}\n".encode()))


class DaskExecutor:
    """Runs each attempt on a worker of the Dask cluster at ``scheduler``.

    Args:
        scheduler: the scheduler's address (``tcp://host:8786``).
        grace_seconds: how long a stopped attempt gets between SIGTERM and SIGKILL.
        on_note: called with (attempt_id, text) to say why an attempt waits for a
            worker, and with "" once it has one (the engine shows it as the task's
            state message).
        home: the engine's PODIUM_HOME, which tasks read (e.g. for the warehouse).
    """

    def __init__(self, scheduler: str, grace_seconds: float = 5.0,
                 on_note: Callable[[int, str], None] | None = None,
                 home: Path | None = None) -> None:
        self.scheduler = scheduler
        self.grace_seconds = grace_seconds
        self.on_note = on_note
        self.environment = _settings_for_tasks(home)
        self.topic = f"podium-{uuid.uuid4().hex}"  # this executor's attempts' events
        self._client: Any = None
        self._connecting: asyncio.Lock | None = None
        self._remotes: dict[int, _Remote] = {}  # attempt_id -> remote
        self._background: set[asyncio.Task[Any]] = set()

    async def run(self, request: AttemptRequest) -> Outcome:
        started = time.monotonic()
        client = await self._connect()
        request.log_path.parent.mkdir(parents=True, exist_ok=True)
        key = f"podium-attempt-{request.attempt_id}-{uuid.uuid4().hex[:12]}"
        loop = asyncio.get_running_loop()
        remote = _Remote(request, key, open(request.log_path, "ab"),  # noqa: SIM115
                         loop.create_future())
        payload = {"request": request, "values_in": _values_in(request), "topic": self.topic,
                   "python": sys.executable, "grace": self.grace_seconds,
                   "environment": self.environment}
        resources = {pool_resource(request.pool): 1} if request.pool else None
        self._remotes[request.attempt_id] = remote
        future, timer = None, None
        try:
            future = client.submit(_run_on_worker, key, payload, key=key, pure=False,
                                   retries=0, resources=resources)
            if request.timeout_seconds > 0:
                timer = loop.call_later(request.timeout_seconds, self._time_out_unstarted,
                                        remote)
            if request.pool:
                await self._note_missing_pool(client, remote, request.pool)
            outcome = await self._outcome(remote, future)
        finally:
            if timer is not None:
                timer.cancel()
            del self._remotes[request.attempt_id]
            # Released at once: the worker sees a still-running attempt let go of and
            # kills it (the engine stopped), and Dask keeps nothing it could recompute.
            if future is not None:
                future.release()
            remote.log.close()
        return replace(outcome, duration_seconds=outcome.duration_seconds
                       or time.monotonic() - started)

    async def _outcome(self, remote: _Remote, future: Any) -> Outcome:
        result_of = asyncio.ensure_future(_result(future))
        try:
            waits: list[asyncio.Future[Any]] = [result_of, remote.ended]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not result_of.done():
                result_of.cancel()
                await asyncio.gather(result_of, return_exceptions=True)
        if remote.ended.done():
            return remote.ended.result()
        try:
            result: dict[str, Any] = result_of.result()
        except Exception as exc:
            if type(exc).__name__ != "KilledWorker":
                raise
            return self._lost(remote, f"Dask gave up on it: {exc}")
        if not result.get("outcome"):  # it did not run: stopped before, or a lost one's re-run
            if remote.reason is not None:
                return self._stopped_early(remote, remote.reason)
            return self._lost(remote, "its Dask worker was lost")
        remote.wanted = result["batches"]
        if remote.received < remote.wanted:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(remote.caught_up.wait(), LOG_DRAIN_SECONDS)
        outcome: Outcome = result["outcome"]
        return replace(outcome, attempt_id=remote.request.attempt_id)

    def terminate(self, attempt_id: int, reason: ResultState) -> None:
        remote = self._remotes.get(attempt_id)
        if remote is None or remote.ended.done() or remote.reason is not None:
            return
        remote.reason = reason
        if remote.worker is not None:
            self._on_worker(remote.worker, dask_worker.stop, remote.key, reason.value)
            return
        # Not started on any worker yet: it never will be (its future is released).
        self._stopped_early(remote, reason)

    def _stopped_early(self, remote: _Remote, reason: ResultState) -> Outcome:
        """End an attempt stopped before its process started."""
        limit = remote.request.timeout_seconds
        message = (f"the task timed out after {limit:g} s waiting for a Dask worker"
                   if reason is ResultState.TIMEDOUT
                   else "the task was canceled before a Dask worker started it")
        if not remote.ended.done():
            remote.note(message)
            remote.ended.set_result(Outcome(remote.request.attempt_id, reason, None, message))
        return remote.ended.result()

    async def close(self) -> None:
        """Disconnect from the scheduler (the attempts must have ended)."""
        if self._background:  # stop requests on their way; a dead worker's may hang
            _, late = await asyncio.wait(self._background, timeout=5)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.run_on_scheduler(_forget_events, self.topic)
            except Exception:  # only memory is at stake: the scheduler's copy of the logs
                logger.warning("could not drop the log events on the Dask scheduler",
                               exc_info=True)
            await client.close()

    # ---- the cluster's side ----------------------------------------------------------
    async def _connect(self) -> Any:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._client is None:
                from distributed import Client

                client = await Client(  # type: ignore[no-untyped-call]
                    self.scheduler, asynchronous=True, timeout=CONNECT_TIMEOUT
                )
                # Subscribed before anything is submitted: the same stream carries both.
                client.subscribe_topic(self.topic, self._on_attempt_event)
                client.subscribe_topic("all", self._on_cluster_event)
                self._client = client
        return self._client

    def _on_attempt_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        remote = self._remotes.get(message["attempt"])
        if message["kind"] == "hello":
            self._hello(remote, message["key"], message["worker"])
        elif remote is not None and message["kind"] == "log":
            remote.write(message["data"])
            remote.received += 1
            if remote.wanted is not None and remote.received >= remote.wanted:
                remote.caught_up.set()

    def _hello(self, remote: _Remote | None, key: str, worker: str) -> None:
        """An attempt reached a worker: let the first run of it go, and no other."""
        go = remote is not None and remote.key == key and not remote.ended.done()
        if go and remote is not None and remote.worker is not None:
            self._lost(remote, f"its Dask worker {remote.worker} was lost")
            go = False
        elif go and remote is not None:
            remote.worker = worker
            remote.note(f"started on Dask worker {worker}")
            if remote.waiting and self.on_note is not None:
                self.on_note(remote.request.attempt_id, "")
        answering = self._on_worker(worker, dask_worker.answer, key, go)
        if go and remote is not None:
            answering.add_done_callback(functools.partial(self._answered, remote, worker))

    def _answered(self, remote: _Remote, worker: str, answering: asyncio.Task[Any]) -> None:
        """A "go" that did not reach its worker leaves the attempt waiting there: lost."""
        if answering.cancelled() or self._remotes.get(remote.request.attempt_id) is not remote:
            return
        failure = answering.exception()
        if failure is None:
            failure = answering.result().get(worker, KeyError(worker))
        if isinstance(failure, BaseException):
            self._lost(remote, f"its Dask worker {worker} could not be reached ({failure!r})")

    def _on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        if message.get("action") != "remove-worker":
            return
        gone = message.get("worker")
        for remote in list(self._remotes.values()):
            if remote.worker == gone and not remote.ended.done():
                self._lost(remote, f"its Dask worker {gone} left the cluster")

    def _lost(self, remote: _Remote, why: str) -> Outcome:
        """End the attempt as lost (the task's retry policy decides what follows)."""
        outcome = Outcome(remote.request.attempt_id, ResultState.FAILED, None,
                          f"lost: {why} while the attempt ran")
        if not remote.ended.done():
            remote.note(outcome.message)
            remote.ended.set_result(outcome)
        return remote.ended.result()

    def _time_out_unstarted(self, remote: _Remote) -> None:
        # A started attempt is timed out by its worker, which counts from the process
        # start as the local executor does; this one never got a worker in time.
        if remote.worker is None:
            self.terminate(remote.request.attempt_id, ResultState.TIMEDOUT)

    async def _note_missing_pool(self, client: Any, remote: _Remote, pool: str) -> None:
        """Say in the log why a task waits when no worker of its pool is connected."""
        resource = pool_resource(pool)
        identity = await client.scheduler.identity()
        workers = identity.get("workers", {}).values()
        if remote.worker is None and not any(
            resource in (w.get("resources") or {}) for w in workers
        ):
            why = (f"waiting: no Dask worker has the resource {resource} of pool {pool!r}; "
                   f"start one with `podium worker --scheduler {self.scheduler} "
                   f"--pool {pool}`")
            remote.note(why)
            if self.on_note is not None:
                remote.waiting = True
                self.on_note(remote.request.attempt_id, why)

    def _on_worker(self, worker: str, function: Any, *args: Any) -> asyncio.Task[Any]:
        """Call ``function(*args)`` on ``worker``, in the background."""
        call: Coroutine[Any, Any, Any] = self._client.run(
            function, *args, workers=[worker], on_error="return"
        )
        task = asyncio.ensure_future(call)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def _settings_for_tasks(home: Path | None) -> dict[str, str]:
    """The settings a task's own process reads, as variables: a local task inherits them
    from the engine, a remote one gets these (the home and the SQL connections; not the
    engine's other settings, whose secrets a worker has no use for)."""
    forwarded = {name: value for name, value in os.environ.items()
                 if name.startswith("PODIUM_CONNECTIONS__")}
    if home is not None:
        forwarded["PODIUM_HOME"] = str(home)
    return forwarded


async def _result(future: Any) -> dict[str, Any]:
    result: dict[str, Any] = await future
    return result


def _values_in(request: AttemptRequest) -> Any:
    """The run's task values the engine wrote for the attempt: they travel with it."""
    path = request.env.get(VALUES_IN_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as values:
        return json.load(values)


class _Link:
    """The worker as ``dask_worker`` sees it."""

    def __init__(self, worker: Any, topic: str, key: str) -> None:
        self.worker, self.topic, self.key = worker, topic, key
        self.address: str = worker.address

    def send(self, message: dict[str, Any]) -> None:
        self.worker.log_event(self.topic, message)

    def released(self) -> bool:
        task = self.worker.state.tasks.get(self.key)
        return task is None or task.state in ("cancelled", "released", "forgotten")


def _forget_events(topic: str, dask_scheduler: Any = None) -> None:
    """On the scheduler: drop its copy of a closing executor's events (it keeps the last
    ``distributed.admin.low-level-log-length`` events of every topic, log batches too)."""
    broker = getattr(dask_scheduler, "_broker", None)
    if broker is not None:
        broker.truncate(topic)


def _run_on_worker(key: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The Dask task: runs on a worker (which imports this module by name)."""
    from distributed import get_worker

    return dask_worker.run_attempt(_Link(get_worker(), payload["topic"], key), key, payload)
