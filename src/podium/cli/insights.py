"""``podium insights ...``: what a job's or a run's history says (expected durations,
ETAs, anomalies, flaky tasks, critical path, suggestions), and applying a suggestion;
in the local $PODIUM_HOME or on a Podium server (``--host``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from podium.cli.backend import LocalBackend, backend, remember_target, remote_options

if TYPE_CHECKING:
    from rich.console import Console

output_option = click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text",
    help="json prints the /api/podium/insights shape.",
)


@click.group()
@remote_options
def insights(ctx: click.Context, host: str | None, token: str | None) -> None:
    """Learn from history: expected durations, anomalies, flaky tasks, critical paths
    and suggestions. Every number says what it is based on.

    JOB is a job's id or its name (runs of `podium run FILE` count towards the job
    named in the file).
    """
    remember_target(ctx, host, token)


def _fetch(what: str, key: str) -> dict[str, Any]:
    """The report on job or run ``key``, from the services or the server's API."""
    target = backend()
    if isinstance(target, LocalBackend):
        from podium.services import insights as service

        if what == "jobs":
            return service.job_insights(target.podium, key, target.actor)
        return service.run_insights(target.podium, int(key), target.actor)
    if what == "jobs":
        return target.client.job_insights(key)
    return target.client.run_insights(int(key))


@insights.command()
@click.argument("job")
@output_option
def job(job: str, output: str) -> None:
    """What the history of JOB says, with the suggestions to apply."""
    report = _fetch("jobs", job)
    if output == "json":
        click.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console

    _print_job(Console(), report)


@insights.command()
@click.argument("run_id", type=int)
@output_option
def run(run_id: int, output: str) -> None:
    """How RUN_ID compares with the runs of its job before it, and its critical path."""
    report = _fetch("runs", str(run_id))
    if output == "json":
        click.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console

    _print_run(Console(), report)


@insights.command()
@click.argument("job")
@click.argument("suggestion_id")
def apply(job: str, suggestion_id: str) -> None:
    """Apply suggestion SUGGESTION_ID (e.g. timeout_seconds:match, as `podium insights
    job JOB` lists it) to JOB's settings."""
    target = backend()
    if isinstance(target, LocalBackend):
        from podium.services.insights import apply_suggestion

        found = apply_suggestion(target.podium, job, suggestion_id, target.actor)
    else:
        found = target.client.apply_suggestion(job, suggestion_id)
    click.echo(f"applied {found['id']}: {found['kind']} = {found['suggested']} "
               f"(was {found['current']})")


# ---- rendering ------------------------------------------------------------------------
def _secs(value: float | None) -> str:
    from podium.insights.stats import seconds_text

    return "" if value is None else seconds_text(value)


def _print_estimate(console: Console, label: str, est: dict[str, Any]) -> None:
    value = (f"{_secs(est['median_seconds'])} (p90 {_secs(est['p90_seconds'])})"
             if est["median_seconds"] is not None else "unknown")
    console.print(f"{label}: [bold]{value}[/bold]  [dim]{est['basis']}[/dim]",
                  highlight=False)


def _print_job(console: Console, report: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"job {report['job_id']} ({report['name']}): "
                  f"{report['runs_considered']} recent runs", highlight=False)
    _print_estimate(console, "expected duration", report["expected_duration"])
    table = Table(title="tasks", title_justify="left")
    for column in ("task", "median", "p90", "p95", "n", "based on"):
        table.add_column(column, overflow="fold")
    for t in report["tasks"]:
        table.add_row(t["subject"], _secs(t["median_seconds"]), _secs(t["p90_seconds"]),
                      _secs(t["p95_seconds"]), str(t["n"]), t["basis"])
    console.print(table)
    for eta in report["etas"]:
        when = eta["expected_end_at"] or eta["expected_start_at"]
        word = "ends" if eta["expected_end_at"] else "starts"
        console.print(f"run {eta['run_id']} {word} ~{when or 'unknown'}  [dim]{eta['basis']}"
                      "[/dim]", highlight=False)
    _print_anomalies(console, report["anomalies"])
    for f in report["flaky_tasks"]:
        console.print(f"[yellow]flaky[/yellow] {f['task_key']}: {f['basis']}", highlight=False)
        for group in f["errors"][:3]:
            console.print(f"  {group['count']}x {group['pattern']}", style="dim",
                          highlight=False)
    if report["expected_critical_path"]:
        _print_path(console, report["expected_critical_path"])
    for s in report["suggestions"]:
        console.print(f"[cyan]suggest[/cyan] {s['kind']} = {s['suggested']} for "
                      f"{s['target']}: {s['reason']}", highlight=False)
        console.print(f"  {s['command']}", style="bold", highlight=False)
    if not report["suggestions"]:
        console.print("no suggestions", style="dim")


def _print_anomalies(console: Console, anomalies: list[dict[str, Any]]) -> None:
    for a in anomalies:
        console.print(f"[red]anomaly[/red] {a['kind']}: {a['evidence']}", highlight=False)
    if not anomalies:
        console.print("no anomalies", style="dim")


def _print_path(console: Console, path: dict[str, Any]) -> None:
    console.print(f"critical path: {path['basis']}", highlight=False)
    for step in path["steps"]:
        shrink = step["useful_shrink_seconds"]
        saves = "not worked out" if shrink is None else _secs(shrink) or "nothing"
        console.print(f"  {step['task_key']}: {_secs(step['seconds'])}; shrinking it saves "
                      f"at most {saves}", highlight=False)


def _print_run(console: Console, report: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"run {report['run_id']} of job {report['job_id']} "
                  f"({report['run_name']})", highlight=False)
    _print_estimate(console, "expected duration", report["expected_duration"])
    if report["eta"]:
        eta = report["eta"]
        console.print(f"expected end: {eta['expected_end_at'] or 'unknown'}  "
                      f"[dim]{eta['basis']}[/dim]", highlight=False)
    table = Table()
    for column in ("task", "took", "usual (median)", "based on"):
        table.add_column(column, overflow="fold")
    for t in report["tasks"]:
        table.add_row(t["task_key"], _secs(t["seconds"]),
                      _secs(t["expected"]["median_seconds"]), t["expected"]["basis"])
    console.print(table)
    if report["critical_path"]:
        _print_path(console, report["critical_path"])
    _print_anomalies(console, report["anomalies"])
