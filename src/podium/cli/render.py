"""Rich rendering of runs for people: the live view, the summary, listings."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from podium.engine import RunEvent

STYLE = {
    "SUCCESS": "green", "SUCCESS_WITH_FAILURES": "yellow", "FAILED": "red", "TIMEDOUT": "red",
    "CANCELED": "magenta", "UPSTREAM_FAILED": "red dim", "UPSTREAM_CANCELED": "magenta dim",
    "EXCLUDED": "dim", "DISABLED": "dim", "RUNNING": "cyan", "PENDING": "blue",
    "WAITING_FOR_RETRY": "yellow", "BLOCKED": "dim", "TERMINATING": "magenta",
    "INTERNAL_ERROR": "red bold",
}


def state_text(life: str, result: str | None) -> Text:
    word = result or life
    return Text(word, style=STYLE.get(word, ""))


def seconds(ms: int) -> str:
    if ms <= 0:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{ms // 60_000} min {ms % 60_000 // 1000} s"


class LiveView:
    """Tracks task states from engine events and renders them as a table."""

    def __init__(self, task_keys: list[str]) -> None:
        self.rows: dict[str, dict[str, Any]] = {
            k: {"life": "BLOCKED", "result": None, "attempt": None, "started": None,
                "ended": None, "message": ""}
            for k in task_keys
        }
        self.run_state = "PENDING"

    def update(self, event: RunEvent) -> None:
        if event.task_key is None:
            self.run_state = (event.result_state or event.life_cycle_state).value
            if event.life_cycle_state.value == "QUEUED":
                self.run_state = f"queued: {event.message}"
            return
        row = self.rows[event.task_key]
        row["life"] = event.life_cycle_state.value
        row["result"] = event.result_state.value if event.result_state else None
        row["message"] = event.message
        if event.life_cycle_state.value == "RUNNING":
            row["attempt"] = event.attempt_number
            row["started"] = row["started"] or time.monotonic()
            row["ended"] = None
        elif event.life_cycle_state.value in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
            row["ended"] = time.monotonic()

    def __rich__(self) -> Table:
        table = Table(title=f"run: {self.run_state}", title_justify="left", expand=False)
        for column in ("task", "state", "attempt", "duration", "message"):
            table.add_column(column)
        now = time.monotonic()
        for key, row in self.rows.items():
            duration = ""
            if row["started"] is not None:
                duration = f"{(row['ended'] or now) - row['started']:.1f} s"
            attempt = "" if row["attempt"] is None else str(row["attempt"])
            table.add_row(key, state_text(row["life"], row["result"]), attempt, duration,
                          Text(row["message"][:80], style="dim"))
        return table


def event_line(event: RunEvent) -> str | None:
    """One plain line for a task event (or the run's being queued) worth printing when
    not on a terminal."""
    life = event.life_cycle_state.value
    if event.task_key is None:
        return f"queued: {event.message}" if life == "QUEUED" else None
    if life not in ("RUNNING", "TERMINATED", "SKIPPED", "WAITING_FOR_RETRY", "INTERNAL_ERROR"):
        return None
    word = f"{life} {event.result_state.value}" if event.result_state else life
    attempt = f" (attempt {event.attempt_number})" if event.attempt_number else ""
    message = f": {event.message}" if event.message else ""
    return f"{event.task_key}{attempt} {word}{message}"


def print_run(console: Console, run: dict[str, Any]) -> None:
    """The summary of one run: its state, then a table of its tasks."""
    state = run["state"]
    result = state.get("result_state")
    header = Text(f"run {run['run_id']} of job {run['job_id']} ({run['run_name']}): ")
    header.append_text(state_text(state["life_cycle_state"], result))
    if run.get("run_duration"):
        header.append(f" in {seconds(run['run_duration'])}")
    console.print(header)
    if state.get("state_message"):
        console.print(f"  {state['state_message']}", style="dim")
    params = ", ".join(f"{p['name']}={p['value']}" for p in run.get("job_parameters", []))
    if params:
        console.print(f"  parameters: {params}")
    table = Table(show_edge=False, pad_edge=False)
    for column in ("task", "state", "attempts", "duration", "task values"):
        table.add_column(column, overflow="fold")
    for task in run.get("tasks", []):
        values = json.dumps(task["task_values"]) if task["task_values"] else ""
        table.add_row(
            task["task_key"],
            state_text(task["state"]["life_cycle_state"], task["state"].get("result_state")),
            str(len(task["attempts"])), seconds(task["execution_duration"]),
            values[:60] + ("…" if len(values) > 60 else ""),
        )
    console.print(table)
    for task in run.get("tasks", []):
        message = task["state"].get("state_message")
        if message and task["state"].get("result_state") in ("FAILED", "TIMEDOUT"):
            log = task["attempts"][-1]["log_path"] if task["attempts"] else ""
            console.print(f"[red]{task['task_key']}[/red]: {message}", highlight=False)
            if log:
                console.print(f"  log: {log}", style="dim", highlight=False)
    logs = [t["attempts"][-1]["log_path"] for t in run.get("tasks", []) if t["attempts"]]
    if logs:
        folder = str(Path(logs[0]).parent)
        console.print(f"logs: {folder}/<task>.<attempt>.log  (podium runs logs "
                      f"{run['run_id']} TASK_KEY)", style="dim", highlight=False)


def print_runs(console: Console, runs: list[dict[str, Any]]) -> None:
    table = Table()
    for column in ("run_id", "job", "state", "started", "duration", "message"):
        table.add_column(column)
    for run in runs:
        started = datetime.fromtimestamp(run["start_time"] / 1000, UTC).astimezone()
        table.add_row(
            str(run["run_id"]), run["run_name"],
            state_text(run["state"]["life_cycle_state"], run["state"].get("result_state")),
            started.strftime("%Y-%m-%d %H:%M:%S"), seconds(run["run_duration"]),
            Text(run["state"].get("state_message", "")[:60], style="dim"),
        )
    console.print(table)


def print_output(console: Console, found: dict[str, Any]) -> None:
    """A task's output for people: its state, each output section, the end of its log."""
    meta = found["metadata"]
    header = Text(f"{meta['task_key']} (attempt {meta['attempt_number']}): ")
    header.append_text(state_text(meta["state"]["life_cycle_state"],
                                  meta["state"].get("result_state")))
    console.print(header)
    if "error" in found:
        console.print(f"error: {found['error']}", style="red", highlight=False)
    if found.get("error_trace"):
        console.print("error trace:", style="bold")
        console.print(found["error_trace"].rstrip(), highlight=False, markup=False)
    for key, value in found.items():
        if key.endswith("_output"):
            console.print(f"{key}:", style="bold")
            console.print_json(json.dumps(value, default=str))
    if found.get("logs"):
        note = " (the end of it)" if found.get("logs_truncated") else ""
        console.print(f"log{note}: {meta['log_path']}", style="bold", highlight=False)
        console.print(found["logs"].rstrip(), highlight=False, markup=False)
