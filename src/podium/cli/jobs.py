"""``podium jobs ...``: store job definitions without running them, and list them."""

from __future__ import annotations

import json

import click


@click.group()
def jobs() -> None:
    """Manage the jobs stored in $PODIUM_HOME (run_job_task runs them by name or id)."""


@jobs.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
def create(spec_file: str) -> None:
    """Store the job in SPEC_FILE (updating the stored job of the same name) and print
    its job_id."""
    from podium.services import open_podium, save_job
    from podium.spec import load_job

    loaded = load_job(spec_file)
    for warning in loaded.warnings:
        click.echo(f"warning: {warning}", err=True)
    job_id = save_job(open_podium(), loaded)
    click.echo(job_id)


@jobs.command("list")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              help="json prints the Jobs API jobs/list shape.")
def list_(output: str) -> None:
    """List the stored jobs."""
    from podium.services import list_jobs, open_podium

    found = list_jobs(open_podium())
    if output == "json":
        click.echo(json.dumps({"jobs": found}, indent=2))
        return
    if not found:
        click.echo("no jobs yet; store one with `podium jobs create SPEC_FILE`")
    for job in found:
        settings = job["settings"]
        click.echo(f"{job['job_id']:>5}  {settings['name']}  ({len(settings['tasks'])} tasks)")
