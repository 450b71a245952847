"""``podium run`` and ``podium validate``."""

from __future__ import annotations

import json
from typing import Any

import click

from podium.cli.main import EXIT_OK, EXIT_RUN_FAILED


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--param")
        out[name] = value
    return out


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a job parameter (repeatable); overrides the spec's default.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              help="json prints the finished run as the Jobs API runs/get does.")
def run(spec_file: str, params: tuple[str, ...], output: str) -> None:
    """Run the job in SPEC_FILE (.yaml, .json or .py) to its end, showing live progress.

    Exit code 0 when the run succeeds, 1 when it fails or is canceled, 2 for a bad
    spec or bad arguments. Ctrl-C cancels the run cleanly.
    """
    from podium.services import get_run, open_podium, submit_run
    from podium.spec import load_job

    parameters = parse_params(params)
    loaded = load_job(spec_file)
    _warn(loaded.warnings)
    podium = open_podium()
    run_id = submit_run(podium, loaded, parameters)
    result = _execute_with_view(podium, run_id, [t.task_key for t in loaded.spec.tasks], output)
    finished = get_run(podium, run_id)
    _show_finished(finished, output)
    raise click.exceptions.Exit(
        EXIT_OK if result.value in ("SUCCESS", "SUCCESS_WITH_FAILURES") else EXIT_RUN_FAILED
    )


def _execute_with_view(podium: Any, run_id: int, keys: list[str], output: str) -> Any:
    """Drive the run; a live table on a terminal, one line per task event otherwise."""
    from rich.console import Console
    from rich.live import Live

    from podium.cli.render import LiveView, event_line
    from podium.services import execute_run

    console = Console(stderr=True)
    if output == "json":
        return execute_run(podium, run_id, cancel_on_signals=True)
    logs = podium.settings.logs_dir / str(run_id)
    console.print(f"run {run_id}: {len(keys)} tasks · logs in {logs}")
    if not console.is_terminal:
        def line(event: Any) -> None:
            text = event_line(event)
            if text:
                console.print(text, highlight=False)
        return execute_run(podium, run_id, on_event=line, cancel_on_signals=True)
    view = LiveView(keys)
    with Live(view, console=console, refresh_per_second=8, transient=True):
        return execute_run(podium, run_id, on_event=view.update, cancel_on_signals=True)


def _show_finished(finished: dict[str, Any], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(finished, indent=2))
        return
    from rich.console import Console

    from podium.cli.render import print_run

    print_run(Console(), finished)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
def validate(spec_file: str) -> None:
    """Check SPEC_FILE without running it; exit 2 listing every problem if it is bad."""
    from podium.spec import load_job

    loaded = load_job(spec_file)
    _warn(loaded.warnings)
    spec = loaded.spec
    click.echo(f"{spec_file}: valid job {spec.name!r} with {len(spec.tasks)} tasks")
