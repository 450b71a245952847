"""``podium jobs ...``: store, list, show, delete and run jobs, and see their versions, in
the local $PODIUM_HOME or on a Podium server (``--host``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from podium.cli.backend import backend, finished_ok, remember_target, remote_options
from podium.cli.main import EXIT_OK, EXIT_RUN_FAILED

output_option = click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text",
    help="json prints the Jobs API shape.",
)


@click.group()
@remote_options
def jobs(ctx: click.Context, host: str | None, token: str | None) -> None:
    """Manage stored jobs (run_job_task runs them by name or id), locally or on a server.

    JOB is a job's id or its name.
    """
    remember_target(ctx, host, token)


@jobs.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
def create(spec_file: str) -> None:
    """Store the job in SPEC_FILE (updating the stored job of the same name) and print
    its job_id."""
    from podium.spec import load_job

    loaded = load_job(spec_file)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(backend().save_job(loaded))


@jobs.command("list")
@output_option
def list_(output: str) -> None:
    """List the stored jobs."""
    page = backend().list_jobs(limit=100)
    found = page["jobs"]
    if output == "json":
        click.echo(json.dumps(page, indent=2))
        return
    if not found:
        click.echo("no jobs yet; store one with `podium jobs create SPEC_FILE`")
    for job in found:
        settings = job["settings"]
        click.echo(f"{job['job_id']:>5}  {settings['name']}  "
                   f"({len(settings.get('tasks', []))} tasks)")
    if page.get("has_more"):
        click.echo("(only the first 100 jobs are listed)")


@jobs.command()
@click.argument("job")
@output_option
def get(job: str, output: str) -> None:
    """Show a job: its settings, tasks and parameters."""
    target = backend()
    found = target.get_job(target.find_job_id(job))
    if output == "json":
        click.echo(json.dumps(found, indent=2))
        return
    settings = found["settings"]
    version = f", version {found['podium_version']}" if "podium_version" in found else ""
    click.echo(f"job {found['job_id']}: {settings['name']}{version}")
    if found.get("creator_user_name"):
        click.echo(f"  created by {found['creator_user_name']} at "
                   f"{_when(found.get('created_time', 0))}")
    for param in settings.get("parameters", []):
        click.echo(f"  parameter {param['name']} = {param.get('default', '')!r}")
    if settings.get("schedule"):
        schedule = settings["schedule"]
        click.echo(f"  schedule {schedule.get('quartz_cron_expression')} "
                   f"({schedule.get('timezone_id', 'UTC')}, "
                   f"{schedule.get('pause_status', 'UNPAUSED')})")
    periodic = (settings.get("trigger") or {}).get("periodic")
    if periodic:
        click.echo(f"  every {periodic['interval']} {periodic['unit'].lower()} "
                   f"({settings['trigger'].get('pause_status', 'UNPAUSED')})")
    if settings.get("continuous") is not None:
        click.echo(f"  continuous ({settings['continuous'].get('pause_status', 'UNPAUSED')})")
    for task in settings.get("tasks", []):
        after = [d["task_key"] for d in task.get("depends_on", [])]
        kind = next((k for k in task if k.endswith("_task")), "task")
        click.echo(f"  task {task['task_key']} ({kind})"
                   + (f" after {', '.join(after)}" if after else ""))


@jobs.command()
@click.argument("job")
def delete(job: str) -> None:
    """Delete a job; its past runs are kept."""
    target = backend()
    job_id = target.find_job_id(job)
    target.delete_job(job_id)
    click.echo(f"deleted job {job_id}")


@jobs.command()
@click.argument("job")
def pause(job: str) -> None:
    """Pause the job's schedule, trigger or continuous runs (a new settings version)."""
    _set_pause(job, "PAUSED")


@jobs.command()
@click.argument("job")
def unpause(job: str) -> None:
    """Unpause the job's schedule, trigger or continuous runs; fire times missed while
    paused are not made up."""
    _set_pause(job, "UNPAUSED")


def _set_pause(job: str, status: str) -> None:
    target = backend()
    job_id = target.find_job_id(job)
    changed = target.set_pause_status(job_id, status)
    click.echo(f"job {job_id}: {', '.join(changed)} {status}")


@jobs.command("run-now")
@click.argument("job")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a job parameter (repeatable); overrides the job's default.")
@click.option("--wait", is_flag=True,
              help="Follow the run to its end (exit 1 if it fails); always so locally.")
@output_option
def run_now(job: str, params: tuple[str, ...], wait: bool, output: str) -> None:
    """Start a run of a stored job and print its run_id.

    On the local home the run executes in this process, so the command waits for it (as
    `podium run` does). On a server it runs there: the command returns at once unless
    --wait is given.
    """
    from podium.cli.run import _show_finished, parse_params

    parameters = parse_params(params)
    target = backend()
    run_id = target.run_now(target.find_job_id(job), parameters)
    if target.remote and not wait:
        click.echo(run_id)
        return
    result = target.wait_run(run_id, output)
    _show_finished(target.get_run(run_id), output)
    raise click.exceptions.Exit(EXIT_OK if finished_ok(result) else EXIT_RUN_FAILED)


@jobs.command()
@click.argument("job")
@click.option("--diff", nargs=2, type=int, metavar="OLD NEW", default=None,
              help="Show what changed from version OLD to version NEW.")
@output_option
def versions(job: str, diff: tuple[int, int] | None, output: str) -> None:
    """List the versions of a job's settings (each create or change makes one)."""
    target = backend()
    job_id = target.find_job_id(job)
    if diff is not None:
        text = target.diff_versions(job_id, *diff)
        if output == "json":
            click.echo(json.dumps({"diff": text}, indent=2))
        else:
            click.echo(text or f"versions {diff[0]} and {diff[1]} have the same settings",
                       nl=not text)
        return
    found = target.job_versions(job_id)
    if output == "json":
        click.echo(json.dumps({"versions": found}, indent=2))
        return
    for version in found:
        click.echo(f"{version['version']:>4}  {_when(version['created_time'])}  "
                   f"{version['change']:<7} {version['created_by']}  "
                   f"({len(_tasks(version))} tasks)")


def _tasks(version: dict[str, Any]) -> list[Any]:
    tasks: list[Any] = version.get("settings", {}).get("tasks", [])
    return tasks


def _when(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
