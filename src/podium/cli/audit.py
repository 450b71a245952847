"""``podium audit``: who created, changed, ran, canceled or deleted what, and when."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from podium.cli.backend import backend, remember_target, remote_options


@click.command()
@remote_options
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="How many events, newest first.")
@click.option("--before-id", type=int, default=None,
              help="Only events older than this event id (to page back).")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              help="json prints the API's {events: [...]}.")
def audit(ctx: click.Context, host: str | None, token: str | None, limit: int,
          before_id: int | None, output: str) -> None:
    """Show the audit log, newest first (admins only), locally or on a server."""
    remember_target(ctx, host, token)
    events = backend().audit_events(limit, before_id)
    if output == "json":
        click.echo(json.dumps({"events": events}, indent=2))
        return
    if not events:
        click.echo("no events")
    for event in events:
        when = datetime.fromtimestamp(event["time"] / 1000, UTC).astimezone()
        detail = " ".join(f"{k}={json.dumps(v)}" for k, v in event.get("detail", {}).items())
        click.echo(f"{event['id']:>6}  {when:%Y-%m-%d %H:%M:%S}  {event['actor']:<20} "
                   f"{event['action']:<8} {event['object_type']} {event['object_id']}  "
                   f"{detail}".rstrip())
