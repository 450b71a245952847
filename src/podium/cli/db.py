"""``podium db ...``: the metadata database's schema, and moving a home's metadata between
SQLite and PostgreSQL. Local home only: these act on PODIUM_DATABASE_URL itself."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from podium.settings import Settings


@click.group()
def db() -> None:
    """The metadata database: its schema revision, upgrades, export and import.

    Only the metadata moves with export/import: logs and artifacts are files in
    $PODIUM_HOME and stay where they are. To move a home to PostgreSQL: `podium db export
    FILE`, point PODIUM_DATABASE_URL at a new, empty database, `podium db import FILE`.
    """


def _settings() -> Settings:
    from podium.settings import load_settings

    return load_settings()


def _where(settings: Settings) -> str:
    return str(settings.masked()["database_url"])


@db.command()
def current() -> None:
    """Print the database's schema revision (without upgrading it)."""
    from podium.services.database import database_revision

    revision = database_revision(_settings())
    if revision.current is None:
        click.echo(f"none: no Podium tables yet (`podium db upgrade` makes revision "
                   f"{revision.head})")
    elif revision.is_current:
        click.echo(f"{revision.current} (head)")
    else:
        click.echo(f"{revision.current}; this Podium needs {revision.head}: run "
                   "`podium db upgrade`")


@db.command()
def upgrade() -> None:
    """Bring the database to this Podium's schema (every command and the server also do
    this by themselves; this does it alone, e.g. before several servers start)."""
    from podium.services.database import upgrade_database

    settings = _settings()
    before = upgrade_database(settings)
    if before.is_current:
        click.echo(f"{_where(settings)}: already at revision {before.head}")
    else:
        click.echo(f"{_where(settings)}: upgraded from {before.current or 'empty'} to "
                   f"{before.head}")


@db.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_command(file: Path) -> None:
    """Write every metadata table of the home to FILE (JSON lines; gzip if FILE ends in
    .gz). Logs and artifacts stay in the home and are not in FILE."""
    from podium.services.database import export_home

    settings = _settings()
    with _RichProgress("exporting") as progress:
        counts = export_home(settings, file, progress)
    click.echo(f"exported {sum(counts.values())} rows of {len(counts)} tables from "
               f"{_where(settings)} to {file}")


@db.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Load FILE (from `podium db export`) into the database of PODIUM_DATABASE_URL,
    which must be empty, in one transaction. Run it with the same PODIUM_HOME (logs and
    artifacts are there) and stop the home's servers first."""
    from podium.services.database import import_home

    settings = _settings()
    with _RichProgress("importing") as progress:
        counts = import_home(settings, file, progress)
    click.echo(f"imported {sum(counts.values())} rows of {len(counts)} tables into "
               f"{_where(settings)}")


class _RichProgress:
    """A progress bar per table on stderr (stdout stays for the summary); silent when
    stderr is not a terminal, as Rich is."""

    def __init__(self, verb: str) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.verb = verb
        self.bar: RichProgress = Progress(console=Console(stderr=True), transient=True)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _RichProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def start(self, totals: dict[str, int]) -> None:
        # Only tables with rows get a bar: a home has a dozen tables, most of them small.
        self.tasks = {name: self.bar.add_task(f"{self.verb} {name}", total=n)
                      for name, n in totals.items() if n}

    def advance(self, table: str, rows: int) -> None:
        if table in self.tasks:
            self.bar.advance(self.tasks[table], rows)
