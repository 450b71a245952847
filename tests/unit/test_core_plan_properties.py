"""Property tests for podium.core.plan: simulate whole runs on random DAGs.

A small simulator plays the engine's part: it applies every Decision of advance(),
starts PENDING tasks, and finishes running ones with random outcomes (retrying through
should_retry). Whatever the DAG, run_ifs, branches, disabled tasks and outcomes, the
run must end with every task terminal and a run result, and no task may start before
all of its upstream tasks are terminal.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from podium.core.dag import Graph, upstream_of
from podium.core.plan import Decision, TaskRunState, advance, run_result
from podium.core.retry import should_retry
from podium.core.states import (
    CANCELED,
    FAILED,
    SUCCEEDED,
    TERMINAL,
    LifeCycleState,
    ResultState,
)
from podium.spec import JobSpec, RunIf, parse_job

L = LifeCycleState
R = ResultState
T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
STEP = timedelta(seconds=1)
OUTCOMES = [R.SUCCESS, R.SUCCESS, R.FAILED, R.TIMEDOUT, R.CANCELED, None]  # None: crash


@st.composite
def jobs(draw: st.DrawFn, max_tasks: int = 8) -> JobSpec:
    """A random valid job: any DAG shape, run_ifs, condition branches, disabled tasks,
    retries; tasks are listed in a shuffled order."""
    n = draw(st.integers(1, max_tasks))
    is_condition = [draw(st.sampled_from([False, False, True])) for _ in range(n)]
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        depends_on = []
        for up in sorted(draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else []):
            dep: dict[str, Any] = {"task_key": f"t{up}"}
            if is_condition[up] and draw(st.booleans()):
                dep["outcome"] = draw(st.sampled_from(["true", "false"]))
            depends_on.append(dep)
        data: dict[str, Any] = {
            "task_key": f"t{i}",
            "depends_on": depends_on,
            "run_if": draw(st.sampled_from(list(RunIf))).value,
            "disabled": draw(st.sampled_from([False, False, False, True])),
            "max_retries": draw(st.integers(0, 2)),
            "retry_on_timeout": draw(st.booleans()),
        }
        if is_condition[i]:
            data["condition_task"] = {"op": "EQUAL_TO", "left": "1", "right": "1"}
        else:
            data["shell_task"] = {"command": ["true"]}
        tasks.append(data)
    shuffled = draw(st.permutations(tasks))
    return parse_job({"name": "property", "tasks": shuffled})[0]


class Simulation:
    """The engine's side of a run, kept to what advance() needs."""

    def __init__(self, spec: JobSpec, data: st.DataObject) -> None:
        self.spec = spec
        self.data = data
        self.graph = Graph({t.task_key: t.upstream_keys for t in spec.tasks})
        self.states = {t.task_key: TaskRunState(t.task_key) for t in spec.tasks}
        self.now = T0
        self.canceling = False
        self.started: list[str] = []
        self.candidates: set[str] | None = None  # None: look at everything

    def upstream_terminal(self, key: str) -> bool:
        return all(self.states[u].is_terminal for u in self.graph.upstream[key])

    def apply(self, decisions: list[Decision]) -> None:
        for d in decisions:
            before = self.states[d.task_key]
            assert not before.is_terminal, f"terminal task {d.task_key} decided again: {d}"
            assert before.life_cycle_state in {L.BLOCKED, L.PENDING, L.WAITING_FOR_RETRY}
            if d.to is L.PENDING:
                assert not self.canceling
                assert before.life_cycle_state in {L.BLOCKED, L.WAITING_FOR_RETRY}
                assert self.upstream_terminal(d.task_key), f"{d.task_key} ready too early"
            else:
                assert d.to in TERMINAL and d.result is not None and d.message
            if before.life_cycle_state is L.BLOCKED and not self.canceling:
                # a blocked task is only decided once all its upstream tasks are done
                assert self.upstream_terminal(d.task_key)
            if d.to is L.SKIPPED:
                assert d.result in {R.UPSTREAM_FAILED, R.UPSTREAM_CANCELED, R.EXCLUDED,
                                    R.DISABLED, R.CANCELED}
            self.states[d.task_key] = replace(before, life_cycle_state=d.to,
                                              result_state=d.result, message=d.message)

    def finish(self, key: str, result: ResultState | None) -> None:
        """An attempt of ``key`` ended; None means the engine lost it (INTERNAL_ERROR)."""
        state = self.states[key]
        task = self.spec.task(key)
        if result is None:
            self.states[key] = replace(state, life_cycle_state=L.INTERNAL_ERROR)
        elif not self.canceling and should_retry(task, result, state.retries_used):
            delay = timedelta(seconds=self.data.draw(st.integers(0, 2), label="delay"))
            self.states[key] = replace(state, life_cycle_state=L.WAITING_FOR_RETRY,
                                       retries_used=state.retries_used + 1,
                                       retry_at=self.now + delay)
            return
        else:
            outcome = None
            if task.condition_task is not None and result is R.SUCCESS:
                outcome = self.data.draw(st.sampled_from(["true", "false"]), label="branch")
            self.states[key] = replace(state, life_cycle_state=L.TERMINATED,
                                       result_state=result, condition_outcome=outcome)
        assert self.candidates is not None
        self.candidates |= set(self.graph.children[key])

    def step(self, force_finish: bool) -> None:
        full = advance(self.spec, self.states, self.now, self.canceling, graph=self.graph)
        if self.candidates is not None and not self.canceling:
            # what the engine does on large runs: look only at what may have changed
            waiting = {k for k, s in self.states.items()
                       if s.life_cycle_state is L.WAITING_FOR_RETRY}
            limited = advance(self.spec, self.states, self.now,
                              candidates=self.candidates | waiting, graph=self.graph)
            assert limited == full
        self.apply(full)
        # advance() reaches a fixed point in one call
        assert advance(self.spec, self.states, self.now, self.canceling, graph=self.graph) == []
        if self.canceling:
            assert all(s.is_terminal or s.life_cycle_state is L.RUNNING
                       for s in self.states.values())
        self.candidates = set()
        for key, state in self.states.items():
            if state.life_cycle_state is L.PENDING:
                assert self.upstream_terminal(key), f"{key} started before its upstream"
                self.states[key] = replace(state, life_cycle_state=L.RUNNING,
                                           attempt_count=state.attempt_count + 1)
                self.started.append(key)
        for key in sorted(self.states):
            if self.states[key].life_cycle_state is not L.RUNNING:
                continue
            if self.canceling:
                self.finish(key, R.CANCELED)
            elif force_finish or self.data.draw(st.booleans(), label=f"finish {key}"):
                self.finish(key, self.data.draw(st.sampled_from(OUTCOMES), label=f"{key} ends"))
        self.now += STEP

    def run(self, cancel_at: int | None) -> None:
        n = len(self.states)
        for step in range(20 * n + 10):
            if all(s.is_terminal for s in self.states.values()):
                return
            if step == cancel_at:
                self.canceling = True
            self.step(force_finish=step >= 4 * n)
        raise AssertionError(f"the run did not finish: {self.states}")


def check_final(sim: Simulation) -> ResultState:
    states = sim.states
    assert all(s.is_terminal for s in states.values())
    for key, s in states.items():
        if s.life_cycle_state is L.SKIPPED:
            assert s.attempt_count == 0, f"{key} was skipped after it ran"
        elif s.life_cycle_state is L.TERMINATED:
            assert s.attempt_count > 0 or s.result_state is R.CANCELED
        if s.result_state is R.DISABLED:
            assert sim.spec.task(key).disabled
    result = run_result(sim.spec, states, canceled=sim.canceling)
    assert result is not None
    results = {s.result_state for s in states.values()}
    crashed = any(s.life_cycle_state is L.INTERNAL_ERROR for s in states.values())
    if sim.canceling:
        assert result is R.CANCELED
    elif results & FAILED or crashed:
        assert result in {R.FAILED, R.SUCCESS_WITH_FAILURES}
    elif results & CANCELED:
        assert result is R.CANCELED
    else:
        assert result is R.SUCCESS
        assert results <= SUCCEEDED | {R.EXCLUDED}
    return result


@settings(max_examples=200)
@given(jobs(), st.data())
def test_every_run_ends_with_every_task_terminal(spec: JobSpec, data: st.DataObject) -> None:
    sim = Simulation(spec, data)
    sim.run(cancel_at=None)
    check_final(sim)
    # every task that started had all its upstream tasks terminal (checked at start),
    # and nothing started twice without a retry in between
    for key in set(sim.started):
        assert sim.started.count(key) == sim.states[key].attempt_count
        assert sim.states[key].attempt_count <= sim.spec.task(key).max_retries + 1


@settings(max_examples=100)
@given(jobs(), st.integers(0, 6), st.data())
def test_canceled_runs_end_canceled(spec: JobSpec, cancel_at: int, data: st.DataObject) -> None:
    sim = Simulation(spec, data)
    sim.run(cancel_at=cancel_at)
    result = check_final(sim)
    # the run either ended before the cancel came, or ended CANCELED
    assert result is R.CANCELED or not sim.canceling


@given(jobs(), st.data())
def test_root_outcomes_decide_everything_in_one_call(spec: JobSpec, data: st.DataObject) -> None:
    """When the roots end (and nothing is disabled below them), one advance() call takes
    every remaining task either to PENDING or to a terminal skip, never further."""
    graph = Graph({t.task_key: t.upstream_keys for t in spec.tasks})
    roots = [k for k, ups in graph.upstream.items() if not ups]
    states = {k: TaskRunState(k) for k in graph.order}
    for key in roots:
        result = data.draw(st.sampled_from([R.SUCCESS, R.FAILED, R.TIMEDOUT, R.CANCELED]))
        outcome = "true" if spec.task(key).condition_task else None
        states[key] = TaskRunState(key, L.TERMINATED, result, attempt_count=1,
                                   condition_outcome=outcome)
    decisions = advance(spec, states, T0)
    decided = {d.task_key for d in decisions}
    assert not decided & set(roots)
    # positions strictly increase: decisions come in topological order
    positions = [graph.position[d.task_key] for d in decisions]
    assert positions == sorted(positions)
    work = dict(states)
    for d in decisions:
        work[d.task_key] = replace(work[d.task_key], life_cycle_state=d.to, result_state=d.result)
    # a task still BLOCKED waits for an upstream task, and above it for one now PENDING
    for key, s in work.items():
        if s.life_cycle_state is L.BLOCKED:
            assert any(not work[u].is_terminal for u in graph.upstream[key])
            assert any(work[u].life_cycle_state is L.PENDING
                       for u in upstream_of(graph.upstream, key))
        else:
            assert s.is_terminal or s.life_cycle_state is L.PENDING
