"""``podium secrets ...``: secret scopes and secrets (the Databricks Secrets API), on the
local home or a server. Values go in and never come out: tasks read them through
``{{secrets/<scope>/<key>}}``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from podium.cli.backend import backend, remember_target, remote_options

output_option = click.option("--output", "-o", type=click.Choice(["text", "json"]),
                             default="text", help="json prints the Secrets API shape.")


@click.group()
@remote_options
def secrets(ctx: click.Context, host: str | None, token: str | None) -> None:
    """Manage secret scopes and secrets, locally or on a server."""
    remember_target(ctx, host, token)


@secrets.command("create-scope")
@click.argument("scope")
def create_scope(scope: str) -> None:
    """Create a secret scope (you and admins manage it)."""
    backend().create_scope(scope)
    click.echo(f"created secret scope {scope}")


@secrets.command("list-scopes")
@output_option
def list_scopes(output: str) -> None:
    """List the secret scopes."""
    scopes = backend().list_scopes()
    if output == "json":
        click.echo(json.dumps({"scopes": scopes}, indent=2))
        return
    if not scopes:
        click.echo("no secret scopes yet; make one with `podium secrets create-scope SCOPE`")
    for scope in scopes:
        click.echo(scope["name"])


@secrets.command("delete-scope")
@click.argument("scope")
def delete_scope(scope: str) -> None:
    """Delete a secret scope and every secret in it."""
    backend().delete_scope(scope)
    click.echo(f"deleted secret scope {scope}")


@secrets.command()
@click.argument("scope")
@click.argument("key")
@click.option("--value", default=None,
              help="The secret's value. Without it the value is read from stdin, or asked "
                   "for (hidden) on a terminal; prefer those: a --value shows in `ps` and "
                   "in your shell history.")
def put(scope: str, key: str, value: str | None) -> None:
    """Store (or replace) the secret KEY in SCOPE."""
    if value is None:
        if sys.stdin.isatty():
            value = click.prompt(f"value of {scope}/{key}", hide_input=True,
                                 confirmation_prompt=True, err=True)
        else:
            value = sys.stdin.read()
            if value.endswith("\n") and value.count("\n") == 1:
                value = value[:-1]  # `echo secret |` adds a newline that is not the secret's
    backend().put_secret(scope, key, value)
    click.echo(f"stored secret {scope}/{key}")


@secrets.command("list")
@click.argument("scope")
@output_option
def list_(scope: str, output: str) -> None:
    """List the keys in SCOPE with when each was last set (never the values)."""
    found = backend().list_secrets(scope)
    if output == "json":
        click.echo(json.dumps({"secrets": found}, indent=2))
        return
    if not found:
        click.echo(f"no secrets in {scope} yet; add one with `podium secrets put {scope} KEY`")
    for secret in found:
        when = datetime.fromtimestamp(secret["last_updated_timestamp"] / 1000, UTC)
        click.echo(f"{secret['key']:<32} {when.astimezone().strftime('%Y-%m-%d %H:%M:%S')}")


@secrets.command()
@click.argument("scope")
@click.argument("key")
def delete(scope: str, key: str) -> None:
    """Delete the secret KEY from SCOPE."""
    backend().delete_secret(scope, key)
    click.echo(f"deleted secret {scope}/{key}")
