"""``podium runs ...``: list, show, logs, cancel, repair and resume recorded runs, in the
local $PODIUM_HOME or on a Podium server (``--host``)."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

import click

from podium.cli.backend import (
    backend,
    finished_ok,
    local_only,
    remember_target,
    remote_options,
)
from podium.cli.main import EXIT_OK, EXIT_RUN_FAILED
from podium.log_lines import strip

if TYPE_CHECKING:
    from podium.cli.backend import Backend
    from podium.sdk.client import LogChunk

output_option = click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text",
    help="json prints the Jobs API runs/get or runs/list shape.",
)


@click.group()
@remote_options
def runs(ctx: click.Context, host: str | None, token: str | None) -> None:
    """Inspect and manage recorded runs, locally or on a server."""
    remember_target(ctx, host, token)


@runs.command("list")
@click.option("--limit", default=25, show_default=True, help="How many runs, newest first.")
@click.option("--offset", default=0, help="Skip this many runs.")
@click.option("--active-only", is_flag=True, help="Only runs that have not finished.")
@output_option
def list_(limit: int, offset: int, active_only: bool, output: str) -> None:
    """List runs, newest first."""
    page = backend().list_runs(limit, offset, active_only)
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
    run = backend().get_run(run_id)
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
    target = backend()
    out = _LogWriter(no_timestamps)
    chunk = _copy_rest(target, out, run_id, task_key, attempt, 0)
    while follow and attempt is None and chunk.running:
        time.sleep(0.2)
        latest = target.read_log(run_id, task_key, None, chunk.next_offset)
        if latest.name != chunk.name:  # a retry started: finish the last attempt's log
            _copy_rest(target, out, run_id, task_key, chunk.attempt_number, chunk.next_offset)
            click.echo(f"--- {latest.name} ---")
            latest = target.read_log(run_id, task_key, None, 0)
        out.write(latest.data)
        chunk = latest
    if follow:  # what the attempt wrote as it ended
        _copy_rest(target, out, run_id, task_key, chunk.attempt_number, chunk.next_offset)
    out.finish()


def _copy_rest(target: Backend, out: _LogWriter, run_id: int, task_key: str,
               attempt: int | None, offset: int) -> LogChunk:
    """Write the log from ``offset`` to its current end (a server sends it in pieces);
    the last piece read, which tells where the end is and whether the task still runs."""
    while True:
        chunk = target.read_log(run_id, task_key, attempt, offset)
        out.write(chunk.data)
        if not chunk.data:
            return chunk
        offset = chunk.next_offset


class _LogWriter:
    """Writes a growing log to stdout, optionally without the line stamps."""

    def __init__(self, strip_stamps: bool) -> None:
        self.strip_stamps = strip_stamps
        self.partial = b""  # an unfinished last line, held back while stripping

    def write(self, data: bytes) -> None:
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
    found = backend().get_output(run_id, task_key, attempt)
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
    click.echo(backend().cancel_run(run_id))


@runs.command()
@click.argument("run_id", type=int)
@click.option("--task", "tasks", multiple=True, metavar="TASK_KEY",
              help="Re-run this task (repeatable); default: every failed or canceled task.")
@output_option
def repair(run_id: int, tasks: tuple[str, ...], output: str) -> None:
    """Re-run the failed (or named) tasks of a finished run and everything downstream,
    keeping the results of the tasks that succeeded; follows the run to its end."""
    target = backend()
    click.echo(target.repair_run(run_id, list(tasks)), err=True)
    _finish(target, run_id, target.wait_run(run_id, output), output)


@runs.command()
@click.argument("run_id", type=int)
@output_option
def resume(run_id: int, output: str) -> None:
    """Continue a run whose engine stopped (e.g. was killed): tasks that succeeded are
    kept, attempts that were running are recorded as lost and retried.

    Local only: a server resumes its runs itself when it restarts."""
    local_only("podium runs resume")
    target = backend()
    _finish(target, run_id, target.wait_run(run_id, output), output)


def _finish(target: Backend, run_id: int, result: str, output: str) -> None:
    from podium.cli.run import _show_finished

    _show_finished(target.get_run(run_id), output)
    raise click.exceptions.Exit(EXIT_OK if finished_ok(result) else EXIT_RUN_FAILED)
