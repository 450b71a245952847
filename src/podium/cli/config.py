"""``podium config show``: the effective settings, secrets masked."""

from __future__ import annotations

import json

import click


@click.group()
def config() -> None:
    """Inspect Podium's settings."""


@config.command("show")
def show() -> None:
    """Print the effective settings (podium.toml + PODIUM_* variables), secrets masked."""
    from podium.settings import load_settings

    click.echo(json.dumps(load_settings().masked(), indent=2))
