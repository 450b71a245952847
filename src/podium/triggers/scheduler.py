"""The scheduler: starts the runs of jobs with an unpaused ``schedule`` (Quartz cron),
``trigger.periodic`` or ``continuous``, at their times.

Each fire is one transaction: the run it starts and the fire recorded in
``trigger_state`` commit together, so a restart neither replays a fire nor misses one;
fire times that passed while no server ran start one catch-up run
(``podium.core.automation``). Two servers on one store cannot both fire the same time:
the second one's record of the fire finds the first's and rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from podium.core import (
    FAILED,
    TERMINAL,
    CronError,
    Fire,
    LifeCycleState,
    Plan,
    ResultState,
    continuous_plan,
    periodic_interval,
    periodic_plan,
    schedule_plan,
)
from podium.engine import RunEvent, start_run, utcnow
from podium.engine.starts import active_runs
from podium.errors import Conflict
from podium.spec import JobSpec
from podium.spec.automation import PauseStatus
from podium.store import JobRow, RunRow, TriggerStateRow
from podium.store import jobs as job_q
from podium.store import triggers as q

logger = logging.getLogger(__name__)

PERIODIC = "PERIODIC"
CONTINUOUS = "CONTINUOUS"
ACTOR = "scheduler"


@dataclass(frozen=True, slots=True)
class _Due:
    job_id: int
    version: int
    trigger: str
    fire: Fire
    expected: datetime | None  # the last fire the decision was made on
    failures: int  # consecutive failed runs so far (continuous)


class Scheduler:
    """Starts scheduled, periodic and continuous runs.

    ``tick()`` does one round (tests drive it with their own clock); ``run()`` repeats
    it, sleeping until the next fire time, at most ``poll_seconds`` (to notice changed
    jobs and ended continuous runs) or until ``wake()``.

    Args:
        clock: the current time (aware, UTC).
        on_start: told each run_id started, after its commit (e.g. the dispatcher's
            ``wake``, so it is taken up at once).
        batch_size: fires due at once are committed this many to a transaction (one
            by one again if a batch fails), so that many jobs due the same second start
            on time.
    """

    def __init__(self, sessions: sessionmaker[Session], *,
                 clock: Callable[[], datetime] = utcnow,
                 on_start: Callable[[int], None] | None = None,
                 poll_seconds: float = 1.0, batch_size: int = 50) -> None:
        self.sessions = sessions
        self.batch_size = batch_size
        self.clock = clock
        self.on_start = on_start
        self.poll_seconds = poll_seconds
        self._specs: dict[int, tuple[int, JobSpec | None]] = {}
        self._warned: set[tuple[int, int]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    def wake(self) -> None:
        """Look at the jobs now (e.g. one changed); callable from any thread."""
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)

    def on_event(self, event: RunEvent) -> None:
        """Told of the engine's state changes: a run's end may start a continuous job's
        next run."""
        if event.task_key is None and event.life_cycle_state in TERMINAL:
            self.wake()

    async def run(self) -> None:
        """Start runs at their times until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        while True:
            next_at: datetime | None = None
            try:
                next_at = await asyncio.to_thread(self.tick)
            except Exception:  # a database hiccup must not stop the scheduler
                logger.exception("the scheduler's round failed; trying again")
            delay = self.poll_seconds
            if next_at is not None:
                delay = min(delay, max(0.0, (next_at - self.clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), delay)
            self._woken.clear()

    def tick(self) -> datetime | None:
        """Start every run due now; the next time one is due (None: none known)."""
        due, next_at = self._plan(self.clock())
        for first in range(0, len(due), self.batch_size):
            for run_id in self._fire_batch(due[first:first + self.batch_size]):
                if self.on_start is not None:
                    self.on_start(run_id)
        return next_at

    # ---- deciding -------------------------------------------------------------------
    def _plan(self, now: datetime) -> tuple[list[_Due], datetime | None]:
        due: list[_Due] = []
        next_at: datetime | None = None
        with self.sessions() as session:
            states = q.all_states(session)
            for job in job_q.list_jobs(session):
                spec = self._spec(job)
                if spec is None:
                    continue
                state = states.get(job.job_id)
                last = state.last_fire_at if state is not None else None
                failures = state.consecutive_failures if state is not None else 0
                if spec.continuous is not None and state is not None:
                    failures = self._failures(session, state.last_run_id, failures)
                trigger, plan = self._plan_job(session, job, spec, state, failures, now)
                if plan is None:
                    continue
                if plan.fire is not None:
                    due.append(_Due(job.job_id, job.version, trigger, plan.fire, last,
                                    failures))
                if plan.next_at is not None and (next_at is None or plan.next_at < next_at):
                    next_at = plan.next_at
        due.sort(key=lambda d: d.fire.fire_at)
        return due, next_at

    def _plan_job(self, session: Session, job: JobRow, spec: JobSpec,
                  state: TriggerStateRow | None, failures: int,
                  now: datetime) -> tuple[str, Plan | None]:
        since = job.updated_at
        last = state.last_fire_at if state is not None else None
        schedule, trigger, continuous = spec.schedule, spec.trigger, spec.continuous
        if schedule is not None and schedule.pause_status == PauseStatus.UNPAUSED:
            try:
                return PERIODIC, schedule_plan(schedule.quartz_cron_expression.strip(),
                                               schedule.timezone_id, last, since, now)
            except (CronError, ValueError) as exc:  # stored before validation knew cron
                if (job.job_id, job.version) not in self._warned:
                    self._warned.add((job.job_id, job.version))
                    logger.warning("job %s: its schedule is not used: %s", job.job_id, exc)
                return PERIODIC, None
        if (trigger is not None and trigger.periodic is not None
                and trigger.pause_status == PauseStatus.UNPAUSED):
            every = periodic_interval(trigger.periodic.interval, trigger.periodic.unit)
            return PERIODIC, periodic_plan(every, last, since, now)
        if continuous is not None and continuous.pause_status == PauseStatus.UNPAUSED:
            return CONTINUOUS, self._continuous(session, job.job_id, state, failures, now)
        return PERIODIC, None

    @staticmethod
    def _continuous(session: Session, job_id: int, state: TriggerStateRow | None,
                    failures: int, now: datetime) -> Plan:
        """A continuous job's plan; ``failures``: the failed runs in a row, the last
        one started included."""
        last_run = None
        if state is not None and state.last_run_id is not None:
            last_run = session.get(RunRow, state.last_run_id)
        if last_run is not None and LifeCycleState(last_run.life_cycle_state) not in TERMINAL:
            return Plan(None, None)  # running, or to be resumed after a crash
        if active_runs(session, job_id, now):
            return Plan(None, None)
        ended = (last_run.ended_at or now) if last_run is not None else None
        return continuous_plan(False, ended, failures, now)

    @staticmethod
    def _failures(session: Session, last_run_id: int | None, before: int) -> int:
        """Failed runs in a row, counting the last one started (``before``: those
        before it)."""
        if last_run_id is None:
            return before
        run = session.get(RunRow, last_run_id)
        if run is None or run.result_state is None:
            return before
        return before + 1 if ResultState(run.result_state) in FAILED else 0

    def _spec(self, job: JobRow) -> JobSpec | None:
        """The job's spec if it has something the scheduler starts (cached by version)."""
        cached = self._specs.get(job.job_id)
        if cached is not None and cached[0] == job.version:
            return cached[1]
        spec: JobSpec | None = None
        if any(k in job.spec_json for k in ('"schedule"', '"trigger"', '"continuous"')):
            try:
                spec = JobSpec.model_validate_json(job.spec_json)
            except ValueError:
                logger.warning("job %s: stored settings do not validate", job.job_id)
        self._specs[job.job_id] = (job.version, spec)
        return spec

    # ---- firing ---------------------------------------------------------------------
    def _fire_batch(self, batch: list[_Due]) -> list[int]:
        """Start the runs of ``batch``, each recorded with its fire, in one transaction;
        one by one if that fails. The run_ids started."""
        if len(batch) > 1:
            try:
                with self.sessions.begin() as session:
                    started = [self._start(session, due, self.clock()) for due in batch]
            except Exception:
                logger.info("a batch of %s fires failed; firing them one by one", len(batch))
            else:
                return [run_id for run_id in started if run_id is not None]
        return [run_id for due in batch if (run_id := self._fire(due)) is not None]

    def _fire(self, due: _Due) -> int | None:
        """Start the run and record the fire in one transaction; None if the job
        changed or another scheduler fired it first."""
        try:
            with self.sessions.begin() as session:
                return self._start(session, due, self.clock())
        except Conflict as exc:
            logger.info("not firing: %s", exc)
        except Exception:
            logger.exception("job %s: starting its %s run failed", due.job_id, due.trigger)
        return None

    def _start(self, session: Session, due: _Due, now: datetime) -> int | None:
        """Start the run of ``due`` and record the fire; None if the job changed since
        the plan (the next round decides again).

        Raises:
            Conflict: another scheduler fired it first.
        """
        job = job_q.find_job(session, due.job_id)
        if job is None or job.version != due.version:
            return None
        spec = self._spec(job)
        if spec is None:
            return None
        info = due.fire.info() if due.trigger == PERIODIC else None
        run_id = start_run(session, job, spec, spec.parameter_defaults(), job.creator or ACTOR,
                           now, trigger=due.trigger, trigger_info=info)
        q.record_fire(session, due.job_id, due.expected, due.fire.record_as, run_id,
                      due.failures, now)
        late = (now - due.fire.fire_at).total_seconds() if due.trigger == PERIODIC else 0.0
        logger.debug("job %s: run %s (%s, %.3f s after its time)", due.job_id, run_id,
                     due.trigger, late)
        return run_id
