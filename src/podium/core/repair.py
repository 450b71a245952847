"""Which tasks a repair re-runs: the chosen ones and everything downstream of them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from podium.core.dag import downstream_of
from podium.core.plan import TaskRunState
from podium.core.states import REPAIRABLE, LifeCycleState
from podium.spec.models import JobSpec


def plan_repair(
    spec: JobSpec,
    tasks: Mapping[str, TaskRunState],
    rerun: Iterable[str] | None = None,
) -> set[str]:
    """The task keys to reset for a repair.

    Args:
        spec: the run's job spec.
        tasks: the finished run's task states.
        rerun: task keys to re-run; None means every failed, timed-out or canceled task
            (including the UPSTREAM_ ones).

    Raises:
        ValueError: a named task is not in the job; the message suggests the nearest.
    """
    keys = [t.task_key for t in spec.tasks]
    if rerun is None:
        roots = {
            k for k, t in tasks.items()
            if t.result_state in REPAIRABLE or t.life_cycle_state is LifeCycleState.INTERNAL_ERROR
        }
    else:
        roots = set(rerun)
        for key in sorted(roots - set(keys)):
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; tasks: {', '.join(keys)}"
            raise ValueError(f"no task {key!r} in this run{hint}")
    deps = {t.task_key: t.upstream_keys for t in spec.tasks}
    return roots | downstream_of(deps, roots)
