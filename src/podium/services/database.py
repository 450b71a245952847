"""The metadata database's own use-cases: its schema revision, upgrading it, and moving a
home's metadata to another database (SQLite <-> PostgreSQL) through a portable file.

Only the metadata moves: logs and artifacts are files in PODIUM_HOME and stay there, so
a home moved to PostgreSQL keeps its folder and changes only PODIUM_DATABASE_URL.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from podium.errors import Conflict, InvalidArgument
from podium.settings import Settings
from podium.store import HEAD_REVISION, current_revision, make_engine, upgrade
from podium.store.transfer import Progress, export_metadata, file_revision, import_metadata


@dataclass(frozen=True, slots=True)
class Revision:
    """Where a database's schema stands: ``current`` is None for an empty database."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def database_revision(settings: Settings) -> Revision:
    """The schema revision of the settings' database, without upgrading it."""
    engine = make_engine(settings.database_url)
    try:
        return Revision(current_revision(engine), HEAD_REVISION)
    finally:
        engine.dispose()


def upgrade_database(settings: Settings) -> Revision:
    """Bring the settings' database to this Podium's schema; its revision before."""
    engine = make_engine(settings.database_url)
    try:
        before = Revision(current_revision(engine), HEAD_REVISION)
        upgrade(engine)
        return before
    finally:
        engine.dispose()


def export_home(settings: Settings, path: Path, progress: Progress | None = None
                ) -> dict[str, int]:
    """Write the home's metadata to ``path`` (gzip-compressed if it ends in ``.gz``);
    the row count of each table. The file appears only once complete."""
    engine = make_engine(settings.database_url)
    partial = path.with_name(path.name + ".partial")
    try:
        upgrade(engine)  # as every command does: the file has this Podium's schema
        with _open(partial, "w") as out:
            counts = export_metadata(engine, out, progress)
        os.replace(partial, path)
        return counts
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()


def import_home(settings: Settings, path: Path, progress: Progress | None = None
                ) -> dict[str, int]:
    """Load a file made by ``export_home`` into the settings' database, which must be
    empty (it is given the schema if new); the row count of each table.

    Raises:
        InvalidArgument: the file is missing or not a complete export.
        Conflict: the database holds data or is at another schema revision; nothing
            was changed.
    """
    if not path.is_file():
        raise InvalidArgument(f"{path}: no such file; make one with `podium db export`")
    with _open(path, "r") as lines:
        revision = file_revision(lines)
    if revision != HEAD_REVISION:  # refused before the database is touched
        raise Conflict(f"{path} has schema revision {revision}, this Podium {HEAD_REVISION}: "
                       "export it again with this Podium version (it upgrades the source "
                       "home first)")
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)  # a new database gets the schema, as with every command
        with _open(path, "r") as lines:
            return import_metadata(engine, lines, progress)
    finally:
        engine.dispose()


def _open(path: Path, mode: Literal["r", "w"]) -> TextIO:
    zipped = path.name.endswith((".gz", ".gz.partial"))
    if mode == "w":
        if zipped:
            return gzip.open(path, "wt", encoding="utf-8")
        return open(path, "w", encoding="utf-8")
    if zipped:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")
