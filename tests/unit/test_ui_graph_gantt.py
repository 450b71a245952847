"""The task graph's cytoscape elements and the run's SVG Gantt chart (podium.ui)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from podium.ui.gantt import gantt_svg
from podium.ui.graph import graph_elements

SEED = Path(__file__).parent.parent.parent / "examples" / "seed_pipeline.yaml"
SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC in epoch ms


def seed_tasks() -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = yaml.safe_load(SEED.read_text())["tasks"]
    return tasks


def nodes(elements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["data"]["id"]: e["data"] for e in elements if e["group"] == "nodes"}


def edges(elements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["data"]["id"]: e["data"] for e in elements if e["group"] == "edges"}


def test_seed_pipeline_graph_has_a_node_per_task_and_an_edge_per_dependency() -> None:
    elements = graph_elements(seed_tasks())
    by_id = nodes(elements)
    assert list(by_id) == ["clicks_ingest", "orders_ingest", "match", "enough_rows",
                           "build_features", "persist_features", "drift", "drift_found",
                           "retrain_requested", "train"]
    assert {k: n["type"] for k, n in by_id.items()} == {
        "clicks_ingest": "spark_python", "orders_ingest": "spark_python", "match": "sql",
        "enough_rows": "condition", "build_features": "notebook",
        "persist_features": "sql", "drift": "drift_check", "drift_found": "condition",
        "retrain_requested": "condition", "train": "spark_python",
    }
    assert all(n["label"] == k and n["state"] == "" and k in n["title"]
               for k, n in by_id.items())
    # Two into match, a chain to persist_features, then two branches joining at train.
    assert {(e["source"], e["target"], e["label"]) for e in edges(elements).values()} == {
        ("clicks_ingest", "match", ""), ("orders_ingest", "match", ""),
        ("match", "enough_rows", ""), ("enough_rows", "build_features", "true"),
        ("build_features", "persist_features", ""), ("persist_features", "drift", ""),
        ("drift", "drift_found", ""), ("persist_features", "retrain_requested", ""),
        ("drift_found", "train", "true"), ("retrain_requested", "train", "true"),
    }
    assert "enough_rows->build_features" in edges(elements)
    assert "after enough_rows (true)" in by_id["build_features"]["title"]


def test_run_graph_carries_each_task_state() -> None:
    tasks = seed_tasks()
    states = {
        "clicks_ingest": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"},
        "match": {"life_cycle_state": "RUNNING", "state_message": "attempt 2"},
        "train": {"life_cycle_state": "SKIPPED", "result_state": "UPSTREAM_FAILED"},
    }
    for task in tasks:
        task["state"] = states.get(task["task_key"], {"life_cycle_state": "BLOCKED"})
    tasks[3]["condition_task"]["outcome"] = "false"
    by_id = nodes(graph_elements(tasks))
    assert by_id["clicks_ingest"]["state"] == "SUCCESS"
    assert by_id["match"]["state"] == "RUNNING"
    assert "attempt 2" in by_id["match"]["title"]
    assert by_id["train"]["state"] == "UPSTREAM_FAILED"
    assert by_id["persist_features"]["state"] == "BLOCKED"
    assert "outcome: false" in by_id["enough_rows"]["title"]


def test_dependencies_on_unknown_tasks_are_left_out() -> None:
    elements = graph_elements([{"task_key": "a", "depends_on": [{"task_key": "gone"}],
                                "shell_task": {"command": ["true"]}}])
    assert edges(elements) == {}
    assert nodes(elements)["a"]["type"] == "shell"


def attempt(n: int, start: int, end: int, result: str | None, life: str = "TERMINATED"
            ) -> dict[str, Any]:
    state = {"life_cycle_state": life, **({"result_state": result} if result else {})}
    return {"attempt_number": n, "start_time": T0 + start, "end_time": T0 + end if end else 0,
            "state": state}


def run_dict(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"run_id": 7, "start_time": T0, "tasks": tasks}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element, state: str | None = None) -> list[ET.Element]:
    found = [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]
    return [r for r in found if state is None or state in r.get("class", "").split()]


def test_gantt_has_a_row_per_task_and_a_bar_per_attempt_with_retries() -> None:
    run = run_dict([
        {"task_key": "ingest", "attempts": [
            attempt(0, 2_000, 10_000, "FAILED"), attempt(1, 12_000, 30_000, "SUCCESS")]},
        {"task_key": "match", "depends_on": [{"task_key": "ingest"}],
         "attempts": [attempt(0, 31_000, 60_000, "SUCCESS")]},
        {"task_key": "train", "depends_on": [{"task_key": "match"}], "attempts": [],
         "state": {"life_cycle_state": "BLOCKED"}},
    ])
    root = parse(gantt_svg(run))
    assert root.get("width") == "100%" and root.get("viewBox", "").startswith("0 0 ")
    rows = [g for g in root.iter(f"{SVG}g") if g.get("class") == "row"]
    assert [g.get("data-task") for g in rows] == ["ingest", "match", "train"]
    assert len(bars(rows[0], "FAILED")) == 1 and len(bars(rows[0], "SUCCESS")) == 1
    assert len(bars(rows[1], "SUCCESS")) == 1 and bars(rows[2]) == []
    # Queue time before the first attempt, and the wait between the retries, drawn lighter.
    waits = [r.findtext(f"{SVG}title") for r in bars(rows[0], "wait")]
    assert waits == ["ingest: queued 2.0s", "ingest: waiting for retry 2.0s"]
    assert bars(rows[1], "wait")[0].findtext(f"{SVG}title") == "match: queued 1.0s"
    tip = bars(rows[0], "FAILED")[0].findtext(f"{SVG}title") or ""
    assert "ingest · attempt 0 · FAILED · 8.0s" in tip
    assert "started +2s (2026-01-01 00:00:02 UTC)" in tip and "ended +10s" in tip
    # The retry is to the right of the failed attempt.
    failed, ok = bars(rows[0], "FAILED")[0], bars(rows[0], "SUCCESS")[0]
    assert float(ok.get("x", 0)) > float(failed.get("x", 0)) + float(failed.get("width", 0))
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "axis")
    ticks = [t.text or "" for t in axis.iter(f"{SVG}text")]
    assert all(re.fullmatch(r"\d+[smh](\d+[sm])?", t) for t in ticks)
    assert ticks[0] == "0s" and 3 <= len(ticks) <= 7
    assert "blocked" in "".join(rows[2].itertext())


def test_gantt_escapes_text() -> None:
    run = run_dict([{"task_key": "a<b>&'\"", "attempts": [attempt(0, 0, 1_000, "SUCCESS")]}])
    svg = gantt_svg(run)
    assert "a<b>" not in svg and "a&lt;b&gt;&amp;" in svg
    row = next(g for g in parse(svg).iter(f"{SVG}g") if g.get("class") == "row")
    assert row.get("data-task") == "a<b>&'\""


def test_gantt_draws_a_running_attempt_to_now() -> None:
    run = run_dict([
        {"task_key": "done", "attempts": [attempt(0, 0, 10_000, "SUCCESS")]},
        {"task_key": "busy", "attempts": [attempt(0, 10_000, 0, None, "RUNNING")]},
    ])
    root = parse(gantt_svg(run, now_ms=T0 + 40_000))
    done, busy = bars(root, "SUCCESS")[0], bars(root, "RUNNING")[0]
    width = float(done.get("width", 0))
    assert float(busy.get("width", 0)) == pytest.approx(3 * width, abs=0.2)
    assert "30.0s so far" in (busy.findtext(f"{SVG}title") or "")
    assert "still running" in (busy.findtext(f"{SVG}title") or "")
    # Without now_ms the chart ends at the latest time it knows.
    root = parse(gantt_svg(run))
    assert float(bars(root, "RUNNING")[0].get("width", 0)) < width


def test_gantt_of_a_run_with_no_attempts_says_so() -> None:
    for run in ({"run_id": 1, "start_time": T0}, run_dict([{"task_key": "a", "attempts": []}])):
        root = parse(gantt_svg(run))
        assert "no attempts yet" in "".join(root.itertext())
        assert bars(root) == []
