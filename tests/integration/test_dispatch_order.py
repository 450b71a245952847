"""Critical-path-first dispatch in the engine: when more tasks are ready than slots are
free (the ``podium`` fixture's engine has 2), the task with the longest expected path
ahead starts first — by graph depth with no history, by the job's recent durations once
it has some."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.errors import InvalidArgument
from podium.services import Podium, open_podium
from tests.conftest import settings_for
from tests.integration.helpers import job, run_job, tasks_by_key


def sleep(key: str, seconds: float, *after: str) -> dict[str, object]:
    return {"task_key": key, "shell_task": {"command": ["sleep", str(seconds)]},
            "depends_on": [{"task_key": k} for k in after]}


def start_order(run: dict[str, object]) -> list[str]:
    tasks = tasks_by_key(run)  # type: ignore[arg-type]
    return sorted(tasks, key=lambda k: (tasks[k]["start_time"], k))


def test_without_history_the_deeper_chain_starts_first(podium: Podium, tmp_path: Path
                                                       ) -> None:
    spec = job([sleep("root", 0), sleep("a_short", 0.3, "root"), sleep("b_short", 0.3, "root"),
                sleep("c_chain", 0.3, "root"), sleep("d_tail", 0.3, "c_chain")], tmp_path)
    order = start_order(run_job(podium, spec))
    # In spec order b_short would take the second slot; the chain c -> d is longer.
    assert order.index("b_short") > max(order.index("a_short"), order.index("c_chain")), order


def test_with_history_the_longest_task_starts_first(podium: Podium, tmp_path: Path) -> None:
    def spec(slow: str) -> object:
        return job([sleep("x", 1.0 if slow == "x" else 0.05),
                    sleep("y", 1.0 if slow == "y" else 0.05),
                    sleep("z", 1.0 if slow == "z" else 0.05)], tmp_path, name="skewed")

    for _ in range(3):  # the history: z is the long one
        run_job(podium, spec("z"))  # type: ignore[arg-type]
    order = start_order(run_job(podium, spec("z")))  # type: ignore[arg-type]
    # Two slots, three ready tasks: z (the longest) starts in the first two, one of the
    # short ones waits; in spec order z would have been the one to wait.
    assert order[-1] != "z", order


def test_the_spec_order_can_be_chosen_and_a_bad_order_is_refused(home: Path,
                                                                 tmp_path: Path) -> None:
    podium = open_podium(settings_for(home, PODIUM_MAX_PARALLEL_TASKS="2",
                                      PODIUM_DISPATCH_ORDER="spec"))
    try:
        spec = job([sleep("root", 0), sleep("a_short", 0.3, "root"),
                    sleep("b_short", 0.3, "root"), sleep("c_chain", 0.3, "root"),
                    sleep("d_tail", 0.3, "c_chain")], tmp_path)
        order = start_order(run_job(podium, spec))
    finally:
        podium.close()
    assert order.index("c_chain") > max(order.index("a_short"), order.index("b_short")), order
    with pytest.raises(InvalidArgument, match="dispatch_order: expected one of "
                                              "critical_path, spec, got 'lifo'"):
        settings_for(home, PODIUM_DISPATCH_ORDER="lifo")
