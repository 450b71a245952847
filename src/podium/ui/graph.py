"""A job's task graph as cytoscape.js elements, for ``static/graph.js``.

Pure: takes the Jobs API task dicts (a job's ``settings.tasks`` or a run's ``tasks`` from
``runs/get``) and returns plain dicts that the page embeds as JSON. The page reads them
with ``podiumGraphFrom(containerId, dataId)``.
"""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["graph_elements", "task_state", "task_type"]


def task_type(task: dict[str, Any]) -> str:
    """The task's type without the ``_task`` suffix (``notebook``, ``sql``, ...), or ``""``.

    The type is the one ``*_task`` field holding an object, as the Jobs API spells it.
    """
    for name, value in task.items():
        if name.endswith("_task") and isinstance(value, dict):
            return name.removesuffix("_task")
    return ""


def task_state(task: dict[str, Any]) -> str:
    """The state to show for a task run: its result when it has one, else where it is in its
    life (``RUNNING``, ``BLOCKED``, ...); ``""`` for a job's task, which has no state."""
    state = task.get("state")
    if not isinstance(state, dict):
        return ""
    return str(state.get("result_state") or state.get("life_cycle_state") or "")


def _summary(task: dict[str, Any], kind: str, state: str) -> str:
    key = str(task.get("task_key", ""))
    parts = [f"{key} ({kind or 'task'})"]
    if state:
        parts.append(f"state: {state}")
    outcome = (task.get("condition_task") or {}).get("outcome")
    if outcome is not None:
        parts.append(f"outcome: {outcome}")
    duration = task.get("execution_duration")
    if isinstance(duration, int) and duration > 0:
        parts.append(f"ran {duration / 1000:.1f}s")
    attempts = task.get("attempts")
    if isinstance(attempts, list) and len(attempts) > 1:
        parts.append(f"{len(attempts)} attempts")
    ups = [_dep_text(d) for d in task.get("depends_on") or []]
    if ups:
        parts.append("after " + ", ".join(ups))
    if task.get("disabled"):
        parts.append("disabled")
    message = (task.get("state") or {}).get("state_message") if state else None
    if message:
        parts.append(str(message))
    return "; ".join(parts)


def _dep_text(dep: dict[str, Any]) -> str:
    key = str(dep.get("task_key", ""))
    return f"{key} ({dep['outcome']})" if dep.get("outcome") is not None else key


def graph_elements(tasks: list[dict[str, Any]], critical: tuple[str, ...] = ()
                   ) -> list[dict[str, Any]]:
    """Cytoscape elements for ``tasks``: one node per task, one edge per dependency.

    Node ``data``: ``id`` and ``label`` (the task key), ``type`` (``notebook``, ``sql``,
    ...), ``state`` (result or life-cycle state, ``""`` for a job) and ``title`` (a text
    summary for tooltips and screen readers). Edge ``data``: ``id``
    (``"upstream->task"``), ``source``, ``target`` and ``label`` (the condition outcome,
    ``"true"``/``"false"``, or ``""``). Dependencies on keys not among ``tasks`` are left
    out, so a partial list still renders. The tasks of ``critical`` (a chain, in order)
    and the edges between them get ``critical: true``.
    """
    on_path = set(critical)
    path_edges = set(itertools.pairwise(critical))
    keys = {str(t.get("task_key", "")) for t in tasks}
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for task in tasks:
        key = str(task.get("task_key", ""))
        kind, state = task_type(task), task_state(task)
        nodes.append({"group": "nodes", "data": {
            "id": key, "label": key, "type": kind, "state": state,
            "title": _summary(task, kind, state)
            + ("; on the critical path" if key in on_path else ""),
            "critical": key in on_path,
        }})
        for dep in task.get("depends_on") or []:
            up = str(dep.get("task_key", ""))
            if up not in keys:
                continue
            outcome = dep.get("outcome")
            edges.append({"group": "edges", "data": {
                "id": f"{up}->{key}", "source": up, "target": key,
                "label": "" if outcome is None else str(outcome),
                "critical": (up, key) in path_edges,
            }})
    return nodes + edges
