"""``podium token ...``: make, list and revoke API tokens.

On the local home (no ``--host``) this is how the first token, an admin's, is made.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from podium.cli.backend import backend, remember_target, remote_options


@click.group("token")
@remote_options
def token_group(ctx: click.Context, host: str | None, token: str | None) -> None:
    """Make, list and revoke API tokens (for `podium server` and its clients)."""
    remember_target(ctx, host, token)


@token_group.command()
@click.option("--user", default=None, metavar="NAME",
              help="Whose token (created if new; the first user is an admin)  "
                   "[default: your OS user name]. Local home only.")
@click.option("--comment", default="", help="What the token is for.")
@click.option("--lifetime-seconds", type=click.IntRange(min=1), default=None,
              help="Expire the token after this many seconds  [default: never].")
def create(user: str | None, comment: str, lifetime_seconds: int | None) -> None:
    """Print a new API token (only the token, on stdout: it is shown this once).

    On the local home it is for --user; against a server (--host) for the caller.
    """
    token_id, value = backend().create_token(user, comment, lifetime_seconds)
    click.echo(value)
    click.echo(f"token {token_id} made; it is not shown again", err=True)


@token_group.command("list")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              help="json prints the Token API's token_infos.")
def list_(output: str) -> None:
    """List tokens (an admin sees everyone's), never their text."""
    infos = backend().list_tokens()
    if output == "json":
        click.echo(json.dumps({"token_infos": infos}, indent=2))
        return
    if not infos:
        click.echo("no tokens yet; make one with `podium token create`")
    for info in infos:
        expiry = info.get("expiry_time", -1)
        expires = "never" if not expiry or expiry < 0 else _when(expiry)
        user = info.get("user_name") or info.get("created_by_username") or ""
        click.echo(f"{info['token_id']}  {user:<16} created {_when(info['creation_time'])}  "
                   f"expires {expires}  {info.get('comment', '')}".rstrip())


@token_group.command()
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token: it no longer authenticates."""
    backend().revoke_token(token_id)
    click.echo(f"revoked token {token_id}")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
