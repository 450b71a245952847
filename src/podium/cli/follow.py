"""Follow a run that another process executes (a server's engine) by polling it: a live
table on a terminal, one line per task change otherwise, nothing with ``--output json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podium.cli.main import EXIT_RUN_FAILED
from podium.cli.render import seconds, state_text

FINISHED = ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")


def follow_run(fetch: Callable[[], dict[str, Any]], output: str,
               poll_seconds: float = 0.5) -> str:
    """Poll ``fetch`` (a runs/get) until the run ends; its result state.

    Ctrl-C stops following, not the run.
    """
    console = Console(stderr=True)
    run = fetch()
    run_id = run["run_id"]
    if output != "json":
        console.print(f"run {run_id}: {len(run.get('tasks', []))} tasks · following it "
                      "(Ctrl-C stops following, not the run)", highlight=False)
    try:
        if output == "json":
            return _poll(fetch, run, poll_seconds, lambda _run: None)
        if not console.is_terminal:
            seen: dict[str, tuple[Any, ...]] = {}
            return _poll(fetch, run, poll_seconds, lambda r: _print_changes(console, r, seen))
        with Live(run_table(run), console=console, refresh_per_second=4,
                  transient=True) as live:
            return _poll(fetch, run, poll_seconds, lambda r: live.update(run_table(r)))
    except KeyboardInterrupt:
        console.print(f"stopped following run {run_id}; it goes on (stop it with "
                      f"`podium runs cancel {run_id}`)", highlight=False)
        raise click.exceptions.Exit(EXIT_RUN_FAILED) from None


def _poll(fetch: Callable[[], dict[str, Any]], run: dict[str, Any], poll_seconds: float,
          show: Callable[[dict[str, Any]], None]) -> str:
    while True:
        show(run)
        state = run["state"]
        if state["life_cycle_state"] in FINISHED:
            return str(state.get("result_state") or state["life_cycle_state"])
        time.sleep(poll_seconds)
        run = fetch()


def _print_changes(console: Console, run: dict[str, Any],
                   seen: dict[str, tuple[Any, ...]]) -> None:
    """One line for each task whose state or attempt changed since the last poll."""
    for task in run.get("tasks", []):
        state = task["state"]
        now = (state["life_cycle_state"], state.get("result_state"), task["attempt_number"])
        key = task["task_key"]
        if seen.get(key, ("BLOCKED", None, 0)) == now:
            continue
        seen[key] = now
        life, result, number = now
        if life in ("BLOCKED", "PENDING", "QUEUED"):
            continue
        word = f"{life} {result}" if result else life
        attempt = f" (attempt {number})" if number else ""
        message = f": {state['state_message']}" if state.get("state_message") else ""
        console.print(f"{key}{attempt} {word}{message}", highlight=False)


def run_table(run: dict[str, Any]) -> Table:
    """The run's tasks as a table, from a runs/get answer."""
    state = run["state"]
    word = state.get("result_state") or state["life_cycle_state"]
    table = Table(title=f"run {run['run_id']}: {word}", title_justify="left", expand=False)
    for column in ("task", "state", "attempt", "duration", "message"):
        table.add_column(column)
    now_ms = time.time() * 1000
    for task in run.get("tasks", []):
        task_state = task["state"]
        started, ended = task.get("start_time") or 0, task.get("end_time") or 0
        duration = seconds(int((ended or now_ms) - started)) if started else ""
        table.add_row(
            task["task_key"],
            state_text(task_state["life_cycle_state"], task_state.get("result_state")),
            str(task["attempt_number"]) if task.get("attempts") else "", duration,
            Text(task_state.get("state_message", "")[:80], style="dim"),
        )
    return table
