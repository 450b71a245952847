"""The orchestrator loop: claim a run, advance it with the pure core, dispatch attempts,
and record each step's transitions in one transaction before anything acts on them.

One step = record finished attempts + poll for cancel + decide + start, then commit,
then hand the new attempts to the executor. A crash at any instant leaves a state that
``Engine.execute`` resumes from: attempts recorded as running are marked lost and retried.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import json
import logging
import os
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from podium.core import (
    TERMINAL,
    Graph,
    LifeCycleState,
    ResultState,
    TaskRunState,
    UnresolvedReference,
    ValueContext,
    advance,
    evaluate_condition,
    next_wakeup,
    resolve_obj,
    resolve_text,
    retry_delay_millis,
    run_result,
    should_retry,
    termination_for,
)
from podium.engine import children, paths, queueing
from podium.engine.liveness import (
    LeaseLost,
    engine_alive,
    let_go_here,
    on_this_host,
    take_here,
    this_engine_id,
    utcnow,
)
from podium.engine.secrets import RunSecrets
from podium.engine.watch import RunWatch
from podium.errors import Conflict
from podium.executors import (
    AttemptRequest,
    Executor,
    Outcome,
    attempt_file,
    executor_for,
    kill_leftover,
)
from podium.executors.logs import append_line
from podium.insights import dispatch_priorities, task_estimates
from podium.insights.dispatch import Priority
from podium.runners import RunnerContext, git_source, runner_for
from podium.runners import environment as runners_environment
from podium.settings import Settings
from podium.spec.models import JobSpec, Task
from podium.store import runs as q
from podium.store.history import job_history
from podium.task_values import VALUES_IN_ENV

L = LifeCycleState
R = ResultState
# A run steps when something happens; this bounds how long it sleeps in any case.
SAFETY_STEP_SECONDS = 5.0
HISTORY_RUNS = 10  # recent runs whose task durations order the ready tasks

logger = logging.getLogger(__name__)

# The state message of a PENDING task while every task slot is in use.
SLOT_WAIT = "waiting for a free task slot"

@dataclass(frozen=True, slots=True)
class RunEvent:
    """A state change, emitted after it is committed (for live views)."""

    run_id: int
    task_key: str | None
    life_cycle_state: LifeCycleState
    result_state: ResultState | None
    attempt_number: int | None = None
    message: str = ""


class Engine:
    """Executes runs recorded in the store.

    Args:
        sessions: session factory of the metadata database.
        settings: home folder, parallelism bound, grace period.
        executor: where attempts run (default: the one the settings choose).
        on_event: called with each committed RunEvent.
        clock: returns the current UTC time; tests may pass their own.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        executor: Executor | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        poll_seconds: float = 0.5,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.executor = executor or executor_for(settings, on_note=self._note_attempt)
        self.on_event = on_event
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.engine_id = this_engine_id()
        self.free_slots = settings.max_parallel_tasks
        self.cancel_requested = False
        self.drivers: dict[int, _RunDriver] = {}
        self.watch = RunWatch(sessions, clock, poll_seconds)

    async def close(self) -> None:
        """Release the executor; call once no run is being executed."""
        await self.executor.close()

    def request_cancel(self) -> None:
        """Cancel every run this engine drives (e.g. on Ctrl-C)."""
        self.cancel_requested = True
        for driver in self.drivers.values():
            driver.wake.set()

    def _note_attempt(self, attempt_id: int, message: str) -> None:
        """The executor's word on a running attempt (why it waits for a worker)."""
        for driver in self.drivers.values():
            if driver.note(attempt_id, message):
                return

    def slot_freed(self) -> None:
        """Wake the runs that have tasks waiting for a free slot."""
        for driver in self.drivers.values():
            if driver.ready:
                driver.wake.set()

    async def execute(self, run_id: int) -> ResultState:
        """Run (or resume) ``run_id`` to its end and return its result.

        A QUEUED run first waits its turn (``queueing.wait_turn``), emitting a QUEUED
        event with the reason whenever it changes.

        Raises:
            NotFound: no such run.
            Conflict: another live engine is running it.
        """
        await queueing.wait_turn(
            self.sessions, run_id, self.engine_id, self.clock, self.poll_seconds,
            lambda: self.cancel_requested,
            lambda why: self._emit_queued(run_id, why),
        )
        return await _RunDriver(self, run_id).drive()

    def _emit_queued(self, run_id: int, reason: str) -> None:
        if self.on_event is not None:
            self.on_event(RunEvent(run_id, None, L.QUEUED, None, message=reason))


@dataclass(frozen=True, slots=True)
class _Start:
    """An attempt being started: what to await for its outcome, and what it holds."""

    work: Callable[[], Awaitable[Outcome]]
    key: str
    attempt_id: int
    number: int
    holds_slot: bool = True  # a process counts against max_parallel_tasks
    children: list[int] = field(default_factory=list)  # child runs it waits for


class _RunDriver:
    """The in-memory mirror of one run while an engine drives it."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self.home = engine.settings.home
        self.inflight: dict[asyncio.Task[Outcome], _Start] = {}
        self.events: list[RunEvent] = []
        self.canceling = False
        self.canceled_by_user = False
        self.timed_out = False
        self.cancel_asked = False  # someone asked to cancel the run (seen by the watch)
        self.wake = asyncio.Event()  # a reason to take a step before any attempt ends
        self.ready: list[tuple[Priority, str]] = []  # set up by _claim
        self.secrets = RunSecrets(engine.settings)

    # ---- lifecycle -----------------------------------------------------------------
    async def drive(self) -> ResultState:
        if not take_here(self.run_id):
            raise Conflict(f"run {self.run_id} is being run by this process already")
        try:
            result = self._claim()
            if result is not None:
                return result
            self.engine.drivers[self.run_id] = self
            self.engine.watch.add(self.run_id, self._cancel_asked, self.wake.set)
            return await self._steps()
        except BaseException:
            # The engine itself failed (a database error, a bug) or was cancelled: stop
            # the attempts it started (cancelling their waits kills their processes).
            # The run stays RUNNING in the store; `podium runs resume` continues it.
            for future in self.inflight:
                future.cancel()
            await asyncio.gather(*self.inflight, return_exceptions=True)
            raise
        finally:
            self.engine.drivers.pop(self.run_id, None)
            self.engine.watch.discard(self.run_id)
            let_go_here(self.run_id)

    def note(self, attempt_id: int, message: str) -> bool:
        """Show ``message`` as the state message of the RUNNING task of ``attempt_id``
        (written with the next step, which this wakes; a note, not a transition).
        False when the attempt is not this run's."""
        start = next((s for s in self.inflight.values() if s.attempt_id == attempt_id), None)
        if start is None:
            return False
        state = self.states[start.key]
        if state.life_cycle_state is L.RUNNING and state.message != message:
            self.states[start.key] = replace(state, message=message)
            self.dirty.add(start.key)
            self.events.append(RunEvent(self.run_id, start.key, L.RUNNING, None,
                                        start.number, message))
            self.wake.set()
        return True

    def _cancel_asked(self) -> None:
        self.cancel_asked = True
        self.wake.set()

    async def _steps(self) -> ResultState:
        completed: list[Outcome] = []
        while True:
            now = self.engine.clock()
            with self.engine.sessions.begin() as session:
                # First, so that a step of an engine that lost the run records nothing.
                if not q.hold_run(session, self.run_id, self.engine.engine_id, now):
                    raise LeaseLost(f"run {self.run_id} was taken over by another engine")
                for outcome in completed:
                    self._record_outcome(session, outcome, now)
                if self.engine.cancel_requested and not self.canceling:
                    q.update_run(session, self.run_id, cancel_requested_at=now)
                    self.cancel_asked = True
                if self.cancel_asked and not self.canceling:
                    self.canceling = self.canceled_by_user = True
                    self._begin_terminating(session, R.CANCELED, "canceled by the user", now)
                self._check_deadline(session, now)
                self._decide(session, now)
                starts, again = self._start_ready(session, now)
                result = None if (self.inflight or starts or again) else self._finish(session, now)
                self._flush(session)
            self._emit()
            for start in starts:
                self.inflight[asyncio.ensure_future(start.work())] = start
            if result is not None:
                return result
            completed = [] if again else await self._wait(now)

    def _dispatch_order(self, session: Session, job_id: int) -> dict[str, Priority]:
        """The order in which ready tasks take free slots: the longest expected path
        ahead first (from the job's recent successful attempts), then graph depth; or,
        with the ``spec`` dispatch order, the job's task order.
        History is read only when the run has more tasks than the engine has slots:
        otherwise every ready task starts at once and order does not matter."""
        deps = {t.task_key: tuple(t.upstream_keys) for t in self.spec.tasks}
        if self.engine.settings.dispatch_order == "spec":
            return {k: (0.0, 0, i) for i, k in enumerate(self.graph.order)}
        medians: dict[str, float | None] = {}
        if len(deps) > self.engine.settings.max_parallel_tasks and job_id:
            history = job_history(session, job_id, HISTORY_RUNS)
            medians = {k: e.median_seconds
                       for k, e in task_estimates(history, list(deps)).items()}
        return dispatch_priorities(deps, medians)

    def _claim(self) -> ResultState | None:
        """Take the run: refuse if another engine holds it, recover lost attempts."""
        now = self.engine.clock()
        with self.engine.sessions.begin() as session:
            row = q.get_run(session, self.run_id)
            if L(row.life_cycle_state) in TERMINAL:
                return R(row.result_state) if row.result_state else R.FAILED
            if row.engine_id != self.engine.engine_id and engine_alive(
                row.engine_id, row.heartbeat_at, now
            ):
                raise Conflict(f"run {self.run_id} is being run by engine {row.engine_id}")
            # Take it from the holder just judged dead, unless another engine took it
            # since: first, so that a loser touches nothing (nor kills any process).
            if not q.claim_run(session, self.run_id, self.engine.engine_id, row.engine_id,
                               row.heartbeat_at, now):
                raise Conflict(f"run {self.run_id} was taken up by another engine")
            self.previous_holder = row.engine_id
            self.spec = JobSpec.model_validate_json(row.spec_json)
            self.graph = Graph({t.task_key: t.upstream_keys for t in self.spec.tasks})
            self.rank = self._dispatch_order(session, row.job_id)
            self.job_id, self.repair_count = row.job_id, row.repair_count
            self.source_dir = Path(row.source_dir)
            self.parameters: dict[str, str] = json.loads(row.parameters_json)
            self.trigger = (row.trigger, json.loads(row.trigger_info_json or "{}"))
            self.started_at = row.started_at or now
            records = q.get_task_runs(session, self.run_id)
            self.states = {k: r.state for k, r in records.items()}
            self.times = {k: (r.started_at, r.ended_at) for k, r in records.items()}
            self.dirty: set[str] = set()  # task runs to write at the end of the step
            self.trail: list[dict[str, Any]] = []  # transitions to write likewise
            self.finished: list[dict[str, Any]] = []  # attempts that ended, likewise
            # How many upstream tasks each task still waits for: a task is looked at
            # only when its count reaches zero, so a wide fan-in costs O(edges) in all.
            self.remaining = {
                k: sum(1 for u in self.graph.upstream[k] if not self.states[u].is_terminal)
                for k in self.states
            }
            self.ready = []  # heap of PENDING tasks, critical path first
            self.new_pending: list[str] = []  # PENDING since the last start: may need a note
            self.waiting = {k for k, st in self.states.items()
                            if st.life_cycle_state is L.WAITING_FOR_RETRY}
            self.look_at: set[str] | None = None  # None: every task, on the first step
            for key, st in self.states.items():
                if st.life_cycle_state is L.PENDING:
                    heapq.heappush(self.ready, (self.rank[key], key))
                    self.new_pending.append(key)
            self.values = q.get_task_values(session, self.run_id)
            self.has_refs: dict[str, bool] = {}
            self.runner_context = RunnerContext(
                python=sys.executable, source_dir=self.source_dir, home=self.home,
                connections=self.engine.settings.connections,
                job_parameters=self.parameters,
            )
            self.artifacts = paths.artifacts_dir(self.home, self.run_id)
            self.environments = {e.environment_key: e for e in self.spec.environments}
            self.artifacts.mkdir(parents=True, exist_ok=True)
            self.task_run_ids: dict[str, int] = {}
            for attempt in q.get_attempts(session, self.run_id):
                self.task_run_ids[attempt.task_key] = attempt.attempt_id
                if attempt.life_cycle_state == L.RUNNING:
                    self._recover_lost(session, attempt.task_key, attempt.attempt_number,
                                       attempt.attempt_id, now)
            self.canceling = self.canceled_by_user = row.cancel_requested_at is not None
            previous = row.life_cycle_state
            q.update_run(
                session, self.run_id,
                life_cycle_state=L.TERMINATING if self.canceling else L.RUNNING,
                started_at=self.started_at, engine_id=self.engine.engine_id, heartbeat_at=now,
            )
            if previous != L.RUNNING:
                self._transition(session, None, None, L.RUNNING, None, "started", now)
            self._flush(session)
        self._emit()
        return None

    def _recover_lost(
        self, session: Session, key: str, number: int, attempt_id: int, now: datetime
    ) -> None:
        # The pids of an engine on another host mean nothing here: its leftover process
        # (if that host lives) runs on until it ends; its outcome is not recorded.
        killed = on_this_host(self.previous_holder) and kill_leftover(
            paths.work_prefix(self.home, self.run_id, key, number))
        message = "lost: the engine stopped while this attempt ran" + (
            "; its leftover processes were killed" if killed else ""
        )
        self.finished.append(
            q.finished_attempt_row(attempt_id, L.INTERNAL_ERROR, None, message, None, now)
        )
        # A lost attempt counts as an attempt but not against max_retries: the task did
        # not fail, its engine did.
        self._set(session, replace(self.states[key], life_cycle_state=L.WAITING_FOR_RETRY,
                                   retry_at=now, message=message), now, attempt=number)

    # ---- one step ------------------------------------------------------------------
    def _check_deadline(self, session: Session, now: datetime) -> None:
        limit = self.spec.timeout_seconds
        if limit and not self.canceling and now >= self.started_at + timedelta(seconds=limit):
            self.canceling = self.timed_out = True
            self._begin_terminating(session, R.TIMEDOUT, f"the job timed out after {limit} s", now)

    def _begin_terminating(
        self, session: Session, reason: ResultState, message: str, now: datetime
    ) -> None:
        q.update_run(session, self.run_id, life_cycle_state=L.TERMINATING, state_message=message)
        self._transition(session, None, None, L.TERMINATING, None, message, now)
        for start in self.inflight.values():
            if start.children:  # their own engines notice and stop their tasks
                for run_id in start.children:
                    q.request_cancel(session, run_id, now)
            else:
                self.engine.executor.terminate(start.attempt_id, reason)

    def _decide(self, session: Session, now: datetime) -> None:
        # Only tasks next to what changed can change their mind, unless all must (a
        # cancel, a first step); retries waiting for their time are always looked at.
        everything = self.look_at is None or self.canceling
        candidates = None if everything else (self.look_at or set()) | self.waiting
        self.look_at = set()
        for d in advance(self.spec, self.states, now, self.canceling, candidates, self.graph):
            state = replace(self.states[d.task_key], life_cycle_state=d.to, result_state=d.result,
                            message=d.message, retry_at=None)
            self._set(session, state, now)

    def _start_ready(self, session: Session, now: datetime) -> tuple[list[_Start], bool]:
        """Start PENDING tasks while slots are free. The flag says a task finished
        in-process (a condition, a reference with no value), so the next step must
        look again at once. Conditions and tasks that run child runs need no slot."""
        starts: list[_Start] = []
        finished_inline = False
        fresh, self.new_pending = self.new_pending, []
        if self.canceling:
            return starts, finished_inline
        while self.ready:
            key = self.ready[0][1]
            if self.states[key].life_cycle_state is not L.PENDING:
                heapq.heappop(self.ready)  # stale entry
                continue
            task = self.spec.task(key)
            has_children = task.for_each_task is not None or task.run_job_task is not None
            if task.condition_task is None and not has_children and self.engine.free_slots <= 0:
                self._note_slot_wait(fresh)
                break
            heapq.heappop(self.ready)
            if task.condition_task is not None:
                self._run_condition(session, task, now)
                finished_inline = True
                continue
            start = (self._start_children if has_children else self._start_attempt)(
                session, task, now
            )
            if start is None:
                finished_inline = True
                continue
            if start.holds_slot:
                self.engine.free_slots -= 1
            starts.append(start)
        return starts, finished_inline

    def _note_slot_wait(self, keys: list[str]) -> None:
        """Say why tasks that just became PENDING wait: every task slot is in use. Once
        per task (the loop only stops at a full pool, so any of ``keys`` not started has
        to wait); starting the task clears it. A note, not a state change: no transition."""
        if not keys:
            return
        limit = self.engine.settings.max_parallel_tasks
        note = (f"{SLOT_WAIT}: {limit - self.engine.free_slots} of {limit} in use "
                "(max_parallel_tasks)")
        for key in keys:
            state = self.states[key]
            if state.life_cycle_state is L.PENDING and not state.message.startswith(SLOT_WAIT):
                self.states[key] = replace(state, message=note)
                self.dirty.add(key)
                self.events.append(RunEvent(self.run_id, key, L.PENDING, None, message=note))

    def _context(
        self, key: str, attempt_id: int = 0, session: Session | None = None
    ) -> ValueContext:
        """What references of ``key`` may name; secrets only with a ``session`` to read
        them through (without, ``{{secrets/...}}`` stays as written)."""
        return ValueContext(
            job_id=self.job_id, job_name=self.spec.name, run_id=self.run_id,
            start_time=self.started_at, parameters=self.parameters, task_key=key,
            task_run_id=attempt_id, execution_count=self.states[key].attempt_count,
            repair_count=self.repair_count, task_values=self.values,
            task_states=self.states, task_run_ids=self.task_run_ids,
            trigger=self.trigger[0], trigger_info=self.trigger[1],
            secret=None if session is None else self.secrets.reader(session, key),
        )

    def _run_condition(self, session: Session, task: Task, now: datetime) -> None:
        cond = task.condition_task
        assert cond is not None
        state = self.states[task.task_key]
        try:
            ctx = self._context(task.task_key, session=session)
            left, right = resolve_text(cond.left, ctx), resolve_text(cond.right, ctx)
        except UnresolvedReference as exc:
            self._set(session, replace(state, life_cycle_state=L.TERMINATED,
                                       result_state=R.FAILED, message=str(exc)), now, ended=True)
            return
        outcome = "true" if evaluate_condition(cond.op, left, right) else "false"
        message = self.secrets.mask(
            task.task_key, f"{left!r} {cond.op.value} {right!r} is {outcome}"
        )
        self._set(session, replace(state, life_cycle_state=L.TERMINATED, result_state=R.SUCCESS,
                                   condition_outcome=outcome, message=message), now, ended=True)

    def _start_attempt(self, session: Session, task: Task, now: datetime) -> _Start | None:
        """Record a new attempt of ``task`` and describe its process; None when its
        references cannot be resolved (the task then fails without a process)."""
        key = task.task_key
        state = self.states[key]
        number = state.attempt_count
        log = paths.log_path(self.home, self.run_id, key, number)
        attempt_id = q.insert_attempt(session, run_id=self.run_id, task_key=key,
                                      attempt_number=number, repair_count=self.repair_count,
                                      log_path=str(log), now=now)
        self.task_run_ids[key] = attempt_id
        try:
            resolved = self._resolve(task, attempt_id, session)
        except UnresolvedReference as exc:
            self.finished.append(
                q.finished_attempt_row(attempt_id, L.TERMINATED, R.FAILED, str(exc), None, now)
            )
            self._set(session, replace(state, life_cycle_state=L.TERMINATED, result_state=R.FAILED,
                                       attempt_count=number + 1, message=str(exc)),
                      now, attempt=number, started=number == 0)
            return None
        git = self.spec.git_source
        checkout = None
        context = self.runner_context
        if git is not None and git_source.uses_git(resolved, git):
            # Its files are in the job's repository: built against the checkout, which
            # the process makes (or finds) where it runs, before anything else.
            checkout = git_source.checkout_dir(self.home, git, self.run_id)
            context = replace(context, source_dir=checkout)
        process = runner_for(resolved.task_type)(resolved, context)
        if task.environment_key is not None:
            environment = self.environments[task.environment_key]
            process = runners_environment.wrap(process, environment, self.home)
        if git is not None and checkout is not None:
            process = git_source.wrap(process, git, checkout)
        self._set(session, replace(state, life_cycle_state=L.RUNNING, attempt_count=number + 1,
                                   retry_at=None, message=""), now, attempt=number,
                  started=number == 0)
        request = AttemptRequest(
            attempt_id=attempt_id, process=process, log_path=log,
            work_prefix=paths.work_prefix(self.home, self.run_id, key, number),
            timeout_seconds=task.timeout_seconds, env=self._task_env(resolved, number),
            redact=self.secrets.terms(key), pool=task.worker_pool,
        )
        return _Start(functools.partial(self.engine.executor.run, request), key, attempt_id,
                      number)

    def _start_children(self, session: Session, task: Task, now: datetime) -> _Start | None:
        """Start a task that runs child runs (for-each iterations, another job): record
        them, keeping those that already succeeded, and wait for them all."""
        key = task.task_key
        state = self.states[key]
        try:
            wanted = (
                children.for_each_children(task, self.spec, self.job_id, self._context(key))
                if task.for_each_task is not None
                else [children.run_job_child(session, self._resolve(task, 0))]
            )
        except (children.ChildSpecError, UnresolvedReference) as exc:
            self._set(session, replace(state, life_cycle_state=L.TERMINATED,
                                       result_state=R.FAILED, message=str(exc)), now, ended=True)
            return None
        number = state.attempt_count
        log = paths.log_path(self.home, self.run_id, key, number)
        attempt_id = q.insert_attempt(session, run_id=self.run_id, task_key=key,
                                      attempt_number=number, repair_count=self.repair_count,
                                      log_path=str(log), now=now)
        run_ids = self._child_runs(session, key, wanted, now)
        log.parent.mkdir(parents=True, exist_ok=True)
        for child, run_id in zip(wanted, run_ids, strict=True):
            where = "" if child.iteration is None else f"iteration {child.iteration} "
            append_line(log, f"{where}({child.label[:200]}): run {run_id}")
        self._set(session, replace(state, life_cycle_state=L.RUNNING, attempt_count=number + 1,
                                   retry_at=None, message=""), now, attempt=number,
                  started=number == 0)
        concurrency = task.for_each_task.concurrency if task.for_each_task else 1
        work = functools.partial(self._await_children, task, attempt_id, log, run_ids,
                                 concurrency)
        return _Start(work, key, attempt_id, number, holds_slot=False, children=run_ids)

    def _child_runs(
        self, session: Session, key: str, wanted: list[children.Child], now: datetime
    ) -> list[int]:
        """The run ids of ``wanted``: an earlier child of the same iteration that succeeded
        or is unfinished (its engine died) is kept; any other is recorded anew."""
        earlier = {r.iteration: r for r in q.child_runs(session, self.run_id, key)}
        run_ids = []
        for child in wanted:
            old = earlier.get(child.iteration)
            if old is not None and (
                L(old.life_cycle_state) not in TERMINAL
                or old.result_state in (R.SUCCESS, R.SUCCESS_WITH_FAILURES)
            ):
                run_ids.append(old.run_id)
                continue
            spec_json = child.spec.model_dump_json(exclude_defaults=True)
            run_ids.append(q.insert_run(
                session, job_id=child.job_id, run_name=child.spec.name, spec_json=spec_json,
                source_dir=str(self.source_dir), parameters=child.parameters,
                task_keys=[t.task_key for t in child.spec.tasks], now=now,
                trigger="RUN_JOB_TASK" if child.iteration is None else "FOR_EACH_TASK",
                parent=(self.run_id, key, child.iteration),
            ))
        return run_ids

    async def _await_children(
        self, task: Task, attempt_id: int, log: Path, run_ids: list[int], concurrency: int
    ) -> Outcome:
        """Drive the child runs (at most ``concurrency`` at once) and sum them up."""
        gate = asyncio.Semaphore(concurrency)

        async def one(run_id: int) -> tuple[int, ResultState]:
            async with gate:
                return run_id, await _RunDriver(self.engine, run_id).drive()

        everything = asyncio.gather(*(one(run_id) for run_id in run_ids))
        timed_out = False
        if task.timeout_seconds:
            done, _ = await asyncio.wait([everything], timeout=task.timeout_seconds)
            if not done:  # cancel the children through the store: they end CANCELED
                timed_out = True
                with self.engine.sessions.begin() as session:
                    for run_id in run_ids:
                        q.request_cancel(session, run_id, self.engine.clock())
        results = await everything
        result, message = children.aggregate(task, results)
        if timed_out:
            result, message = R.TIMEDOUT, f"the task timed out after {task.timeout_seconds} s"
        append_line(log, f"{result}: " + ", ".join(f"run {i} {r}" for i, r in results))
        output = {"child_runs": [{"run_id": i, "result_state": r.value} for i, r in results]}
        return Outcome(attempt_id, result, None, message, output=output)

    def _resolve(self, task: Task, attempt_id: int, session: Session | None = None) -> Task:
        """``task`` with its ``{{...}}`` references replaced by their values now (its
        secrets too when given a ``session`` to read them through)."""
        if task.task_key not in self.has_refs:
            self.has_refs[task.task_key] = "{{" in task.model_dump_json()
        if not self.has_refs[task.task_key]:
            return task
        ctx = self._context(task.task_key, attempt_id, session)
        data = resolve_obj(task.model_dump(), ctx)
        return Task.model_validate(data)

    def _task_env(self, task: Task, number: int) -> dict[str, str]:
        values_in = ""
        if self.values:
            prefix = paths.work_prefix(self.home, self.run_id, task.task_key, number)
            prefix.parent.mkdir(parents=True, exist_ok=True)
            values_in = str(attempt_file(prefix, ".values-in.json"))
            Path(values_in).write_text(json.dumps(self.values))
        return {
            **task.environment_variables,
            "PODIUM_RUN_ID": str(self.run_id), "PODIUM_JOB_ID": str(self.job_id),
            "PODIUM_TASK_KEY": task.task_key, "PODIUM_ATTEMPT_NUMBER": str(number),
            "PODIUM_ARTIFACTS_DIR": str(self.artifacts), VALUES_IN_ENV: values_in,
            # The job's own modules import; a PYTHONPATH of the task's comes after.
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(self.source_dir), task.environment_variables.get("PYTHONPATH"))
                if p
            ),
        }

    async def _wait(self, now: datetime) -> list[Outcome]:
        """Until an attempt ends, a retry or the job's deadline is due, or something
        wakes the run (a cancel, a free slot); at most SAFETY_STEP_SECONDS."""
        timeout = SAFETY_STEP_SECONDS
        wake = next_wakeup({k: self.states[k] for k in self.waiting})
        if wake is not None:
            timeout = min(timeout, max(0.0, (wake - now).total_seconds()))
        if self.spec.timeout_seconds and not self.canceling:
            deadline = self.started_at + timedelta(seconds=self.spec.timeout_seconds)
            timeout = min(timeout, max(0.0, (deadline - now).total_seconds()))
        woken = asyncio.ensure_future(self.wake.wait())
        done, _ = await asyncio.wait([*self.inflight, woken], timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        woken.cancel()
        self.wake.clear()
        return [self._outcome_of(future) for future in self.inflight if future in done]

    def _outcome_of(self, future: asyncio.Task[Outcome]) -> Outcome:
        """The attempt's outcome; a failure of the executor itself is ours, not the
        task's, and becomes INTERNAL_ERROR rather than FAILED."""
        try:
            return future.result()
        except Exception as exc:
            attempt_id = self.inflight[future].attempt_id
            logger.exception("the executor failed on attempt %s", attempt_id)
            return Outcome(attempt_id, R.FAILED, None, f"internal error: {exc}",
                           internal_error=True)

    def _record_outcome(self, session: Session, outcome: Outcome, now: datetime) -> None:
        future = next(f for f, s in self.inflight.items() if s.attempt_id == outcome.attempt_id)
        start = self.inflight.pop(future)
        key, attempt_id, number = start.key, start.attempt_id, start.number
        outcome = self.secrets.mask_outcome(key, outcome)
        if start.holds_slot:
            self.engine.free_slots += 1
            self.engine.slot_freed()
        task = self.spec.task(key)
        state = self.states[key]
        result = outcome.result_state
        if outcome.internal_error:
            self.finished.append(q.finished_attempt_row(
                attempt_id, L.INTERNAL_ERROR, None, outcome.message, None, now
            ))
            self._set(session, replace(state, life_cycle_state=L.INTERNAL_ERROR,
                                       message=outcome.message), now, attempt=number)
            return
        self.finished.append(q.finished_attempt_row(
            attempt_id, L.TERMINATED, result, outcome.message, outcome.exit_code, now,
            outcome.output,
        ))
        if outcome.task_values or key in self.values:
            q.put_task_values(session, self.run_id, key, outcome.task_values)
            self.values[key] = outcome.task_values
        if result is not R.SUCCESS and not self.canceling and should_retry(
            task, result, state.retries_used
        ):
            delay = retry_delay_millis(task, state.retries_used + 1, random.random())
            new = replace(state, life_cycle_state=L.WAITING_FOR_RETRY, result_state=None,
                          retries_used=state.retries_used + 1, message=outcome.message,
                          retry_at=now + timedelta(milliseconds=delay))
            self._set(session, new, now, attempt=number, attempt_result=result)
            return
        new = replace(state, life_cycle_state=L.TERMINATED, result_state=result,
                      message=outcome.message)
        self._set(session, new, now, attempt=number, ended=True)

    def _finish(self, session: Session, now: datetime) -> ResultState | None:
        result = run_result(self.spec, self.states, self.canceling, self.timed_out)
        if result is None:
            return None
        code, kind = termination_for(result, self.canceled_by_user)
        message = self._summary(result)
        q.update_run(session, self.run_id, life_cycle_state=L.TERMINATED, result_state=result,
                     termination_code=code, termination_type=kind, state_message=message,
                     ended_at=now, engine_id=None)
        self._transition(session, None, None, L.TERMINATED, result, message, now)
        return result

    def _summary(self, result: ResultState) -> str:
        if result is R.SUCCESS:
            return ""
        failed = [
            k for k in self.graph.order if self.states[k].result_state in (R.FAILED, R.TIMEDOUT)
        ]
        if failed:
            first = self.states[failed[0]]
            return f"task {failed[0]!r} {first.result_state}: {first.message}".rstrip(": ")
        return result.value

    # ---- recording -----------------------------------------------------------------
    def _set(
        self,
        session: Session,
        state: TaskRunState,
        now: datetime,
        attempt: int | None = None,
        started: bool = False,
        ended: bool = False,
        attempt_result: ResultState | None = None,
    ) -> None:
        """Change a task's state in memory; ``_flush`` writes it with the step."""
        key = state.task_key
        was_terminal = self.states[key].is_terminal
        self.states[key] = state
        self.waiting.discard(key)
        if state.life_cycle_state is L.PENDING:
            heapq.heappush(self.ready, (self.rank[key], key))
            self.new_pending.append(key)
        elif state.life_cycle_state is L.WAITING_FOR_RETRY:
            self.waiting.add(key)
        elif state.is_terminal and not was_terminal:
            for child in self.graph.children[key]:
                self.remaining[child] -= 1
                if self.remaining[child] == 0 and self.look_at is not None:
                    self.look_at.add(child)
        started_at, ended_at = self.times[key]
        if started:
            started_at = now
        if ended or state.is_terminal:
            ended_at = now
        self.times[key] = (started_at, ended_at)
        self.dirty.add(key)
        self._transition(session, key, attempt, state.life_cycle_state,
                         state.result_state or attempt_result, state.message, now)

    def _transition(
        self,
        session: Session,
        key: str | None,
        attempt: int | None,
        life: LifeCycleState,
        result: ResultState | None,
        message: str,
        now: datetime,
    ) -> None:
        self.trail.append(q.transition_row(self.run_id, key, attempt, life, result, message, now))
        self.events.append(RunEvent(self.run_id, key, life, result, attempt, message))

    def _flush(self, session: Session) -> None:
        """Write the step's task-run changes, transitions and ended attempts: one
        statement each per step."""
        q.save_task_runs(session, self.run_id, [
            q.TaskRunRecord(self.states[k], *self.times[k]) for k in sorted(self.dirty)
        ])
        q.add_transitions(session, self.trail)
        q.finish_attempts(session, self.finished)
        self.dirty.clear()
        self.trail, self.finished = [], []

    def _emit(self) -> None:
        events, self.events = self.events, []
        if self.engine.on_event is not None:
            for event in events:
                self.engine.on_event(event)
