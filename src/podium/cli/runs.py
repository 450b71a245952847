"""``podium runs ...``: list, show, logs, cancel, repair and resume recorded runs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from podium.cli.main import EXIT_OK, EXIT_RUN_FAILED
from podium.log_lines import strip

output_option = click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text",
    help="json prints the Jobs API runs/get or runs/list shape.",
)


@click.group()
def runs() -> None:
    """Inspect and manage runs recorded in $PODIUM_HOME."""


@runs.command("list")
@click.option("--limit", default=25, show_default=True, help="How many runs, newest first.")
@click.option("--offset", default=0, help="Skip this many runs.")
@click.option("--active-only", is_flag=True, help="Only runs that have not finished.")
@output_option
def list_(limit: int, offset: int, active_only: bool, output: str) -> None:
    """List runs, newest first."""
    from podium.services import list_runs, open_podium

    page = list_runs(open_podium(), limit=limit, offset=offset, active_only=active_only)
    if output == "json":
        click.echo(json.dumps(page, indent=2))
        return
    from rich.console import Console

    from podium.cli.render import print_runs

    if not page["runs"]:
        click.echo("no runs yet; start one with `podium run SPEC_FILE`")
        return
    print_runs(Console(), page["runs"])
    if page["has_more"]:
        click.echo(f"more runs: --offset {offset + limit}")


@runs.command()
@click.argument("run_id", type=int)
@output_option
def show(run_id: int, output: str) -> None:
    """Show a run: its tasks, states, attempts, durations and task values."""
    from podium.services import get_run, open_podium

    run = get_run(open_podium(), run_id)
    if output == "json":
        click.echo(json.dumps(run, indent=2))
        return
    from rich.console import Console

    from podium.cli.render import print_run

    print_run(Console(), run)


@runs.command()
@click.argument("run_id", type=int)
@click.argument("task_key")
@click.option("--attempt", type=int, default=None, help="Attempt number (default: the latest).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the task runs.")
@click.option("--no-timestamps", is_flag=True,
              help="Leave out the time and stream that start each line.")
def logs(run_id: int, task_key: str, attempt: int | None, follow: bool,
         no_timestamps: bool) -> None:
    """Print the log of one task attempt."""
    from podium.services import attempt_running, log_path, open_podium

    podium = open_podium()
    path = log_path(podium, run_id, task_key, attempt)
    out = _LogCopier(no_timestamps)
    offset = out.copy(path, 0)
    while follow and attempt is None and attempt_running(podium, run_id, task_key):
        time.sleep(0.2)
        latest = log_path(podium, run_id, task_key)
        if latest != path:
            out.copy(path, offset)
            click.echo(f"--- {latest.name} ---")
            path, offset = latest, 0
        offset = out.copy(path, offset)
    if follow:
        out.copy(path, offset)
    out.finish()


class _LogCopier:
    """Copies a growing log to stdout, optionally without the line stamps."""

    def __init__(self, strip_stamps: bool) -> None:
        self.strip_stamps = strip_stamps
        self.partial = b""  # an unfinished last line, held back while stripping

    def copy(self, path: Path, offset: int) -> int:
        """Write ``path`` from ``offset`` to stdout; return the new offset."""
        try:
            with open(path, "rb") as src:
                src.seek(offset)
                data = src.read()
        except FileNotFoundError:
            return offset
        self._write(data)
        return offset + len(data)

    def _write(self, data: bytes) -> None:
        if self.strip_stamps:
            *lines, self.partial = (self.partial + data).split(b"\n")
            data = b"".join(_unstamped(line) + b"\n" for line in lines)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def finish(self) -> None:
        """Write the held-back unfinished last line, if any."""
        partial, self.partial = self.partial, b""
        if partial:
            sys.stdout.buffer.write(_unstamped(partial))
            sys.stdout.flush()


def _unstamped(line: bytes) -> bytes:
    return strip(line.decode(errors="replace")).encode()


@runs.command()
@click.argument("run_id", type=int)
@click.argument("task_key")
@click.option("--attempt", type=int, default=None, help="Attempt number (default: the latest).")
@output_option
def output(run_id: int, task_key: str, attempt: int | None, output: str) -> None:
    """Show a task's output (notebook result, SQL rows, HTTP response, error, log tail),
    as the Jobs API runs/get-output does."""
    from podium.services import get_output, open_podium

    found = get_output(open_podium(), run_id, task_key, attempt)
    if output == "json":
        click.echo(json.dumps(found, indent=2))
        return
    from rich.console import Console

    from podium.cli.render import print_output

    print_output(Console(), found)


@runs.command()
@click.argument("run_id", type=int)
def cancel(run_id: int) -> None:
    """Cancel a running run: its processes get SIGTERM (then SIGKILL), nothing more starts."""
    from podium.services import cancel_run, open_podium

    click.echo(cancel_run(open_podium(), run_id))


@runs.command()
@click.argument("run_id", type=int)
@click.option("--task", "tasks", multiple=True, metavar="TASK_KEY",
              help="Re-run this task (repeatable); default: every failed or canceled task.")
@output_option
def repair(run_id: int, tasks: tuple[str, ...], output: str) -> None:
    """Re-run the failed (or named) tasks of a finished run and everything downstream,
    keeping the results of the tasks that succeeded."""
    from podium.services import open_podium, repair_run

    podium = open_podium()
    keys = repair_run(podium, run_id, list(tasks) or None)
    click.echo(f"repairing run {run_id}: re-running {', '.join(keys)}", err=True)
    _drive(podium, run_id, output)


@runs.command()
@click.argument("run_id", type=int)
@output_option
def resume(run_id: int, output: str) -> None:
    """Continue a run whose engine stopped (e.g. was killed): tasks that succeeded are
    kept, attempts that were running are recorded as lost and retried."""
    from podium.services import open_podium

    _drive(open_podium(), run_id, output)


def _drive(podium: Any, run_id: int, output: str) -> None:
    from podium.cli.run import _execute_with_view, _show_finished
    from podium.services import get_run

    keys = [t["task_key"] for t in get_run(podium, run_id)["tasks"]]
    result = _execute_with_view(podium, run_id, keys, output)
    _show_finished(get_run(podium, run_id), output)
    raise click.exceptions.Exit(
        EXIT_OK if result.value in ("SUCCESS", "SUCCESS_WITH_FAILURES") else EXIT_RUN_FAILED
    )
