"""``podium destinations``: where notifications go (webhook destinations and the SMTP
server), as configured in podium.toml / PODIUM_* variables, secrets masked."""

from __future__ import annotations

import json

import click


@click.command()
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              help="json prints the destinations as a document.")
def destinations(output: str) -> None:
    """List the webhook destinations that webhook_notifications name by id, and the SMTP
    server that sends email_notifications; secrets are masked.

    Configure a destination in $PODIUM_HOME/podium.toml:

    \b
        [destinations.ops]
        url = "https://hooks.example.com/podium"
        secret = "..."      # signs X-Podium-Signature (HMAC-SHA256)
        format = "podium"   # or "slack"

    or with PODIUM_DESTINATIONS__OPS=<url> (and PODIUM_DESTINATIONS__OPS__SECRET,
    PODIUM_DESTINATIONS__OPS__FORMAT).
    """
    from podium.notify.config import destinations as configured
    from podium.notify.config import smtp_config
    from podium.settings import load_settings

    settings = load_settings()
    found = [d.masked() for d in configured(settings).values()]
    smtp = smtp_config(settings)
    mail = None if smtp.host is None else {
        "host": smtp.host, "port": smtp.port, "security": smtp.security,
        "username": smtp.username or "", "password": "****" if smtp.password else "",
        "from_address": smtp.from_address,
    }
    if output == "json":
        click.echo(json.dumps({"destinations": found, "smtp": mail}, indent=2))
        return
    if not found:
        click.echo("no webhook destinations; add [destinations.<id>] url = ... to "
                   f"{settings.home / 'podium.toml'} or set PODIUM_DESTINATIONS__<ID>=<url>")
    for d in found:
        secret = "signed" if d["secret"] else "unsigned"
        click.echo(f"{d['id']}\t{d['format']}\t{secret}\t{d['url']}")
    if mail is None:
        click.echo("mail: no SMTP server; set [smtp] host = ... (or PODIUM_SMTP__HOST)")
    else:
        user = f", user {mail['username']}" if mail["username"] else ""
        click.echo(f"mail: {mail['host']}:{mail['port']} ({mail['security']}{user}), "
                   f"from {mail['from_address']}")
